"""Attention-pattern scores per head, vectorised over layers and heads.

All take patterns shaped ``[batch, layer, head, dest_pos, src_pos]`` and return
``[layer, head]``: the attention a head puts on a target source position, averaged over the
destinations where that target is defined (each in [0, 1]).

- previous-token: attention from ``i`` to ``i - 1`` (Elhage et al. 2021).
- induction (on ``BOS + r + r``): attention from each second-copy token to the token right
  after its first copy, ``i -> i - n + 1`` (Olsson et al. 2022; TransformerLens's
  ``detect_head('induction')`` measures the same diagonal).
- prefix-matching (any text): attention from ``i`` to every ``j`` whose previous token equals
  token ``i`` (the "match the prefix" half of induction, Olsson et al. 2022), summed over
  such ``j``, averaged over destinations that have at least one.
"""

import einops
import torch
from jaxtyping import Float, Int
from torch import Tensor


def previous_token_score(
    patterns: Float[Tensor, "batch layer head dest_pos src_pos"],
) -> Float[Tensor, "layer head"]:
    """Mean attention from each position (after the first) to the one before it."""
    sub_diagonal = patterns.diagonal(offset=-1, dim1=-2, dim2=-1)
    return einops.reduce(sub_diagonal, "b l h d -> l h", "mean")


def induction_score(
    patterns: Float[Tensor, "batch layer head dest_pos src_pos"], half_length: int
) -> Float[Tensor, "layer head"]:
    """Mean attention from the second copy to the token after the first copy (BOS + r + r)."""
    offset = half_length - 1
    diagonal = patterns.diagonal(offset=-offset, dim1=-2, dim2=-1)
    # diagonal[k] is dest k + offset -> src k; the second copy's tokens are dest >= n + 1.
    second_copy = diagonal[..., half_length + 1 - offset :]
    return einops.reduce(second_copy, "b l h d -> l h", "mean")


def prefix_matching_score(
    patterns: Float[Tensor, "batch layer head dest_pos src_pos"],
    tokens: Int[Tensor, "batch pos"],
) -> Float[Tensor, "layer head"]:
    """Attention mass on tokens preceded by the current token, over destinations with any."""
    n = tokens.shape[1]
    previous = torch.cat([torch.full_like(tokens[:, :1], -1), tokens[:, :-1]], dim=1)
    match = tokens[:, :, None] == previous[:, None, :]  # [b, dest, src]: prev(src) == dest
    match &= torch.ones(n, n, dtype=torch.bool, device=tokens.device).tril(-1)
    has_any = match.any(dim=-1)
    mass = einops.einsum(patterns, match.to(patterns.dtype), "b l h d s, b d s -> b l h d")
    weight = has_any.to(patterns.dtype)
    return einops.einsum(mass, weight, "b l h d, b d -> l h") / weight.sum().clamp(min=1)
