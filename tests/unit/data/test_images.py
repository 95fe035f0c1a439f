"""The offline image sets: shapes, masks, splits."""

import numpy as np
import pytest
import torch

from mechscope.core.errors import MechscopeError
from mechscope.data.images import (
    SHAPE_KINDS,
    digits_set,
    load_image_set,
    patch_object_fraction,
    shape_mask,
    shapes_set,
)


def test_digits_are_the_real_1797_with_a_stratified_split():
    digits = digits_set()
    assert digits.pixels.shape == (1797, 1, 16, 16)
    assert float(digits.pixels.min()) >= 0 and float(digits.pixels.max()) <= 1
    assert int(digits.test.sum()) == 359
    per_class = torch.bincount(digits.labels[digits.test], minlength=10)
    assert int(per_class.min()) >= 35  # each class keeps about 20% held out
    held_out = digits.part(held_out=True)
    assert len(held_out) == 359 and bool(held_out.test.all())


def test_shapes_are_deterministic_and_their_masks_match_the_pixels():
    a, b = shapes_set(n_images=40, seed=7), shapes_set(n_images=40, seed=7)
    assert torch.equal(a.pixels, b.pixels) and torch.equal(a.masks, b.masks)
    assert a.class_names == SHAPE_KINDS
    for image, mask in zip(a.pixels[:, 0], a.masks, strict=True):
        assert mask.any()
        # the object is bright (>= 0.6) and the background is noise around 0
        assert float(image[mask].mean()) > float(image[~mask].mean()) + 0.4


def test_shape_masks_have_their_shape():
    side = 32
    square = shape_mask("square", 10, (16.0, 16.0), side)
    circle = shape_mask("circle", 10, (16.0, 16.0), side)
    assert int(square.sum()) == 100
    assert int(circle.sum()) == pytest.approx(np.pi * 25, rel=0.1)
    triangle = shape_mask("triangle", 10, (16.0, 16.0), side)
    rows = triangle.sum(1)[triangle.any(1)]
    assert rows[0] < rows[-1]  # apex up


def test_patch_object_fraction_pools_the_mask():
    mask = torch.zeros(1, 4, 4, dtype=torch.bool)
    mask[0, :2, :1] = True  # half of the first 2x2 patch
    assert patch_object_fraction(mask, 2).tolist() == [[0.5, 0.0, 0.0, 0.0]]


def test_unknown_sets_name_the_choices():
    with pytest.raises(MechscopeError, match="digits, shapes"):
        load_image_set("cifar")
