"""`detect_heads`: every kind for every head, from one batched forward pass per chunk.

The model runs once per chunk of rows with a hook on each layer's ``hook_pattern`` that
scores the pattern on the spot and keeps only ``[batch, head]`` numbers per kind, so no
activation is cached at all. Rows are grouped by length into chunks whose estimated
activation memory stays within ``memory_budget_mb`` (`core.batch.budget_chunks`), so peak
memory is bounded whatever the number of prompts and no prompt is padded to a much longer
one; padding is masked in every score. The induction kind is scored on repeated random
tokens (``start r r``) added to the rows. The no-op kind needs the
gradient of the loss with respect to every pattern: then the same forward pass keeps the
patterns in the autograd graph and one ``torch.autograd.grad`` call reads them (no
parameter ``.grad`` is touched).
"""

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import einops
import torch
from jaxtyping import Float
from torch import Tensor
from tqdm.auto import tqdm
from transformer_lens.hook_points import HookPoint

from mechscope.core.batch import (
    TokenBatch,
    budget_chunks,
    first_real_positions,
    pad_token_lists,
)
from mechscope.core.errors import MechscopeError
from mechscope.core.metrics import masked_loss
from mechscope.core.results import Provenance
from mechscope.core.sites import Component, Site
from mechscope.data.repeated import repeated_random_tokens
from mechscope.heads.kinds import HeadKind
from mechscope.heads.scores import HeadScores
from mechscope.heads.settings import DetectionSettings
from mechscope.heads.targets import (
    NONLINEAR_KINDS,
    BatchContext,
    linear_scores,
    linear_weights,
    no_op_ratio,
    statistic_scores,
)
from mechscope.models.adapter import adapt, model_spec
from mechscope.models.base import Model
from mechscope.models.run import run_until
from mechscope.models.tokens import (
    TOKEN_INPUTS,
    as_token_batch,
    check_fits,
    forward_kwargs,
    pad_id,
    token_lists_of,
)
from mechscope.models.vocab import ordinary_ids, punctuation_table

DEFAULT_HALF_LENGTH = 32


def prompt_rows(
    model: Model, prompts: Sequence[str] | Sequence[Sequence[int]] | TokenBatch | Tensor
) -> list[list[int]]:
    """The prompts as unpadded token-id rows: texts tokenised, token lists kept as they are.

    Raises:
        MechscopeError: no prompts, or a prompt longer than the model's context.
    """
    if isinstance(prompts, Tensor):
        prompts = as_token_batch(model, prompts)
    if isinstance(prompts, TokenBatch):
        rows = [prompts.unpadded(i).tolist() for i in range(prompts.tokens.shape[0])]
    elif isinstance(prompts, str):
        rows = token_lists_of(model, [prompts])
    elif prompts and all(isinstance(p, str) for p in prompts):
        rows = token_lists_of(model, prompts)  # pyright: ignore[reportArgumentType]
    else:
        try:
            rows = [[int(t) for t in row] for row in prompts]  # pyright: ignore[reportGeneralTypeIssues]
        except (TypeError, ValueError):
            raise MechscopeError(f"prompts must be {TOKEN_INPUTS}; got {prompts!r:.60}.") from None
    if not rows:
        raise MechscopeError("no prompts given; pass at least one prompt (or a prompts file).")
    check_fits(model, pad_token_lists(rows, pad_id(model)))
    return rows


def repeated_rows(model: Model, settings: DetectionSettings) -> list[list[int]]:
    """``start r r`` rows of random ordinary tokens for the induction kind."""
    half = settings.induction_half_length or min(DEFAULT_HALF_LENGTH, (model.cfg.n_ctx - 1) // 2)
    if half < 2 or 2 * half + 1 > model.cfg.n_ctx:
        raise MechscopeError(
            f"induction_half_length={half} does not fit: need 2 <= half and 2 * half + 1 <= "
            f"n_ctx ({model.cfg.n_ctx})."
        )
    rows = repeated_random_tokens(
        settings.induction_rows,
        half,
        ordinary_ids(model),
        adapt(model).start_id,
        seed=settings.seed,
    )
    return rows.tolist()


def _context(
    model: Model, batch: TokenBatch, punctuation: Tensor, separators: list[int]
) -> BatchContext:
    """The masks of one batch: real tokens, first tokens, separators, punctuation."""
    real = batch.attention_mask.bool()
    first = torch.zeros_like(real)
    first[torch.arange(real.shape[0]), first_real_positions(real)] = True
    tokens = batch.tokens
    separator = torch.isin(tokens, torch.tensor(separators, dtype=tokens.dtype)) & real & ~first
    return BatchContext(
        tokens=tokens,
        real=real,
        first=first,
        separator=separator,
        punctuation=punctuation.to(tokens.device)[tokens.clamp(0, len(punctuation) - 1)] & real,
        causal=adapt(model).causal,
    )


def _objective(batch: TokenBatch, final_resid: Tensor, logits: Tensor | None, seed: int) -> Tensor:
    """Next-token loss (decoders with an unembedding) or a random projection of the output."""
    if logits is not None:  # (the no-op ratio does not depend on the loss's scale)
        return masked_loss(logits, batch.tokens, batch.attention_mask)
    # One fixed direction for every real position: a prompt's objective (and so its no-op
    # ratio) does not depend on the batch it shares or on padding.
    mask = batch.attention_mask.to(final_resid.dtype)
    generator = torch.Generator().manual_seed(seed)
    direction = torch.randn(final_resid.shape[-1], generator=generator).to(final_resid)
    return ((final_resid @ direction) * mask).sum()


@runtime_checkable
class PatternConsumer(Protocol):
    """Anything else that reads each layer's patterns during `detect_heads`'s pass.

    ``consume(layer, pattern, rows)`` gets the patterns of one chunk, whose batch row ``b``
    is row ``rows[b]`` of the whole row list (the prompts, then any induction rows); e.g.
    `mechscope.heads.syntax.DependencyAccumulator`.
    """

    def consume(self, layer: int, pattern: Tensor, rows: Tensor) -> None:
        """Read one layer's patterns of one chunk."""
        ...


def _uses_logits(model: Model, kinds: Sequence[HeadKind]) -> bool:
    """Whether the pass computes logits (the no-op kind's loss on a decoder)."""
    adapter = adapt(model)
    needs = any(kind.needs_gradient for kind in kinds)
    return needs and adapter.causal and adapter.has_unembedding


def row_bytes(model: Model, kinds: Sequence[HeadKind], length: int) -> int:
    """Estimated activation memory of one row of ``length`` positions in `score_batch`.

    Without the no-op kind one layer's attention is alive at a time (scores, pattern,
    masked copies and the per-kind weights); with it every layer's attention and
    activations stay in the autograd graph, and a decoder's logits with their gradient.
    Measured against peak RSS in ``benchmarks/bench_heads_memory.py``.
    """
    cfg = model.cfg
    attention = cfg.n_heads * length * length * 4
    stream = length * cfg.d_model * 4
    weights = length * length * len(kinds) * 4
    if any(kind.needs_gradient for kind in kinds):
        logits = length * cfg.d_vocab * 4 * 3 if _uses_logits(model, kinds) else 0
        return cfg.n_layers * (10 * attention + 40 * stream) + weights + logits
    return 4 * attention + 8 * stream + weights


def score_batch(
    model: Model,
    batch: TokenBatch,
    kinds: Sequence[HeadKind],
    settings: DetectionSettings,
    punctuation: Tensor,
    separators: list[int],
    consumers: Sequence[PatternConsumer] = (),
    rows: Tensor | None = None,
) -> Float[Tensor, "kind batch layer head"]:
    """Every kind for every head on one batch (row indices ``rows``), from one forward pass."""
    rows = torch.arange(batch.tokens.shape[0]) if rows is None else rows
    ctx = _context(model, batch, punctuation, separators)
    linear = linear_weights(
        kinds,
        ctx,
        window=settings.window,
        normalisation=settings.normalisation,
        exclude_first=settings.exclude_first,
        exclude_current=settings.exclude_current,
    )
    linear_rows = [list(kinds).index(k) for k in linear.kinds]
    nonlinear = [k for k in kinds if k in NONLINEAR_KINDS]
    nonlinear_rows = [list(kinds).index(k) for k in nonlinear]
    n_layers = model.cfg.n_layers
    out = torch.full((len(kinds), batch.tokens.shape[0], n_layers, model.cfg.n_heads), torch.nan)
    kept_patterns: dict[int, Tensor] = {}
    captured: dict[str, Tensor] = {}
    want_grad = any(kind.needs_gradient for kind in kinds)

    def pattern_hook(layer: int):  # noqa: ANN202 - a TransformerLens hook closure
        def hook(pattern: Float[Tensor, "batch head dest_pos src_pos"], hook: HookPoint) -> None:  # noqa: ARG001
            if want_grad:
                kept_patterns[layer] = pattern
            # Padding columns are already 0 (masked keys); padding rows get weight 0 below.
            p = pattern.detach()
            if linear_rows:
                scores = linear_scores(p, linear, ctx).float().cpu()
                out[linear_rows, :, layer] = einops.rearrange(scores, "b h k -> k b h")
            if nonlinear:
                scores = statistic_scores(nonlinear, p, ctx).float().cpu()
                out[nonlinear_rows, :, layer] = einops.rearrange(scores, "b h k -> k b h")
            for consumer in consumers:
                consumer.consume(layer, p, rows)

        return hook

    def capture(pattern: Tensor, hook: HookPoint) -> None:  # noqa: ARG001
        captured["resid"] = pattern  # the final residual stream (same hook signature)

    fwd_hooks = [
        (Site(Component.PATTERN, layer).hook_name, pattern_hook(layer)) for layer in range(n_layers)
    ]
    if want_grad:
        fwd_hooks.append((Site(Component.RESID_POST, n_layers - 1).hook_name, capture))
    use_logits = _uses_logits(model, kinds)
    kwargs = forward_kwargs(model, batch)
    result = None
    if want_grad:
        with model.hooks(fwd_hooks=fwd_hooks), torch.enable_grad():  # pyright: ignore[reportArgumentType]
            result = model(batch.tokens, return_type="logits" if use_logits else None, **kwargs)
    else:  # nothing after the last layer's pattern is needed
        last = Site(Component.PATTERN, n_layers - 1).hook_name
        with torch.no_grad():
            run_until(model, batch.tokens, last, fwd_hooks, **kwargs)
    if want_grad:
        objective = _objective(
            batch, captured["resid"], result if use_logits else None, settings.seed
        )
        layers = sorted(kept_patterns)
        grads = torch.autograd.grad(objective, [kept_patterns[layer] for layer in layers])
        index = list(kinds).index(HeadKind.NO_OP)
        for layer, grad in zip(layers, grads, strict=True):
            out[index, :, layer] = no_op_ratio(grad.detach(), ctx).float().cpu()
    return out


def detect_heads(
    model: Model,
    prompts: Sequence[str] | Sequence[Sequence[int]] | TokenBatch | Tensor,
    kinds: Sequence[HeadKind | str] | str = "all",
    settings: DetectionSettings | None = None,
    *,
    consumers: Sequence[PatternConsumer] = (),
    progress: bool = True,
) -> HeadScores:
    """Score every head of ``model`` for each of ``kinds`` on ``prompts``.

    Args:
        model: a HookedTransformer or HookedEncoder.
        prompts: texts, unpadded token-id lists (used as they are), or a TokenBatch.
        kinds: HeadKinds or their names (``"all"``, ``"induction,previous-token"``).
        settings: windows, normalisation, exclusions, batching (`DetectionSettings`).
        consumers: more readers of the same patterns (e.g. a `DependencyAccumulator` over
            the same sentences), so they need no forward pass of their own.
        progress: show a progress bar over chunks.

    Raises:
        MechscopeError: no prompts, a prompt over n_ctx, unknown kinds, or a kind the model
            cannot be scored on (punctuation/separators without a tokenizer).
    """
    settings = settings or DetectionSettings()
    try:
        chosen = HeadKind.parse(kinds)
    except ValueError as error:
        raise MechscopeError(str(error)) from None
    if annotated := [k.value for k in chosen if k.needs_annotation]:
        raise MechscopeError(
            f"{', '.join(annotated)} heads are scored on annotated mentions, not prompts: use "
            "heads.coreference_scores (on the CLI: --coref FILE.conllu) and drop them from kinds="
        )
    if model.tokenizer is None and {HeadKind.PUNCTUATION, HeadKind.SEPARATOR} & set(chosen):
        raise MechscopeError(
            "punctuation and separator kinds need the model's tokenizer; drop them from kinds="
        )
    rows = prompt_rows(model, prompts)
    n_prompts = len(rows)
    if HeadKind.INDUCTION in chosen:
        rows += repeated_rows(model, settings)
    punctuation = (
        punctuation_table(model)
        if HeadKind.PUNCTUATION in chosen
        else torch.zeros(1, dtype=torch.bool)
    )
    separators = adapt(model).sink_ids
    budget = settings.memory_budget_mb
    # The prompts and the induction rows are chunked apart, so no prompt is padded to them.
    chunks = [
        [first + i for i in chunk]
        for first, part in ((0, rows[:n_prompts]), (n_prompts, rows[n_prompts:]))
        for chunk in budget_chunks(
            [len(row) for row in part],
            settings.batch_size,
            lambda length: row_bytes(model, chosen, length),
            None if budget is None else budget * 2**20,
        )
    ]
    device = model.cfg.device or "cpu"
    shape = (len(chosen), len(rows), model.cfg.n_layers, model.cfg.n_heads)
    per_prompt = torch.full(shape, torch.nan)
    for chunk in tqdm(chunks, desc="detect_heads", disable=not progress):
        index = torch.tensor(chunk)
        batch = pad_token_lists([rows[i] for i in chunk], pad_id(model)).to(device)
        # The repeated rows are read for induction only: no backward pass for the no-op kind
        # there (with every kind on 64 prompts of 31 tokens, their 8 rows of 65 were a fifth
        # of the tokens the no-op kind's backward ran through)
        here = [k for k in chosen if not (chunk[0] >= n_prompts and k.needs_gradient)]
        at = [chosen.index(k) for k in here]
        per_prompt[torch.tensor(at)[:, None], index] = score_batch(
            model, batch, here, settings, punctuation, separators, consumers, index
        )
    # Induction is scored only on the repeated rows, every other kind only on the prompts.
    for i, kind in enumerate(chosen):
        if kind is HeadKind.INDUCTION:
            per_prompt[i, :n_prompts] = torch.nan
        else:
            per_prompt[i, n_prompts:] = torch.nan
    return HeadScores(
        kinds=tuple(chosen),
        per_prompt=per_prompt,
        n_prompts=n_prompts,
        provenance=Provenance(config=settings.to_json(), model=model_spec(model)),
    )
