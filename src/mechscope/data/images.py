"""Image sets that need no network: scikit-learn's digits, and generated shapes with masks.

Each set holds pixels (``image channel height width``), integer labels, an object mask per
image (the pixels that belong to the object: a digit's ink, a shape's area) and a fixed
train/test split, so a model is fitted on one part and measured on the other.

- **digits** (`digits_set`): the 1,797 real 8x8 handwritten digits of scikit-learn's
  ``load_digits`` (UCI; values 0-16, scaled to 0-1), upsampled bilinearly to 16x16 so that
  2-pixel patches give an 8x8 grid whose patches each mix a pixel with its neighbours. The
  object mask is the ink: original pixels above 4/16, upsampled by repetition. 20% held out
  (stratified by class, seed 0).
- **shapes** (`shapes_set`): 32x32 grey images of one or two filled shapes of one kind (the
  label: square, circle, triangle, cross) of random size (6-12 px) and brightness (0.6-1) at
  random non-overlapping positions, on Gaussian noise (sd 0.15); the mask is the shapes' area.
  Generated from a seed, so the set is the same everywhere.
"""

from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from mechscope.core.errors import MechscopeError

SHAPE_KINDS = ("square", "circle", "triangle", "cross")
"""The classes of the shapes set, in label order."""


class ImageSetName(Enum):
    """The image sets mechscope generates or loads offline."""

    DIGITS = "digits"
    SHAPES = "shapes"


@dataclass(frozen=True)
class ImageSet:
    """Images with labels, object masks and a train/test split."""

    pixels: Float[Tensor, "image channel height width"]
    labels: Int[Tensor, " image"]
    masks: Bool[Tensor, "image height width"]
    """True on the object's pixels."""
    test: Bool[Tensor, " image"]
    """True for the held-out images."""
    class_names: tuple[str, ...]
    name: str

    def part(self, held_out: bool) -> "ImageSet":
        """The held-out images (``held_out``) or the training ones."""
        keep = self.test if held_out else ~self.test
        return ImageSet(self.pixels[keep], self.labels[keep], self.masks[keep],
                        self.test[keep], self.class_names, self.name)  # fmt: skip

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def image_size(self) -> int:
        """Side of the (square) images, in pixels."""
        return int(self.pixels.shape[-1])

    def subset(self, index: Int[Tensor, " n"] | slice) -> "ImageSet":
        """The images at ``index``."""
        return ImageSet(self.pixels[index], self.labels[index], self.masks[index],
                        self.test[index], self.class_names, self.name)  # fmt: skip


def load_image_set(name: ImageSetName | str, *, seed: int = 0) -> ImageSet:
    """The digits or shapes set (``seed`` draws the shapes; the digits split is fixed).

    Raises:
        MechscopeError: an unknown name.
    """
    try:
        which = ImageSetName(name) if isinstance(name, str) else name
    except ValueError:
        choices = ", ".join(n.value for n in ImageSetName)
        raise MechscopeError(f"unknown image set {name!r}; choose one of {choices}.") from None
    return digits_set() if which is ImageSetName.DIGITS else shapes_set(seed=seed)


def _stratified_test(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    test = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        index = np.flatnonzero(labels == label)
        test[rng.permutation(index)[: round(fraction * len(index))]] = True
    return test


def digits_set(upsample: int = 2) -> ImageSet:
    """scikit-learn's 1,797 digits at ``8 * upsample`` pixels a side (see the module)."""
    from sklearn.datasets import load_digits

    digits: Any = load_digits()
    raw = torch.tensor(digits.images, dtype=torch.float32)[:, None] / 16.0
    size = 8 * upsample
    pixels = torch.nn.functional.interpolate(raw, size=(size, size), mode="bilinear",
                                             align_corners=False)  # fmt: skip
    ink = (raw[:, 0] > 0.25).repeat_interleave(upsample, 1).repeat_interleave(upsample, 2)
    labels = torch.tensor(digits.target, dtype=torch.long)
    test = torch.from_numpy(_stratified_test(digits.target, 0.2, seed=0))
    names = tuple(str(i) for i in range(10))
    return ImageSet(pixels.contiguous(), labels, ink, test, names, ImageSetName.DIGITS.value)


def shape_mask(kind: str, size: int, centre: tuple[float, float], side: int) -> np.ndarray:
    """The filled ``kind`` of width ``size`` centred at ``centre`` on a ``side``-pixel square."""
    y, x = np.mgrid[0:side, 0:side].astype(np.float64) + 0.5
    cy, cx = centre
    dy, dx, half = y - cy, x - cx, size / 2
    if kind == "square":
        return (np.abs(dy) <= half) & (np.abs(dx) <= half)
    if kind == "circle":
        return dy**2 + dx**2 <= half**2
    if kind == "triangle":  # apex up, base at the bottom
        depth = dy + half  # 0 at the apex, size at the base
        return (depth >= 0) & (depth <= size) & (np.abs(dx) <= depth / 2)
    arm = max(size / 6, 1.0)  # cross: a plus sign
    return ((np.abs(dy) <= arm) & (np.abs(dx) <= half)) | (
        (np.abs(dx) <= arm) & (np.abs(dy) <= half)
    )


def shapes_set(
    n_images: int = 5000, image_size: int = 32, *, seed: int = 0, test_fraction: float = 0.2
) -> ImageSet:
    """Generated shapes with their masks (see the module)."""
    rng = np.random.default_rng(seed)
    pixels = rng.normal(0.0, 0.15, (n_images, image_size, image_size)).astype(np.float32)
    masks = np.zeros((n_images, image_size, image_size), dtype=bool)
    labels = rng.integers(0, len(SHAPE_KINDS), n_images)
    for i in range(n_images):
        kind = SHAPE_KINDS[labels[i]]
        for _ in range(1 + int(rng.random() < 0.5)):
            for _attempt in range(20):  # a position that does not touch the shape already drawn
                size = int(rng.integers(6, 13))
                margin = size / 2 + 1
                centre = tuple(rng.uniform(margin, image_size - margin, 2))
                shape = shape_mask(kind, size, (centre[0], centre[1]), image_size)
                grown = np.zeros_like(shape)
                grown[1:] |= shape[:-1]
                grown[:-1] |= shape[1:]
                grown[:, 1:] |= shape[:, :-1]
                grown[:, :-1] |= shape[:, 1:]
                if not (grown & masks[i]).any():
                    break
            else:
                continue
            pixels[i][shape] = rng.uniform(0.6, 1.0)
            masks[i] |= shape
    test = np.zeros(n_images, dtype=bool)
    test[rng.permutation(n_images)[: round(test_fraction * n_images)]] = True
    return ImageSet(torch.from_numpy(pixels)[:, None], torch.from_numpy(labels).long(),
                    torch.from_numpy(masks), torch.from_numpy(test), SHAPE_KINDS,
                    ImageSetName.SHAPES.value)  # fmt: skip


def patch_object_fraction(
    masks: Bool[Tensor, "image height width"], patch_size: int
) -> Float[Tensor, "image patch"]:
    """The share of each patch's pixels that belong to the object, patches row by row."""
    pooled = torch.nn.functional.avg_pool2d(masks[:, None].float(), patch_size)
    return pooled.flatten(1)
