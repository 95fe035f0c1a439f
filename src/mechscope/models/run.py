"""Stopping a forward pass early: `run_until`, the one place it is done.

TransformerLens can stop between blocks (``stop_at_layer``), but not inside one, e.g. right
after the last layer's attention pattern when nothing later is needed. `run_until` runs the
model with the given hooks and ends the pass as soon as ``stop_at`` (a hook point) has fired
and every hook on it has run. The hooks are removed on every exit path.
"""

from collections.abc import Callable, Sequence
from typing import Any

import einops
import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens.hook_points import HookPoint

from mechscope.core.axes import Patterns
from mechscope.core.batch import ImageBatch, TokenBatch
from mechscope.core.errors import MechscopeError
from mechscope.core.sites import Component, hook_name, hook_names
from mechscope.models.adapter import adapt
from mechscope.models.base import Decoder, Model
from mechscope.models.tokens import Inputs, as_batch, forward_kwargs

Hook = Callable[[Tensor, HookPoint], Tensor | None]


class _Stop(Exception):  # noqa: N818 - raised and caught here only, never seen by callers
    """Ends the pass once the stopping hook point has fired."""


def run_until(
    model: Model,
    tokens: Tensor,
    stop_at: str,
    fwd_hooks: Sequence[tuple[str, Hook]] = (),
    **forward_kwargs: Any,  # noqa: ANN401 - TransformerLens forward arguments
) -> bool:
    """Run ``model`` on ``tokens`` with ``fwd_hooks`` until hook point ``stop_at`` has fired.

    Returns whether the pass stopped there (False if ``stop_at`` never fired, i.e. the pass
    ran to the end). Nothing is returned from the pass itself: read what you need in hooks.

    Raises:
        KeyError: ``stop_at`` is not a hook point of the model.
    """
    if stop_at not in model.hook_dict:
        raise KeyError(f"{stop_at!r} is not a hook point of this model")

    def stop(act: Tensor, hook: HookPoint) -> None:  # noqa: ARG001
        raise _Stop

    hooks = [*fwd_hooks, (stop_at, stop)]  # after the caller's hooks on the same point
    try:
        with model.hooks(fwd_hooks=hooks):  # pyright: ignore[reportArgumentType]
            model(tokens, return_type=None, **forward_kwargs)
    except _Stop:
        return True
    return False


def keyed_hooks(
    names: Sequence[str], fn: Callable[[Tensor, str], Tensor | None]
) -> list[tuple[str, Hook]]:
    """A hook on each of ``names`` that calls ``fn(act, name)`` with the name it is on.

    Hooks that key what they read by name take it from here, not from ``hook.name``: the
    Bridge registers an alias (``blocks.0.hook_resid_pre``) on its own hook point
    (``blocks.0.hook_in``), whose ``hook.name`` is the latter. A hook that keeps an
    activation for its gradient should return it: the Bridge goes on from a returned tensor,
    otherwise from the one it reshaped into ``act``.
    """

    def bound(name: str) -> Hook:
        def hook(act: Tensor, hook: HookPoint) -> Tensor | None:  # noqa: ARG001
            return fn(act, name)

        return hook

    return [(name, bound(name)) for name in names]


def keep_for_gradient(kept: dict[str, Tensor]) -> Callable[[Tensor, str], Tensor]:
    """A `keyed_hooks` function keeping each activation, by name, to take a gradient to it.

    It keeps and returns a fresh view of the activation, so the pass goes on from it and its
    gradient is this hook's branch alone. On the Bridge the tensor a hook sees can flow on
    elsewhere too (its ``hook_mlp_in`` is the stream the skip connection also carries), so
    a gradient to the tensor itself would count both; HookedTransformer hands a hook a copy.
    """

    def keep(act: Tensor, name: str) -> Tensor:
        kept[name] = act.view_as(act)
        return kept[name]

    return keep


def boundary_labels(n_layers: int) -> tuple[str, ...]:
    """The one name of each boundary: ``embeddings``, ``after block 0``, ... (after the last).

    Boundary ``b`` is the stream entering block ``b`` (`target_hook`); results, tables and
    figures number and name boundaries this way (Tenney et al.'s and Hewitt & Manning's
    "layer b").
    """
    return ("embeddings", *(f"after block {layer}" for layer in range(n_layers)))


def target_hook(model: Model, layer: int) -> str:
    """The hook holding the stream entering block ``layer`` (``n_layers``: after the last)."""
    n_layers = model.cfg.n_layers
    if not 0 <= layer <= n_layers:
        raise MechscopeError(f"layer {layer} is outside 0..{n_layers} (n_layers = after the last).")
    if layer < n_layers:
        return hook_name(Component.RESID_PRE, layer)
    last = n_layers - 1
    post = Component.NORMALIZED_RESID_POST if adapt(model).post_norm else Component.RESID_POST
    return hook_name(post, last)


def _cached(model: Model, batch: TokenBatch | ImageBatch, names: Sequence[str]) -> Any:  # noqa: ANN401
    """One pass of ``batch`` caching only ``names``."""
    _, cache = model.run_with_cache(
        batch.inputs, names_filter=list(names), return_type=None, **forward_kwargs(model, batch)
    )
    return cache


def _boundary_names(model: Model) -> list[str]:
    return [target_hook(model, layer) for layer in range(model.cfg.n_layers + 1)]


def _masked_patterns(cache: Any, names: Sequence[str], attention_mask: Tensor) -> Patterns:  # noqa: ANN401
    """Every layer's pattern, stacked, with the rows and columns of padding zeroed."""
    patterns = torch.stack([cache[name] for name in names], dim=1)
    real = attention_mask.bool().to(patterns.device)
    pair = einops.rearrange(real, "b d -> b 1 1 d 1") & einops.rearrange(real, "b s -> b 1 1 1 s")
    return patterns * pair


@torch.no_grad()
def boundary_stream(model: Model, tokens: Inputs) -> Float[Tensor, "boundary batch pos d_model"]:
    """The stream entering every block and after the last (`target_hook`), in one pass.

    ``tokens``: any `mechscope.models.tokens.Inputs` (prompts, token ids, a batch, images).
    """
    names = _boundary_names(model)
    cache = _cached(model, as_batch(model, tokens), names)
    return torch.stack([cache[name] for name in names])


@torch.no_grad()
def attention_patterns(model: Model, batch: Inputs) -> Patterns:
    """Run ``batch`` once, caching only ``hook_pattern``, and stack every layer's pattern.

    ``batch``: any `mechscope.models.tokens.Inputs` (prompts, token ids, a batch, images).
    """
    batch = as_batch(model, batch)
    names = hook_names(Component.PATTERN, model.cfg.n_layers)
    return _masked_patterns(_cached(model, batch, names), names, batch.attention_mask)


@torch.no_grad()
def stream_and_patterns(
    model: Model, tokens: Inputs
) -> tuple[Float[Tensor, "boundary batch pos d_model"], Patterns]:
    """`boundary_stream` and `attention_patterns` from one pass."""
    batch = as_batch(model, tokens)
    streams, patterns = _boundary_names(model), hook_names(Component.PATTERN, model.cfg.n_layers)
    cache = _cached(model, batch, [*streams, *patterns])
    return (torch.stack([cache[name] for name in streams]),
            _masked_patterns(cache, patterns, batch.attention_mask))  # fmt: skip


READOUT_ROWS = 256
"""Rows a decoder's readout is best done over at once: with fewer the unembedding's matrix
product is bound by reading ``W_U`` (measured on SmolLM2, 2-core CPU: 1.24 ms a row at 16
rows, 0.50 at 128, 0.45 at 256 and 512)."""


def readout_groups(n: int, rows: int) -> list[slice]:
    """Slices of ``n`` residuals (boundaries) of ``rows`` rows each, to read out together.

    Each slice holds about `READOUT_ROWS` rows: one matrix product per slice, and its logits
    (``rows * d_vocab`` floats per residual) stay that size in memory.
    """
    step = max(1, READOUT_ROWS // max(rows, 1))
    return [slice(start, min(start + step, n)) for start in range(0, n, step)]


def readout(model: Model, resid: Float[Tensor, "... d_model"]) -> Float[Tensor, "... d_vocab"]:
    """What the model's head reads from a residual stream, as it reads its output.

    A ViT: the class logits from [CLS] (``resid`` is ``batch pos d_model``, the result
    ``batch d_vocab``). A decoder: its final LayerNorm (none for models without one) and
    unembedding at every position.

    The unembedding is applied as ``x @ W_U + b_U`` rather than through ``model.unembed``:
    TransformerLens 3.9's Unembed copies ``W_U.T`` on every call (113 MB for SmolLM2), which
    made each of a lens's 31 readouts per batch several times slower on a CPU. On the final
    residual this gives the model's logits.
    """
    adapter = adapt(model)
    if adapter.takes_images:
        return adapter.vision("reading the stream out").classify(resid)
    decoder = adapter.decoder("reading the stream out")
    normalised = decoder.ln_final(resid) if hasattr(decoder, "ln_final") else resid
    return _softcap(decoder, normalised @ decoder.unembed.W_U + decoder.unembed.b_U)


def readout_columns(
    model: Model, resid: Float[Tensor, "rows d_model"], columns: Int[Tensor, "rows k"]
) -> Float[Tensor, "rows k"]:
    """`readout` of a decoder at a few vocabulary entries per row: ``columns[r]`` of row ``r``.

    ``x @ W_U[:, columns] + b_U[columns]``: ``k`` dot products a row instead of the whole
    vocabulary's (a logit difference reads two of GPT-2's 50,257 logits).
    """
    decoder = adapt(model).decoder("reading the stream out")
    normalised = decoder.ln_final(resid) if hasattr(decoder, "ln_final") else resid
    unembed = decoder.unembed
    columns = columns.to(normalised.device)
    weights = unembed.W_U.T[columns]  # [rows, k, d_model]
    logits = (weights @ normalised[..., None].to(weights)).squeeze(-1) + unembed.b_U[columns]
    return _softcap(decoder, logits)


def _softcap(decoder: Decoder, logits: Tensor) -> Tensor:
    """The model's final logit soft-cap, ``cap * tanh(logits / cap)`` (Gemma 2), if it has one."""
    cap = getattr(decoder.cfg, "output_logits_soft_cap", None)
    return logits if cap is None or cap <= 0 else cap * torch.tanh(logits / cap)
