"""Gradient norms per layer and component for one batch, with vanishing/exploding flags.

Every parameter's gradient is assigned to a layer (``blocks.L.`` ...; embeddings before the
first block, the unembedding and final norm after the last) and a component (attention, MLP,
norm, embedding, unembedding); the norm of a group is the L2 norm of all its gradients
together. Flags compare the first block with the last: ``first / last`` below
`VANISHING_BELOW` says the gradient vanishes on its way down, above `EXPLODING_ABOVE` that it
grows on its way down (the post-LN pattern of Xiong et al. 2020 is the opposite: larger near
the output); a block norm above `EXPLODING_NORM` is flagged as exploding in any case.
"""

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
from jaxtyping import Float
from torch import Tensor

from mechscope.core.batch import TokenBatch
from mechscope.core.errors import MechscopeError
from mechscope.core.metrics import masked_loss, predicted_mask
from mechscope.core.results import Provenance, Result
from mechscope.models.adapter import adapt, model_spec
from mechscope.models.base import Model, parameters_requiring_grad
from mechscope.models.bridge import is_bridge

VANISHING_BELOW = 1e-2
"""First-block / last-block gradient norm below which the gradient is flagged as vanishing."""
EXPLODING_ABOVE = 1e2
"""First-block / last-block gradient norm above which it is flagged as exploding."""
EXPLODING_NORM = 1e3
"""A block gradient norm above which (or a non-finite one) the gradient is flagged as
exploding whatever the ratio: a model whose every block explodes alike has a ratio near 1."""
COMPONENTS = ("attn", "mlp", "norm", "embed", "unembed")
HISTOGRAM_EDGES = tuple(float(e) for e in range(-12, 3))
"""log10 |gradient| bin edges of the per-block histograms (values outside go to the ends)."""


HISTOGRAM_SLICE = 1 << 22
"""Gradient entries binned at a time (4M: 32 MB in float64)."""


def component_of(name: str) -> tuple[int | None, str]:
    """(layer or None, component) of a parameter name."""
    match = re.match(r"blocks\.(\d+)\.(\w+)", name)
    if match:
        part = match.group(2)
        kind = "attn" if part.startswith("attn") else "mlp" if part.startswith("mlp") else "norm"
        return int(match.group(1)), kind
    if name.startswith(("embed", "pos_embed", "hook_embed")):
        return None, "embed"
    if name.startswith(("ln_final", "mlm_head.ln")):
        return None, "norm"
    return None, "unembed"


def block_parameter_names(model: Model) -> list[tuple[str, torch.nn.Parameter]]:
    """Every parameter with a name `component_of` reads (``blocks.L.attn...``, ``embed...``).

    HookedTransformer's own names are those; the Bridge's are the Hugging Face model's
    (``transformer.h.0.attn.c_attn.weight``), so its parameters are named here by the Bridge
    component that holds them (``blocks[L]``, ``embed``, ``ln_final``, ``unembed``) and, inside
    a block, by what their Hugging Face name says they are (a norm, attention, the MLP).
    """
    if not is_bridge(model):
        return list(model.named_parameters())
    named: dict[int, tuple[str, torch.nn.Parameter]] = {}
    for layer, block in enumerate(model.blocks):
        for name, param in block.named_parameters():
            lowered = name.lower()
            if "norm" in lowered or "ln_" in lowered or ".ln" in lowered:
                kind = "ln"
            else:
                kind = "attn" if "attn" in lowered or "attention" in lowered else "mlp"
            named.setdefault(id(param), (f"blocks.{layer}.{kind}.{name}", param))
    for part in ("embed", "pos_embed", "ln_final", "unembed"):
        module = getattr(model, part, None)
        if isinstance(module, torch.nn.Module):
            for name, param in module.named_parameters():
                named.setdefault(id(param), (f"{part}.{name}", param))
    return list(named.values())


def grouped_norms(
    grads: dict[str, Tensor], n_layers: int
) -> tuple[Float[Tensor, "layer component"], dict[str, float]]:
    """Per-block, per-component gradient norms, and the norms outside the blocks."""
    squares = torch.zeros(n_layers, len(COMPONENTS), dtype=torch.float64)
    outside: dict[str, float] = {}
    for name, grad in grads.items():
        layer, component = component_of(name)
        value = float(grad.double().pow(2).sum())
        if layer is None:
            outside[component] = outside.get(component, 0.0) + value
        else:
            squares[layer, COMPONENTS.index(component)] += value
    return squares.sqrt().float(), {k: v**0.5 for k, v in outside.items()}


def gradient_flags(per_layer: Float[Tensor, " layer"]) -> list[str]:
    """The flags of per-block gradient norms: 'vanishing', 'exploding', or none.

    'exploding' when a block's norm passes `EXPLODING_NORM` (or is not finite), else either
    flag when the first/last ratio crosses its bound.
    """
    if not bool(per_layer.isfinite().all()) or float(per_layer.max()) > EXPLODING_NORM:
        return ["exploding"]
    ratio = float(per_layer[0] / per_layer[-1].clamp(min=1e-30))
    if ratio < VANISHING_BELOW:
        return ["vanishing"]
    return ["exploding"] if ratio > EXPLODING_ABOVE else []


@dataclass(frozen=True)
class GradientNorms(Result):
    """Gradient norms per block and component for one batch, plus those outside the blocks."""

    kind: ClassVar[str] = "gradient-norms"
    norms: Float[Tensor, "layer component"]
    outside: dict[str, float]
    loss: float
    histogram: Float[Tensor, "layer bin"] | None = None
    """Per block, the fraction of its gradient entries in each `HISTOGRAM_EDGES` bin of
    log10 |g| (exact zeros in the lowest bin)."""

    @property
    def per_layer(self) -> Float[Tensor, " layer"]:
        """Each block's gradient norm (all its components together)."""
        return self.norms.pow(2).sum(-1).sqrt()

    def ratio(self) -> float:
        """First block's gradient norm / last block's."""
        per_layer = self.per_layer
        return float(per_layer[0] / per_layer[-1].clamp(min=1e-30))

    def flags(self) -> list[str]:
        """The gradient's flags (`gradient_flags` of the per-block norms)."""
        return gradient_flags(self.per_layer)

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per block: each component's gradient norm."""
        import pandas as pd

        return pd.DataFrame(self.norms.tolist(), columns=list(COMPONENTS))


def mean_next_token_loss(model: Model, batch: TokenBatch) -> Tensor:
    """Mean next-token cross-entropy over real positions (the default loss)."""
    adapter = adapt(model)
    adapter.require_unembedding("next-token gradient norms")
    logits = model(batch.tokens, **adapter.forward_kwargs(batch))
    return masked_loss(logits, batch.tokens, batch.attention_mask)


@dataclass(frozen=True)
class GradientSum:
    """A batch's loss gradients by parameter name (`block_parameter_names`), before norms.

    ``tokens``: the predicted tokens the default loss averages over; ``combined`` weights
    parts by them, so the gradients of a corpus in parts (shards on workers) add up to the
    whole corpus's mean-loss gradients, as data-parallel training's all-reduce does.
    """

    grads: dict[str, Tensor]
    loss: float
    tokens: int
    n_layers: int

    @staticmethod
    def combined(parts: "Sequence[GradientSum]") -> "GradientSum":
        """The parts' token-weighted mean: the default loss's gradients over all their tokens.

        Raises:
            MechscopeError: no part has a next-token prediction.
        """
        total = sum(part.tokens for part in parts)
        if total == 0:
            raise MechscopeError("no next-token predictions to take gradients of: every "
                                 "prompt is a single token; give longer prompts.")  # fmt: skip
        grads = {}
        for name, grad in parts[0].grads.items():
            grads[name] = grad * (parts[0].tokens / total)
            for part in parts[1:]:
                grads[name].add_(part.grads[name], alpha=part.tokens / total)
        loss = sum(part.loss * part.tokens for part in parts) / total
        return GradientSum(grads, loss, total, parts[0].n_layers)

    def norms(self, provenance: Provenance | None = None) -> GradientNorms:
        """The norms per block and component, the histograms, and the loss."""
        norms, outside = grouped_norms(self.grads, self.n_layers)
        return GradientNorms(norms, outside, self.loss,
                             gradient_histogram(self.grads, self.n_layers),
                             provenance=provenance or Provenance())  # fmt: skip


def summed_gradients(
    model: Model,
    batch: TokenBatch,
    loss_fn: Callable[[Model, TokenBatch], Tensor] = mean_next_token_loss,
    *,
    max_rows: int = 4,
) -> GradientSum:
    """The gradients of ``loss_fn`` on ``batch`` (the model's own gradients are restored).

    With the default loss the backward runs ``max_rows`` prompts at a time, each chunk's
    loss weighted by its share of the predicted tokens, so the gradients add up to the whole
    batch's (the same up to float rounding) while memory stays that of ``max_rows`` prompts
    (SmolLM2's backward holds about 120 MB per prompt of 62 tokens here: 64 UD sentences took
    1.06 GB at 4 prompts a chunk, against 13.8 GB for the whole `diagnose` run in one pass).
    Any other ``loss_fn`` sees the whole batch at once.

    Raises:
        MechscopeError: ``max_rows`` below 1.
    """
    if max_rows < 1:
        raise MechscopeError(
            f"max_rows (prompts per backward pass) must be 1 or more; got {max_rows}."
        )
    saved = {name: param.grad for name, param in model.named_parameters()}
    try:
        with parameters_requiring_grad(model, True):
            for param in model.parameters():
                param.grad = None
            loss = 0.0
            for chunk, weight in _chunks(batch, max_rows, loss_fn is mean_next_token_loss):
                part = loss_fn(model, chunk) * weight
                part.backward()
                loss += float(part.detach())
            grads = {name: param.grad for name, param in block_parameter_names(model)
                     if param.grad is not None}  # fmt: skip
    finally:
        for name, param in model.named_parameters():
            param.grad = saved[name]
    tokens = int(predicted_mask(batch.attention_mask).sum())
    return GradientSum(grads, loss, tokens, model.cfg.n_layers)


def gradient_norms(
    model: Model,
    batch: TokenBatch,
    loss_fn: Callable[[Model, TokenBatch], Tensor] = mean_next_token_loss,
    *,
    max_rows: int = 4,
) -> GradientNorms:
    """Gradient norms of ``loss_fn`` on ``batch`` (`summed_gradients`, then their norms).

    Raises:
        MechscopeError: ``max_rows`` below 1.
    """
    summed = summed_gradients(model, batch, loss_fn, max_rows=max_rows)
    return summed.norms(Provenance(model=model_spec(model)))


def _chunks(batch: TokenBatch, max_rows: int, split: bool) -> Iterator[tuple[TokenBatch, float]]:
    """The batch ``max_rows`` prompts at a time, each with its share of the predicted tokens.

    Trailing columns no prompt of a chunk uses are dropped; not ``split``: the whole batch,
    weight 1.
    """
    n_rows = batch.tokens.shape[0]
    if not split or n_rows <= max_rows:
        yield batch, 1.0
        return
    predicted = predicted_mask(batch.attention_mask)  # the tokens the default loss averages
    total = float(predicted.sum())
    for start in range(0, n_rows, max_rows):
        rows = slice(start, start + max_rows)
        used = batch.attention_mask[rows].any(0).nonzero()  # columns holding a real token
        width = int(used.max()) + 1 if used.numel() else batch.tokens.shape[1]
        chunk = TokenBatch(batch.tokens[rows, :width], batch.attention_mask[rows, :width])
        yield chunk, float(predicted[rows].sum()) / total


def gradient_histogram(grads: dict[str, Tensor], n_layers: int) -> Float[Tensor, "layer bin"]:
    """Per block, the share of gradient entries in each log10 |g| bin (`HISTOGRAM_EDGES`)."""
    edges = torch.tensor(HISTOGRAM_EDGES, dtype=torch.float64)
    counts = torch.zeros(n_layers, len(HISTOGRAM_EDGES) - 1, dtype=torch.float64)
    for name, grad in grads.items():
        layer, _ = component_of(name)
        if layer is None:
            continue
        flat = grad.detach().flatten()
        for start in range(0, flat.numel(), HISTOGRAM_SLICE):  # bounded float64 copies
            logs = flat[start : start + HISTOGRAM_SLICE].double().abs().clamp(min=1e-300).log10()
            logs = logs.clamp(edges[0], edges[-1] - 1e-9)
            index = torch.bucketize(logs, edges, right=True) - 1
            counts[layer] += torch.bincount(index, minlength=len(edges) - 1)[: len(edges) - 1]
    return (counts / counts.sum(-1, keepdim=True).clamp(min=1)).float()
