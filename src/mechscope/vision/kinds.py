"""Head kinds on the image grid, scored from attention patterns over a set of images.

Each score is an attention mass averaged over images and over the patch queries (not
[CLS]), so it lies in [0, 1] and a head can hold several kinds:

- ``local``: mass on the patches within ``radius`` of the query (Chebyshev distance, the
  query itself included): a head reading its neighbourhood;
- ``row`` / ``column``: mass on patches of the query's row / column farther than ``radius``;
- ``cls_sink``: mass on [CLS] (a no-op or gathering head);
- ``object``: the share of attention to patches that falls on the object
  (`mechscope.vision.grid.object_share`), from every query including [CLS]; its chance level
  is the object's share of the image, kept in the result.

A head is labelled with each kind whose score is at least ``THRESHOLD`` (0.5); ``object``
also needs twice its chance level. The mean attention distance (pixels) comes with it.
"""

from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

import torch
from jaxtyping import Bool, Float
from torch import Tensor
from tqdm.auto import tqdm

from mechscope.core.axes import HeadId
from mechscope.core.batch import ImageBatch
from mechscope.core.results import Provenance, Result
from mechscope.data.images import patch_object_fraction
from mechscope.models.adapter import adapt, model_spec
from mechscope.models.base import Model
from mechscope.models.run import attention_patterns
from mechscope.vision.grid import chance_share, mean_attention_distance, object_share, patch_centres

THRESHOLD = 0.5
OBJECT_LIFT = 2.0
"""An object head's share is at least this many times its chance level."""


class GridKind(Enum):
    """Head kinds on the 2-D grid (see the module docstring)."""

    LOCAL = "local"
    ROW = "row"
    COLUMN = "column"
    CLS_SINK = "cls_sink"
    OBJECT = "object"


def region_masks(grid: tuple[int, int], radius: int) -> dict[GridKind, Bool[Tensor, "patch patch"]]:
    """For each spatial kind, which key patches count for each query patch."""
    centres = patch_centres(grid)
    delta = (centres[:, None] - centres[None]).abs()
    near = (delta <= radius).all(-1)
    return {
        GridKind.LOCAL: near,
        GridKind.ROW: (delta[..., 0] == 0) & ~near,
        GridKind.COLUMN: (delta[..., 1] == 0) & ~near,
    }


@dataclass(frozen=True)
class GridHeadKinds(Result):
    """Scores of every 2-D head kind, the mean attention distance, and the labels."""

    kind: ClassVar[str] = "grid-head-kinds"
    scores: Float[Tensor, "kind layer head"]
    """In `GridKind` order; object scores are NaN without masks."""
    distance: Float[Tensor, "layer head"]
    """Mean attention distance in pixels."""
    object_chance: float
    """The object's mean share of the image (NaN without masks)."""
    radius: int
    n_images: int

    def _validate(self) -> None:
        if self.scores.shape[0] != len(GridKind) or self.scores.shape[1:] != self.distance.shape:
            raise ValueError(f"scores {tuple(self.scores.shape)} do not match the kinds and "
                             f"the distance {tuple(self.distance.shape)}")  # fmt: skip

    def score(self, kind: GridKind) -> Float[Tensor, "layer head"]:
        """The scores of one kind."""
        return self.scores[list(GridKind).index(kind)]

    def passes(self, kind: GridKind) -> Bool[Tensor, "layer head"]:
        """Which heads are labelled ``kind``."""
        values = self.score(kind)
        passed = values >= THRESHOLD
        if kind is GridKind.OBJECT:
            passed &= values >= OBJECT_LIFT * self.object_chance
        return passed

    def labels(self) -> dict[HeadId, list[GridKind]]:
        """The kinds of every head that has at least one."""
        out: dict[HeadId, list[GridKind]] = {}
        for kind in GridKind:
            for layer, head in self.passes(kind).nonzero().tolist():
                out.setdefault(HeadId(layer, head), []).append(kind)
        return dict(sorted(out.items()))

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per head: every kind's score, the distance and the labels."""
        import pandas as pd

        labels = self.labels()
        rows = []
        n_layers, n_heads = self.distance.shape
        for layer in range(n_layers):
            for head in range(n_heads):
                row: dict[str, Any] = {"layer": layer, "head": head}
                row |= {k.value: float(self.score(k)[layer, head]) for k in GridKind}
                row["distance_px"] = float(self.distance[layer, head])
                row["labels"] = ",".join(k.value for k in labels.get(HeadId(layer, head), []))
                rows.append(row)
        return pd.DataFrame(rows)


@torch.no_grad()
def classify_grid_heads(
    model: Model,
    pixels: Float[Tensor, "image channel height width"],
    masks: Bool[Tensor, "image height width"] | None = None,
    *,
    radius: int = 1,
    batch_size: int = 128,
    progress: bool = False,
) -> GridHeadKinds:
    """Score every head of a ViT on ``pixels`` (object masks optional; module docstring).

    Raises:
        MechscopeError: a text model. ImageError: images the model does not take.
    """
    vit = adapt(model).vision("classifying heads on the image grid")
    cfg = vit.vit_cfg
    regions = region_masks(cfg.grid, radius)
    totals = torch.zeros(len(GridKind), cfg.n_layers, cfg.n_heads)
    distance = torch.zeros(cfg.n_layers, cfg.n_heads)
    chance_sum = 0.0
    starts = range(0, pixels.shape[0], batch_size)
    for start in tqdm(starts, desc="grid head kinds", disable=not progress):
        chunk = pixels[start : start + batch_size]
        patterns = attention_patterns(vit, ImageBatch(vit.check_images(chunk), cfg.patch_size))
        patterns = patterns.float()  # reduced where they were computed, then moved
        queries = patterns[..., 1:, :]  # patch queries
        n = chunk.shape[0]
        for kind, region in regions.items():
            mass = (queries[..., 1:] * region.to(patterns.device)).sum(-1).mean(-1)
            totals[list(GridKind).index(kind)] += mass.sum(0).cpu()
        sink = queries[..., 0].mean(-1)
        totals[list(GridKind).index(GridKind.CLS_SINK)] += sink.sum(0).cpu()
        distance += mean_attention_distance(patterns, cfg.grid, cfg.patch_size).cpu() * n
        if masks is not None:
            fraction = patch_object_fraction(masks[start : start + batch_size], cfg.patch_size)
            fraction = fraction.to(patterns.device)
            per_query = object_share(patterns.permute(1, 2, 3, 0, 4), fraction)  # l h q b
            totals[list(GridKind).index(GridKind.OBJECT)] += per_query.mean(2).sum(-1).cpu()
            chance_sum += float(chance_share(fraction).sum())
    n_images = pixels.shape[0]
    scores = totals / n_images
    if masks is None:
        scores[list(GridKind).index(GridKind.OBJECT)] = float("nan")
    chance = chance_sum / n_images if masks is not None else float("nan")
    return GridHeadKinds(scores, distance / n_images, chance, radius, n_images,
                         provenance=Provenance(model=model_spec(model)))  # fmt: skip
