"""Activation patching on images: which patch positions carry the object, layer by layer.

The corrupted image is the clean one with its object removed (`remove_objects`: the object's
pixels redrawn from the image's own background). For each layer ``l`` and position ``p``
([CLS] or a patch), the corrupted run continues from block ``l`` with the residual stream
entering it at ``p`` replaced by the clean run's (``blocks.l.hook_resid_pre``), all positions
of a layer in one batch. The metric is the mean log-probability of the clean image's class;
the effect is normalised as in `mechscope.interventions`: 0 = the corrupted run, 1 = the
clean run (``(patched - corrupted) / (clean - corrupted)``, on means over images).
"""

from dataclasses import dataclass
from typing import Any, ClassVar

import einops
import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from mechscope.core.batch import ImageBatch
from mechscope.core.errors import MechscopeError
from mechscope.core.results import Provenance, Result
from mechscope.models.adapter import adapt, model_spec
from mechscope.models.base import Model
from mechscope.models.run import boundary_stream


@dataclass(frozen=True)
class ImagePatching(Result):
    """Normalised effect of patching each (layer, position) from clean into corrupted."""

    kind: ClassVar[str] = "image-patching"
    effect: Float[Tensor, "layer pos"]
    """Position 0 is [CLS]; then the patches row by row."""
    clean_value: float
    corrupted_value: float
    grid: tuple[int, int]
    n_images: int

    def __post_init__(self) -> None:
        rows, cols = self.grid
        if self.effect.shape[1] != 1 + rows * cols:
            raise ValueError(f"effect {tuple(self.effect.shape)} does not fit a {rows}x{cols} "
                             "grid plus [CLS]")  # fmt: skip

    def on_grid(self) -> Float[Tensor, "layer row col"]:
        """The patch positions' effects laid out on the grid."""
        return self.effect[:, 1:].reshape(self.effect.shape[0], *self.grid)

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

    def _tensors(self) -> dict[str, Tensor]:
        return {"effect": self.effect}

    def _data(self) -> dict[str, Any]:
        return {"clean_value": self.clean_value, "corrupted_value": self.corrupted_value,
                "grid": list(self.grid), "n_images": self.n_images}  # fmt: skip

    @classmethod
    def _from_saved(cls, tensors: dict[str, Tensor], data: dict[str, Any]) -> "ImagePatching":
        rows, cols = data["grid"]
        return cls(tensors["effect"], data["clean_value"], data["corrupted_value"],
                   (rows, cols), data["n_images"])  # fmt: skip


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


def _true_logprob(logits: Tensor, labels: Tensor) -> Tensor:
    return logits.log_softmax(-1).gather(-1, labels[:, None])[:, 0]


@torch.no_grad()
def patch_image_positions(
    model: Model,
    clean: Float[Tensor, "image channel height width"],
    corrupted: Float[Tensor, "image channel height width"],
    labels: Int[Tensor, " image"],
    *,
    max_rows: int = 2048,
) -> ImagePatching:
    """Patch every (layer, position) of the residual stream from clean into corrupted.

    Raises:
        MechscopeError: a text model, or clean and corrupted of different shapes, or a
            corruption that does not change the metric. ImageError: images the model does
            not take.
    """
    vit = adapt(model).vision("patching on images")
    if clean.shape != corrupted.shape:
        raise MechscopeError(
            f"clean {tuple(clean.shape)} and corrupted {tuple(corrupted.shape)} images differ "
            "in shape; give one corrupted image per clean one."
        )
    patch = vit.vit_cfg.patch_size
    clean_stream = boundary_stream(vit, ImageBatch(vit.check_images(clean), patch))
    corrupt_stream = boundary_stream(vit, ImageBatch(vit.check_images(corrupted), patch))
    labels = labels.to(clean_stream.device)
    clean_value = float(_true_logprob(vit.classify(clean_stream[-1]), labels).mean())
    corrupted_value = float(_true_logprob(vit.classify(corrupt_stream[-1]), labels).mean())
    if abs(clean_value - corrupted_value) < 1e-6:
        raise MechscopeError(
            "the corrupted images leave the class log-probability as it was, so no patch can "
            "restore anything; corrupt the images more (e.g. remove the object)."
        )
    n_images, n_pos = clean_stream.shape[1], clean_stream.shape[2]
    effect = torch.zeros(vit.cfg.n_layers, n_pos)
    per_chunk = max(1, max_rows // n_images)
    for layer in range(vit.cfg.n_layers):
        for first in range(0, n_pos, per_chunk):
            positions = torch.arange(first, min(n_pos, first + per_chunk))
            rows = einops.repeat(corrupt_stream[layer], "b p d -> (r b) p d", r=len(positions))
            rows = rows.clone()
            replica = torch.arange(len(positions)).repeat_interleave(n_images)
            image = torch.arange(n_images).repeat(len(positions))
            at = positions[replica]
            rows[torch.arange(rows.shape[0]), at] = clean_stream[layer][image, at]
            logits = vit.classify_from(rows, layer)
            value = _true_logprob(logits, labels[image]).reshape(len(positions), n_images)
            effect[layer, positions] = value.mean(-1).cpu()
    normalised = (effect - corrupted_value) / (clean_value - corrupted_value)
    return ImagePatching(normalised, clean_value, corrupted_value, vit.vit_cfg.grid, n_images,
                         provenance=Provenance(model=model_spec(model)))  # fmt: skip
