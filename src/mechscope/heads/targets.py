"""Per-layer head scores from one batch's attention patterns: pure tensor code, no model.

Each pattern kind (see `mechscope.heads.kinds`) is a target mask ``T[b, d, s]`` and a set of
destinations ``w[b, d]`` where it is defined. A head's score on a prompt is

    sum_d w_d sum_s K P T  /  sum_d w_d sum_s K P

with ``K`` the pairs kept (real tokens, minus any excluded first/current token). With
nothing excluded every real row of ``P`` sums to one, so the denominator just counts the
destinations. The numerator is linear in ``P``, so every such kind (and the effective span)
is one column of a weight matrix built once per batch, and each layer's pattern is read
once: one batched matrix product gives all of them for every prompt and head.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import einops
import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from mechscope.diagnostics.attention import query_statistics
from mechscope.heads.kinds import HeadKind
from mechscope.heads.settings import Normalisation

PATTERN_KINDS = (
    HeadKind.PREVIOUS_TOKEN,
    HeadKind.CURRENT_TOKEN,
    HeadKind.LOCAL_WINDOW,
    HeadKind.DUPLICATE_TOKEN,
    HeadKind.INDUCTION,
    HeadKind.PREFIX_MATCHING,
    HeadKind.FIRST_TOKEN,
    HeadKind.SEPARATOR,
    HeadKind.PUNCTUATION,
)
NONLINEAR_KINDS = (HeadKind.ENTROPY, HeadKind.MAX_WEIGHT, HeadKind.EFFECTIVE_SPAN)
"""The pattern statistics, read from `mechscope.diagnostics.attention` (per query, then the
mean over each prompt's queries that see at least two keys)."""
STATISTIC_OF = {HeadKind.ENTROPY: "entropy", HeadKind.MAX_WEIGHT: "max_weight",
                HeadKind.EFFECTIVE_SPAN: "span"}  # fmt: skip


@dataclass(frozen=True)
class BatchContext:
    """What the masks of one batch are built from."""

    tokens: Int[Tensor, "batch pos"]
    real: Bool[Tensor, "batch pos"]
    first: Bool[Tensor, "batch pos"]
    """The first real token of each prompt."""
    separator: Bool[Tensor, "batch pos"]
    punctuation: Bool[Tensor, "batch pos"]
    causal: bool
    """Decoders see only ``s <= d``; encoders see every position."""

    @cached_property
    def visible(self) -> Bool[Tensor, "batch dest_pos src_pos"]:
        """Pairs of real tokens a destination can attend to."""
        pair = self.real[:, :, None] & self.real[:, None, :]
        if self.causal:
            n = self.tokens.shape[1]
            pair = pair & torch.ones(n, n, dtype=torch.bool, device=pair.device).tril()
        return pair

    @cached_property
    def distance(self) -> Int[Tensor, "dest_pos src_pos"]:
        """``d - s`` for every pair of positions."""
        pos = torch.arange(self.tokens.shape[1], device=self.tokens.device)
        return pos[:, None] - pos[None, :]


def target(
    kind: HeadKind, ctx: BatchContext, window: int
) -> tuple[Bool[Tensor, "batch dest_pos src_pos"], Bool[Tensor, "batch dest_pos"]]:
    """The target mask ``T`` of a pattern kind and the destinations where it is defined."""
    visible = ctx.visible
    distance = ctx.distance[None]
    tokens = ctx.tokens
    if kind is HeadKind.PREVIOUS_TOKEN:
        mask = visible & (distance == 1)
    elif kind is HeadKind.CURRENT_TOKEN:
        mask = visible & (distance == 0)
    elif kind is HeadKind.LOCAL_WINDOW:
        mask = visible & (distance.abs() <= window)
    elif kind is HeadKind.DUPLICATE_TOKEN:
        mask = visible & (tokens[:, :, None] == tokens[:, None, :]) & (distance != 0)
    elif kind in (HeadKind.INDUCTION, HeadKind.PREFIX_MATCHING):
        previous = torch.cat([torch.full_like(tokens[:, :1], -1), tokens[:, :-1]], dim=1)
        previous_real = torch.cat([torch.zeros_like(ctx.real[:, :1]), ctx.real[:, :-1]], dim=1)
        match = (tokens[:, :, None] == previous[:, None, :]) & previous_real[:, None, :]
        mask = visible & match & (distance != -1)  # s - 1 = d is the token itself
    elif kind is HeadKind.FIRST_TOKEN:
        mask = visible & ctx.first[:, None, :] & ~ctx.first[:, :, None]
    elif kind is HeadKind.SEPARATOR:
        mask = visible & ctx.separator[:, None, :]
    elif kind is HeadKind.PUNCTUATION:
        mask = visible & ctx.punctuation[:, None, :]
    else:
        raise ValueError(f"{kind.value} is not a pattern kind")
    if kind in (HeadKind.DUPLICATE_TOKEN, HeadKind.INDUCTION, HeadKind.PREFIX_MATCHING):
        defined = mask.any(dim=-1)
    elif kind is HeadKind.PREVIOUS_TOKEN:
        defined = mask.any(dim=-1)  # every real token but the first
    else:
        defined = ctx.real & ~ctx.first if kind is HeadKind.FIRST_TOKEN else ctx.real
    return mask, defined


def keep_mask(
    ctx: BatchContext, exclude_first: bool, exclude_current: bool
) -> Bool[Tensor, "batch dest_pos src_pos"]:
    """Pairs counted in a score: visible pairs minus the excluded first / current token."""
    keep = ctx.visible
    if exclude_first:
        keep = keep & ~ctx.first[:, None, :]
    if exclude_current:
        keep = keep & (ctx.distance[None] != 0)
    return keep


def masked_mass(
    pattern: Float[Tensor, "batch head dest_pos src_pos"],
    weights: Bool[Tensor, "batch dest_pos src_pos"],
) -> Float[Tensor, "batch head"]:
    """``sum_{d, s} P[b, h, d, s] W[b, d, s]`` as one batched matrix-vector product."""
    flat = einops.rearrange(pattern, "b h d s -> b h (d s)")
    return einops.einsum(flat, weights.flatten(1).to(pattern.dtype), "b h n, b n -> b h")


@dataclass(frozen=True)
class LinearWeights:
    """Every linear kind of one batch folded into one weight matrix, built once per batch.

    A linear kind's numerator is ``sum_{d, s} P W_k`` and its denominator
    ``sum_d rows_k[d] * sum_s K P``, so all of them come from a single batched matrix product
    over the pattern per layer (one read of the pattern instead of one per kind).
    """

    kinds: tuple[HeadKind, ...]
    weights: Float[Tensor, "batch pair kind"]
    rows: Float[Tensor, "batch dest_pos kind"]
    keep: Bool[Tensor, "batch dest_pos src_pos"] | None
    """Pairs kept when something is excluded (None: every visible pair)."""


def linear_weights(
    kinds: Sequence[HeadKind],
    ctx: BatchContext,
    *,
    window: int,
    normalisation: Normalisation,
    exclude_first: bool,
    exclude_current: bool,
) -> LinearWeights:
    """The weights of the pattern kinds among ``kinds``."""
    keep = keep_mask(ctx, exclude_first, exclude_current)
    chosen = tuple(k for k in kinds if k in PATTERN_KINDS)
    columns, rows = [], []
    for kind in chosen:
        mask, defined = target(kind, ctx, window)
        counted = defined if normalisation is Normalisation.DEFINED else ctx.real
        columns.append((keep & mask & counted[:, :, None]).float())
        rows.append(counted.float())
    batch = ctx.tokens.shape[0]
    empty = torch.zeros(batch, ctx.tokens.shape[1] ** 2, 0)
    weights = torch.stack([c.flatten(1) for c in columns], -1) if columns else empty
    row_weights = torch.stack(rows, -1) if rows else torch.zeros(batch, ctx.tokens.shape[1], 0)
    excluded = exclude_first or exclude_current
    return LinearWeights(chosen, weights, row_weights, keep if excluded else None)


def linear_scores(
    pattern: Float[Tensor, "batch head dest_pos src_pos"],
    linear: LinearWeights,
    ctx: BatchContext,
) -> Float[Tensor, "batch head kind"]:
    """Scores of every linear kind per prompt and head; NaN where no destination counts."""
    flat = einops.rearrange(pattern, "b h d s -> b h (d s)")
    numerator = torch.bmm(flat, linear.weights.to(pattern.dtype))
    if linear.keep is None:  # every real row of the pattern sums to one
        row_mass = ctx.real.to(pattern.dtype)[:, None].expand(-1, pattern.shape[1], -1)
    else:
        row_mass = einops.einsum(pattern, linear.keep.to(pattern.dtype), "b h d s, b d s -> b h d")
    denominator = torch.bmm(row_mass, linear.rows.to(pattern.dtype))
    return torch.where(denominator > 0, numerator / denominator.clamp(min=1e-30), torch.nan)


def statistic_scores(
    kinds: Sequence[HeadKind],
    pattern: Float[Tensor, "batch head dest_pos src_pos"],
    ctx: BatchContext,
) -> Float[Tensor, "batch head kind"]:
    """The `NONLINEAR_KINDS` among ``kinds``, per prompt and head.

    The diagnostics' per-query statistics, averaged over each prompt's queries that see at
    least two keys (NaN where none does).
    """
    n_keys = ctx.visible.sum(-1).to(pattern.dtype)[:, None]  # batch 1 dest
    names = tuple(STATISTIC_OF[kind] for kind in kinds)
    per_query = query_statistics(pattern, n_keys, names)
    weight = (n_keys >= 2).to(pattern.dtype)
    count = weight.sum(-1)
    scores = [(per_query[name] * weight).sum(-1) / count.clamp(min=1) for name in names]
    return torch.where(count[..., None] > 0, torch.stack(scores, -1), torch.nan)


def sink_mask(ctx: BatchContext) -> Bool[Tensor, "batch pos"]:
    """Sources a head can rest on: the first token and separators."""
    return ctx.first | ctx.separator


def no_op_ratio(
    grad: Float[Tensor, "batch head dest_pos src_pos"], ctx: BatchContext
) -> Float[Tensor, "batch head"]:
    """Mean ``|dL/dP|`` on sink sources over its mean on the other visible sources."""
    rows = ctx.visible & (ctx.real & ~ctx.first)[:, :, None]
    sinks = sink_mask(ctx)[:, None, :]
    on_sink, elsewhere = rows & sinks, rows & ~sinks
    magnitude = grad.abs()
    sink_mean = masked_mass(magnitude, on_sink) / on_sink.flatten(1).sum(-1, keepdim=True)
    other_mean = masked_mass(magnitude, elsewhere) / elsewhere.flatten(1).sum(-1, keepdim=True)
    return torch.where(other_mean > 0, sink_mean / other_mean.clamp(min=1e-30), torch.nan)
