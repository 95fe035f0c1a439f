"""Attention statistics per head, the effective number of heads per layer, collapse flags.

Over the real query positions that see at least two real keys (a causal model's first
query sees one key and has entropy 0 by construction, so it is left out):

- entropy (nats) and normalised entropy ``H / log(n_visible)`` (0: one-hot, 1: uniform);
- max weight: the largest attention weight of a query;
- effective span: ``sum_s P[d, s] |d - s|``, the attention-weighted distance in tokens;
- sink mass: the weight on the first position (BOS / [CLS]), where idle heads rest;
- effective number of heads per layer: the participation ratio ``(tr C)^2 / ||C||_F^2`` of the
  heads' pattern Gram matrix ``C`` (each head's patterns over the batch as one vector): the
  number of heads when all attend differently (orthogonal patterns), 1 when all attend alike.

Collapse flags (documented thresholds): normalised entropy below `ONE_HOT_BELOW` is one-hot
collapse (Zhai et al. 2023's entropy collapse), above `UNIFORM_ABOVE` is uniform attention
(a head that averages everything it sees).
"""

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from jaxtyping import Float
from torch import Tensor

from mechscope.core.axes import HeadId
from mechscope.core.batch import ImageBatch, TokenBatch, first_real_positions
from mechscope.core.results import Provenance, Result
from mechscope.models.adapter import adapt, model_spec
from mechscope.models.base import Model
from mechscope.models.run import attention_patterns

ONE_HOT_BELOW = 0.1
"""Normalised entropy under which a head counts as collapsed to one-hot attention."""
UNIFORM_ABOVE = 0.9
"""Normalised entropy above which a head counts as attending uniformly."""


@dataclass(frozen=True)
class AttentionStats(Result):
    """Per layer and head: entropy, normalised entropy, max weight, span, sink mass."""

    kind: ClassVar[str] = "attention-stats"
    entropy: Float[Tensor, "layer head"]
    normalised_entropy: Float[Tensor, "layer head"]
    max_weight: Float[Tensor, "layer head"]
    span: Float[Tensor, "layer head"]
    sink_mass: Float[Tensor, "layer head"]
    effective_heads: Float[Tensor, " layer"]

    def _summary(self) -> dict[str, Any]:
        return {"flags": [[str(h), kind] for h, kind in self.flags()]}

    def flags(self) -> list[tuple[HeadId, str]]:
        """Heads whose attention has collapsed, with the kind of collapse."""
        flagged = []
        for (layer, head), value in zip(
            torch.cartesian_prod(*map(torch.arange, self.entropy.shape)).tolist(),
            self.normalised_entropy.flatten().tolist(),
            strict=True,
        ):
            if value < ONE_HOT_BELOW:
                flagged.append((HeadId(layer, head), "one-hot"))
            elif value > UNIFORM_ABOVE:
                flagged.append((HeadId(layer, head), "uniform"))
        return flagged

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per head."""
        import pandas as pd

        n_layers, n_heads = self.entropy.shape
        return pd.DataFrame(
            [{"head": f"{l}.{h}", "entropy": float(self.entropy[l, h]),
              "normalised_entropy": float(self.normalised_entropy[l, h]),
              "max_weight": float(self.max_weight[l, h]), "span": float(self.span[l, h]),
              "sink_mass": float(self.sink_mass[l, h])}
             for l in range(n_layers) for h in range(n_heads)]  # noqa: E741
        )  # fmt: skip


STATISTICS = ("entropy", "normalised_entropy", "max_weight", "span", "sink_mass")
"""The per-query statistics of `query_statistics`, in `AttentionStats`'s field names."""


def key_counts(
    attention_mask: Tensor, causal: bool, n_dest: int, n_src: int
) -> Float[Tensor, "batch dest_pos"]:
    """How many real keys each query position sees (0 at padding queries)."""
    real = attention_mask.bool()
    sees = torch.ones(n_dest, n_src, dtype=torch.bool, device=real.device)
    if causal:
        sees = sees.tril()
    return (real[:, :n_dest, None] & real[:, None, :n_src] & sees).sum(-1).float()


def query_statistics(
    pattern: Float[Tensor, "*lead dest_pos src_pos"],
    n_keys: Tensor,
    names: tuple[str, ...] = STATISTICS,
    first: Tensor | None = None,
) -> dict[str, Float[Tensor, "*lead dest_pos"]]:
    """Each query's statistics (``names`` of `STATISTICS`) from its attention row.

    ``n_keys`` (broadcastable to ``[*lead, dest]``) is the number of keys each query sees;
    it only enters the normalised entropy. ``first`` (one index per prompt, the leading
    axis) is each prompt's first real position, where the sink mass is read (position 0
    when None: no left padding). The head classifier's entropy, max-weight and
    effective-span kinds read these.
    """
    out: dict[str, Tensor] = {}
    if "entropy" in names or "normalised_entropy" in names:
        entropy = -torch.special.xlogy(pattern, pattern).sum(-1)
        out["entropy"] = entropy
        out["normalised_entropy"] = entropy / n_keys.clamp(min=2).log()
    if "max_weight" in names:
        out["max_weight"] = pattern.amax(-1)
    if "span" in names:
        positions = torch.arange(pattern.shape[-1], device=pattern.device)
        distance = (positions[: pattern.shape[-2], None] - positions).abs().to(pattern)
        out["span"] = (pattern * distance).sum(-1)
    if "sink_mass" in names:
        if first is None:
            out["sink_mass"] = pattern[..., 0]
        else:
            shape = (-1,) + (1,) * (pattern.dim() - 1)
            index = first.to(pattern.device).view(shape).expand(*pattern.shape[:-1], 1)
            out["sink_mass"] = pattern.gather(-1, index)[..., 0]
    return {name: out[name] for name in names}


@dataclass(frozen=True)
class AttentionSums:
    """What `AttentionStats` is made of, summed over prompts: parts of a batch add up.

    ``sums``: each statistic summed over the counted queries (those seeing two or more real
    keys), per layer and head; ``weight``: how many queries were counted; ``gram``: the heads'
    pattern Gram matrix per layer (a sum over prompts: each prompt's patterns are its own
    stretch of every head's vector). ``a + b`` is the sums of both batches; `stats` divides.
    """

    sums: dict[str, Float[Tensor, "layer head"]]
    weight: Float[Tensor, "layer head"]
    gram: Float[Tensor, "layer head head"]

    def __add__(self, other: "AttentionSums") -> "AttentionSums":
        return AttentionSums({name: value + other.sums[name] for name, value in self.sums.items()},
                             self.weight + other.weight, self.gram + other.gram)  # fmt: skip

    def stats(self, provenance: Provenance | None = None) -> AttentionStats:
        """The means of the module docstring and the effective number of heads."""
        trace = self.gram.diagonal(dim1=-2, dim2=-1).sum(-1)
        return AttentionStats(
            **{name: (value / self.weight).float() for name, value in self.sums.items()},
            effective_heads=(trace.pow(2) / self.gram.pow(2).sum((-2, -1))).float(),
            provenance=provenance or Provenance(),
        )


def pattern_sums(
    patterns: Float[Tensor, "batch layer head dest_pos src_pos"],
    attention_mask: Tensor,
    causal: bool,
) -> AttentionSums:
    """`AttentionSums` of patterns (padding rows and columns zero), on the CPU in float64."""
    mask = attention_mask.to(patterns.device)
    n_keys = key_counts(mask, causal, *patterns.shape[-2:])[:, None, None]  # batch 1 1 dest
    per_query = query_statistics(patterns, n_keys, first=first_real_positions(mask))
    weight = (n_keys >= 2).to(patterns.dtype).expand_as(per_query["entropy"])
    flat = patterns.permute(1, 2, 0, 3, 4).flatten(2)  # layer head features
    return AttentionSums(
        {name: (value * weight).sum((0, -1)).double().cpu() for name, value in per_query.items()},
        weight.sum((0, -1)).double().cpu(),
        (flat @ flat.mT).double().cpu(),
    )


@torch.no_grad()
def attention_sums(model: Model, batch: TokenBatch | ImageBatch) -> AttentionSums:
    """`AttentionSums` of every head on ``batch`` (one pass)."""
    patterns = attention_patterns(model, batch)
    return pattern_sums(patterns, batch.attention_mask, adapt(model).causal)


def attention_stats(model: Model, batch: TokenBatch | ImageBatch) -> AttentionStats:
    """The statistics of every head on ``batch``."""
    return attention_sums(model, batch).stats(Provenance(model=model_spec(model)))
