"""Attention on the patch grid: maps, mean attention distance, rollout, object overlap.

Positions follow `mechscope.core.batch.ImageBatch`: 0 is [CLS], then the patches row by row.
Conventions, per measure:

- **Attention map** (`attention_map`): the row of one query (a patch or [CLS]) reshaped onto
  the grid; [CLS]'s own weight is returned beside it, so the map plus it sums to 1.
- **Mean attention distance** (Dosovitskiy et al. 2020, fig. 7, "attention distance"): for each
  query patch, the attention-weighted mean distance in pixels between its centre and the
  centres of the patches it attends to, averaged over query patches and images. Weights are
  renormalised over the patches (a head that mostly reads [CLS] is measured on what it reads
  of the image); [CLS] as a query is left out, as in the paper's released analysis.
- **Rollout** (Abnar & Zuidema 2020): per layer, the head-averaged pattern plus the identity
  (the residual connection), rows renormalised, multiplied through the layers; row 0 of the
  rollout up to layer ``l`` is how much [CLS] after block ``l`` draws on each input patch.
- **Object overlap** (`object_share`): the share of a query's attention to the patches that
  falls on the object, each patch weighted by the fraction of its pixels in the object mask;
  chance (uniform attention) is the object's share of the image.
"""

import einops
import torch
from jaxtyping import Float
from torch import Tensor

from mechscope.core.batch import patch_position


def patch_centres(grid: tuple[int, int]) -> Float[Tensor, "patch 2"]:
    """(row, col) of every patch, row by row, in patch units."""
    rows, cols = grid
    r, c = torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij")
    return torch.stack([r.flatten(), c.flatten()], dim=-1).float()


def patch_distances(grid: tuple[int, int]) -> Float[Tensor, "patch patch"]:
    """Euclidean distance between patch centres, in patch units."""
    centres = patch_centres(grid)
    return torch.cdist(centres, centres)


def attention_map(
    pattern: Float[Tensor, "dest_pos src_pos"], query: int, grid: tuple[int, int]
) -> tuple[Float[Tensor, "row col"], float]:
    """The attention of position ``query`` on the grid, and its weight on [CLS]."""
    row = pattern[query]
    return row[1:].reshape(grid), float(row[0])


def query_position(cell: tuple[int, int] | None, grid: tuple[int, int]) -> int:
    """The position of the patch at ``cell = (row, col)``, or [CLS] (0) for ``None``.

    Raises:
        ImageError: a cell outside the grid.
    """
    return 0 if cell is None else patch_position(cell, grid)


def mean_attention_distance(
    patterns: Float[Tensor, "batch layer head dest_pos src_pos"],
    grid: tuple[int, int],
    patch_size: int,
) -> Float[Tensor, "layer head"]:
    """Mean attention distance of every head, in pixels (see the module docstring)."""
    to_patches = patterns[..., 1:, 1:]
    weights = to_patches / to_patches.sum(-1, keepdim=True).clamp_min(1e-12)
    distance = patch_distances(grid).to(patterns) * patch_size
    per_query = torch.einsum("blhqk,qk->blhq", weights, distance)
    return einops.reduce(per_query, "b l h q -> l h", "mean")


def attention_rollout(
    patterns: Float[Tensor, "batch layer head dest_pos src_pos"],
) -> Float[Tensor, "batch layer dest_pos src_pos"]:
    """Rollout up to each layer (Abnar & Zuidema 2020; see the module docstring)."""
    mixed = patterns.mean(2)
    eye = torch.eye(mixed.shape[-1], dtype=mixed.dtype, device=mixed.device)
    mixed = 0.5 * mixed + 0.5 * eye
    mixed = mixed / mixed.sum(-1, keepdim=True)
    out, rolled = [], None
    for layer in range(mixed.shape[1]):
        rolled = mixed[:, layer] if rolled is None else mixed[:, layer] @ rolled
        out.append(rolled)
    return torch.stack(out, dim=1)


def object_share(
    attention: Float[Tensor, "*lead batch src_pos"],
    object_fraction: Float[Tensor, "batch patch"],
) -> Float[Tensor, "*lead batch"]:
    """The share of attention to patches that falls on the object (module docstring)."""
    to_patches = attention[..., 1:]
    total = to_patches.sum(-1).clamp_min(1e-12)
    return (to_patches * object_fraction).sum(-1) / total


def chance_share(object_fraction: Float[Tensor, "batch patch"]) -> Float[Tensor, " batch"]:
    """The object's share of the image: what uniform attention puts on it."""
    return object_fraction.mean(-1)


def uniform_distance(grid: tuple[int, int], patch_size: int) -> float:
    """The mean attention distance of uniform attention over the patches, in pixels."""
    return float(patch_distances(grid).mean()) * patch_size
