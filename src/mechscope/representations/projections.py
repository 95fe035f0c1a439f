"""2-D projections of a layer's units, to colour by a label: PCA, t-SNE, UMAP.

- PCA: torch SVD of the centred units; ``explained`` holds each axis's share of variance.
- t-SNE: scikit-learn's `TSNE` (perplexity 30, PCA initialisation, seeded).
- UMAP: umap-learn (the optional ``reps`` extra: it brings numba), seeded.

The same units (a seeded sample of at most ``max_points``) are projected at every boundary
asked for, each on its own, so small multiples compare like with like. Each point keeps its
unit text and sentence for the hover of the interactive figure.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from jaxtyping import Float
from torch import Tensor

from mechscope.core.errors import MechscopeError
from mechscope.core.results import Provenance, Result
from mechscope.representations.activations import Activations
from mechscope.representations.choices import ProjectionMethod


def pca_2d(x: Float[Tensor, "n d"]) -> tuple[Float[Tensor, "n 2"], Float[Tensor, " 2"]]:
    """The first two principal components and their share of the variance."""
    centred = x.double() - x.double().mean(0)
    _, s, vh = torch.linalg.svd(centred, full_matrices=False)
    variance = s.square()
    return (centred @ vh[:2].T).float(), (variance[:2] / variance.sum()).float()


def project_2d(x: Float[Tensor, "n d"], method: ProjectionMethod, seed: int = 0) -> Tensor:
    """``x`` placed in 2-D by ``method``.

    Raises:
        MechscopeError: UMAP without umap-learn installed, or too few points.
    """
    if len(x) < 3:
        raise MechscopeError("a projection needs at least 3 points.")
    if method is ProjectionMethod.PCA:
        return pca_2d(x)[0]
    data = x.double().numpy()
    if method is ProjectionMethod.TSNE:
        from sklearn.manifold import TSNE

        perplexity = min(30.0, (len(x) - 1) / 3)
        tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
        return torch.from_numpy(tsne.fit_transform(data)).float()
    try:
        import umap  # pyright: ignore[reportMissingImports]
    except ImportError as error:
        raise MechscopeError(
            "UMAP needs umap-learn: pip install 'mechscope[reps]' (or use pca / tsne)."
        ) from error
    reducer = umap.UMAP(n_components=2, random_state=seed)
    return torch.from_numpy(reducer.fit_transform(data)).float()


@dataclass(frozen=True)
class Projection(Result):
    """2-D coordinates of the same units at several boundaries, with labels and hover text."""

    kind: ClassVar[str] = "projection"
    method: str
    boundaries: tuple[str, ...]
    coordinates: Float[Tensor, "boundary point 2"]
    labels: tuple[str, ...]
    """Each point's colour label ('' for none)."""
    units: tuple[str, ...]
    context: tuple[str, ...]
    """Each point's sentence."""
    explained: Float[Tensor, "boundary 2"]
    """PCA's share of variance per axis (NaN for t-SNE / UMAP)."""
    extra: dict[str, Any] = field(default_factory=dict)

    def _validate(self) -> None:
        n = self.coordinates.shape[1]
        if self.coordinates.shape[0] != len(self.boundaries) or not (
            len(self.labels) == len(self.units) == len(self.context) == n
        ):
            raise ValueError("coordinates must be [boundary, point, 2] with one label per point")

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per boundary and point."""
        import pandas as pd

        return pd.DataFrame([{"boundary": b, "x": float(self.coordinates[i, p, 0]),
                              "y": float(self.coordinates[i, p, 1]), "label": self.labels[p],
                              "unit": self.units[p]}
                             for i, b in enumerate(self.boundaries)
                             for p in range(len(self.units))])  # fmt: skip


def project(
    activations: Activations,
    labels: Sequence[str | None] | None = None,
    *,
    boundaries: Sequence[int] | None = None,
    method: ProjectionMethod = ProjectionMethod.PCA,
    max_points: int = 2000,
    seed: int = 0,
    labelled_only: bool = False,
) -> Projection:
    """Project a sample of the units at each boundary (default: all), coloured by ``labels``.

    ``labelled_only``: leave out the units without a label (e.g. the words that head no
    mention, for entity types).

    Raises:
        MechscopeError: labels that do not align with the units, or a boundary out of range.
    """
    n = len(activations.units)
    if labels is not None and len(labels) != n:
        raise MechscopeError(
            f"the labels do not align with the units: {len(labels)} labels for {n} units."
        )
    chosen = list(range(activations.n_boundaries)) if boundaries is None else list(boundaries)
    for b in chosen:
        if not 0 <= b < activations.n_boundaries:
            raise MechscopeError(
                f"boundary {b} is out of range: 0..{activations.n_boundaries - 1}."
            )
    index = torch.arange(n)
    if labelled_only and labels is not None:
        index = torch.tensor([i for i, label in enumerate(labels) if label], dtype=torch.long)
    if len(index) > max_points:
        generator = torch.Generator().manual_seed(seed)
        index = index[torch.randperm(len(index), generator=generator)[:max_points].sort().values]
    coordinates, explained = [], []
    for b in chosen:
        points = activations.layer(b)[index]
        if method is ProjectionMethod.PCA:
            xy, share = pca_2d(points)
        else:
            xy, share = project_2d(points, method, seed), torch.full((2,), math.nan)
        coordinates.append(xy)
        explained.append(share)
    context = activations.context()
    picked = index.tolist()
    return Projection(
        method.value,
        tuple(activations.boundaries[b] for b in chosen),
        torch.stack(coordinates),
        tuple((labels[i] or "") if labels is not None else "" for i in picked),
        tuple(activations.units[i] for i in picked),
        tuple(context[i] for i in picked),
        torch.stack(explained),
        extra={"max_points": max_points, "seed": seed, "n_units": n},
        provenance=Provenance(model=activations.provenance.model),
    )
