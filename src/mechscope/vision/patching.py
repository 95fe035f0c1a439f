"""Activation patching on images: which patch positions carry the object, layer by layer.

The corrupted image is the clean one with its object removed (`remove_objects`: the object's pixels
redrawn from the image's own background), or moved (`move_objects`; for a classifier that does not
care where the object is, moving it barely changes the metric, so removal is the corruption patching
needs). For each layer ``l`` and position ``p`` ([CLS] or a patch), the corrupted run continues from
block ``l`` with the residual stream entering it at ``p`` replaced by the clean run's
(``blocks.l.hook_resid_pre``): activation patching through the engine of `mechscope.interventions`,
many sites per forward pass. The metric is the log-probability of the clean image's class, kept per
image; the effect is normalised as in `mechscope.interventions`: 0 = the corrupted run, 1 = the
clean run (``(patched - corrupted) / (clean - corrupted)``, on means over images, or per image).
Objects sit in different places in different images, so a map of the mean over images says little
about objects; `ImagePatching.effect_on` averages each image's effects over its own object (or
background) patches instead.
"""

from dataclasses import dataclass
from typing import ClassVar

import einops
import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from mechscope.core.errors import MechscopeError
from mechscope.core.results import Provenance, Result
from mechscope.core.sites import Component, Site
from mechscope.interventions.activation import patching_hooks
from mechscope.interventions.engine import patch_groups
from mechscope.interventions.runs import PairedRuns
from mechscope.models.adapter import adapt, model_spec
from mechscope.models.base import Model


@dataclass(frozen=True)
class ImagePatching(Result):
    """The metric of every image with each (layer, position) patched from clean into corrupted.

    Position 0 is [CLS]; then the patches row by row. ``effect`` is the normalised effect
    on the means over images; `image_effect` normalises one image by its own clean and
    corrupted values, and `effect_on` averages it over a weighted set of patches (e.g. the
    object's).
    """

    kind: ClassVar[str] = "image-patching"
    patched: Float[Tensor, "image layer pos"]
    """Log-probability of the image's class with that one (layer, position) patched."""
    clean: Float[Tensor, " image"]
    corrupted: Float[Tensor, " image"]
    grid: tuple[int, int]

    def _validate(self) -> None:
        rows, cols = self.grid
        n = self.clean.shape[0]
        if (
            self.patched.shape[2] != 1 + rows * cols
            or self.patched.shape[0] != n
            or (self.corrupted.shape != (n,))
        ):
            raise ValueError(f"patched {tuple(self.patched.shape)} does not fit {n} images on a "
                             f"{rows}x{cols} grid plus [CLS]")  # fmt: skip

    @property
    def n_images(self) -> int:
        """Images patched."""
        return int(self.clean.shape[0])

    @property
    def clean_value(self) -> float:
        """Mean clean log-probability of the class."""
        return float(self.clean.mean())

    @property
    def corrupted_value(self) -> float:
        """Mean log-probability of the class with the object removed."""
        return float(self.corrupted.mean())

    @property
    def effect(self) -> Float[Tensor, "layer pos"]:
        """``(patched - corrupted) / (clean - corrupted)`` on the means over images."""
        gap = self.clean_value - self.corrupted_value
        return (self.patched.mean(0) - self.corrupted_value) / gap

    def image_effect(self, image: int) -> Float[Tensor, "layer pos"]:
        """The normalised effect on one image (by its own clean and corrupted values)."""
        gap = self.clean[image] - self.corrupted[image]
        return (self.patched[image] - self.corrupted[image]) / gap

    def gain_on(self, weights: Float[Tensor, "image patch"]) -> Float[Tensor, "image layer"]:
        """Per image, ``patched - corrupted`` averaged over patches with ``weights``.

        In log-probability units, not normalised: an image whose object's removal hardly
        changes the metric would blow a per-image normalisation up. `effect_on` divides the
        mean over images by ``clean_value - corrupted_value``.
        """
        gain = self.patched[..., 1:] - self.corrupted[:, None, None]
        weights = weights / weights.sum(-1, keepdim=True).clamp_min(1e-12)
        return (gain * weights[:, None]).sum(-1)

    def effect_on(self, weights: Float[Tensor, "image patch"]) -> Float[Tensor, " layer"]:
        """The normalised effect of patches averaged with each image's own ``weights``.

        Normalised on means over images, as `effect`.
        """
        return self.gain_on(weights).mean(0) / (self.clean_value - self.corrupted_value)

    def on_grid(self, effect: Tensor | None = None) -> Float[Tensor, "layer row col"]:
        """Patch positions' effects (default: `effect`) laid out on the grid."""
        values = self.effect if effect is None else effect
        return values[:, 1:].reshape(values.shape[0], *self.grid)

    @property
    def cls_effect(self) -> Float[Tensor, " layer"]:
        """The effect of patching [CLS] alone, by layer."""
        return self.effect[:, 0]

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per (layer, position) with its grid cell ([CLS]: row and col -1)."""
        import pandas as pd

        cols = self.grid[1]
        return pd.DataFrame([
            {"layer": layer, "position": pos, "row": (pos - 1) // cols if pos else -1,
             "col": (pos - 1) % cols if pos else -1, "effect": float(value)}
            for layer, row in enumerate(self.effect) for pos, value in enumerate(row)
        ])  # fmt: skip


def remove_objects(
    pixels: Float[Tensor, "image channel height width"],
    masks: Bool[Tensor, "image height width"],
    seed: int = 0,
) -> Float[Tensor, "image channel height width"]:
    """The images with each object's pixels redrawn from the image's background.

    Each object pixel gets a Gaussian draw with the mean and standard deviation of the same
    image's non-object pixels (per channel), so the background texture continues.
    """
    generator = torch.Generator().manual_seed(seed)
    out = pixels.clone()
    for i in range(pixels.shape[0]):
        background = pixels[i][:, ~masks[i]]  # channel x pixels
        mean, std = background.mean(-1, keepdim=True), background.std(-1, keepdim=True)
        noise = torch.randn(pixels.shape[1], int(masks[i].sum()), generator=generator)
        out[i][:, masks[i]] = mean + std * noise
    return out


def move_objects(
    pixels: Float[Tensor, "image channel height width"],
    masks: Bool[Tensor, "image height width"],
    seed: int = 0,
) -> tuple[Float[Tensor, "image channel height width"], Bool[Tensor, "image height width"]]:
    """The images with each object moved to a random place where it fits, and the new masks.

    The object's old pixels are redrawn from the background (`remove_objects`); its pixels
    are then copied, as a block, to a random offset that keeps its bounding box inside the
    image (an offset of 0 when none other fits).
    """
    generator = torch.Generator().manual_seed(seed)
    out = remove_objects(pixels, masks, seed)
    moved = torch.zeros_like(masks)
    height, width = masks.shape[-2:]
    for i in range(pixels.shape[0]):
        rows, cols = torch.nonzero(masks[i], as_tuple=True)
        if rows.numel() == 0:
            continue
        top, left = int(rows.min()), int(cols.min())
        bottom, right = int(rows.max()), int(cols.max())
        dy = int(torch.randint(-top, height - bottom, (1,), generator=generator))
        dx = int(torch.randint(-left, width - right, (1,), generator=generator))
        out[i][:, rows + dy, cols + dx] = pixels[i][:, rows, cols]
        moved[i, rows + dy, cols + dx] = True
    return out, moved


def class_logprob(labels: Int[Tensor, " image"]):  # noqa: ANN201 - a metric
    """The per-image metric: the log-probability of each image's class (``labels``)."""

    def metric(logits: Float[Tensor, "image d_vocab"]) -> Float[Tensor, " image"]:
        return logits.log_softmax(-1).gather(-1, labels.to(logits.device)[:, None])[:, 0]

    return metric


@torch.no_grad()
def patch_image_positions(
    model: Model,
    clean: Float[Tensor, "image channel height width"],
    corrupted: Float[Tensor, "image channel height width"],
    labels: Int[Tensor, " image"],
    *,
    max_rows: int | None = None,
) -> ImagePatching:
    """Patch every (layer, position) of the residual stream from clean into corrupted.

    The patching engine of `mechscope.interventions` does the work: one site
    ``resid_pre`` per (layer, position), many per forward pass, each chunk starting at its
    first block from the corrupted run's cached stream, with the metric kept per image.
    ``max_rows``: rows (images x sites) per forward; ``None``: 64 on the CPU, where
    cache-sized chunks ran 1.6-2.5x faster than 2,048-row ones (vit-shapes, 24 images, 1-2
    threads), and 8,192 on a GPU.

    Raises:
        MechscopeError: a text model, or a corruption that does not change the metric.
        ImageError: images the model does not take, or clean and corrupted of different
            shapes.
    """
    vit = adapt(model).vision("patching on images")
    clean_batch, corrupted_batch = vit.image_batch(clean), vit.image_batch(corrupted)
    n_layers, n_pos = vit.cfg.n_layers, clean_batch.n_positions
    sites = [Site(Component.RESID_PRE, layer, pos=pos)
             for layer in range(n_layers) for pos in range(n_pos)]  # fmt: skip
    metric = class_logprob(labels)
    runs = PairedRuns.run(vit, clean_batch, corrupted_batch, metric,
                          names=patching_hooks(vit, sites))  # fmt: skip
    clean_values = metric(runs.clean.logits).cpu()
    corrupted_values = metric(runs.corrupted.logits).cpu()
    if float((clean_values - corrupted_values).abs().min()) < 1e-6:
        raise MechscopeError(
            "a corrupted image leaves the class log-probability as it was, so no patch can "
            "restore anything there; corrupt the images more (e.g. remove the object) or drop "
            "that image."
        )
    if max_rows is None:
        max_rows = 8192 if clean_batch.pixels.device.type == "cuda" else 64
    sources = runs.clean.get(s.hook_name for s in sites)
    values = patch_groups(vit, runs.corrupted, sources, metric, [[s] for s in sites],
                          max_rows=max_rows, per_prompt=True)  # fmt: skip
    patched = einops.rearrange(values, "(layer pos) image -> image layer pos", layer=n_layers)
    return ImagePatching(patched, clean_values, corrupted_values, vit.vit_cfg.grid,
                         provenance=Provenance(model=model_spec(model)))  # fmt: skip
