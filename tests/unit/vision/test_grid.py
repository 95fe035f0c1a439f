"""Grid maths against straightforward references, and the hand-built left-neighbour head."""

import itertools
import math

import pytest
import torch

from mechscope.core.batch import ImageBatch, ImageError, patch_position
from mechscope.models.hand_built_vit import left_neighbour_vit
from mechscope.models.run import attention_patterns
from mechscope.vision import GridKind, attention_rollout, classify_grid_heads
from mechscope.vision.grid import (
    attention_map,
    mean_attention_distance,
    object_share,
    uniform_distance,
)


def random_patterns(batch: int, layers: int, heads: int, n_pos: int, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    scores = torch.randn(batch, layers, heads, n_pos, n_pos, generator=generator)
    return scores.softmax(-1)


def test_mean_attention_distance_matches_a_loop_over_patch_pairs():
    grid, patch = (3, 4), 2
    patterns = random_patterns(2, 2, 3, 1 + 12)
    got = mean_attention_distance(patterns, grid, patch)
    cells = list(itertools.product(range(3), range(4)))
    for b, layer, head in itertools.product(range(1), range(2), range(3)):
        per_query = []
        for q, (qr, qc) in enumerate(cells):
            row = patterns[:, layer, head, 1 + q, 1:]
            weights = row / row.sum(-1, keepdim=True)
            dist = torch.tensor([math.dist((qr, qc), cell) * patch for cell in cells])
            per_query.append((weights * dist).sum(-1))
        assert torch.allclose(got[layer, head], torch.stack(per_query).mean(), atol=1e-5), b


def test_uniform_attention_has_the_uniform_distance():
    grid = (4, 4)
    patterns = torch.full((1, 1, 1, 17, 17), 1 / 17)
    got = float(mean_attention_distance(patterns, grid, 3)[0, 0])
    assert got == pytest.approx(uniform_distance(grid, 3), rel=1e-5)


def test_rollout_matches_the_recursive_definition():
    patterns = random_patterns(2, 3, 2, 5, seed=1)
    rolled = attention_rollout(patterns)
    eye = torch.eye(5)
    expected = None
    for layer in range(3):
        step = 0.5 * patterns[:, layer].mean(1) + 0.5 * eye
        step = step / step.sum(-1, keepdim=True)
        expected = step if expected is None else step @ expected
        assert torch.allclose(rolled[:, layer], expected, atol=1e-6)
    assert torch.allclose(rolled.sum(-1), torch.ones(2, 3, 5), atol=1e-5)  # rows stay 1


def test_object_share_is_chance_under_uniform_attention_and_1_on_the_object():
    fraction = torch.tensor([[0.0, 0.5, 1.0, 0.0]])
    uniform = torch.full((1, 5), 0.2)
    assert float(object_share(uniform, fraction)) == pytest.approx(0.375)
    on_object = torch.tensor([[0.5, 0.0, 0.0, 0.5, 0.0]])  # half on [CLS], half on patch 2
    assert float(object_share(on_object, fraction)) == pytest.approx(1.0)


def test_the_left_neighbour_head_is_local_with_weight_one_and_drawn_one_cell_left():
    model = left_neighbour_vit(side=4, patch_size=2)
    pixels = torch.rand(3, 1, 8, 8)
    kinds = classify_grid_heads(model, pixels)
    assert float(kinds.score(GridKind.LOCAL)[0, 0]) == pytest.approx(1.0, abs=1e-4)
    assert float(kinds.score(GridKind.ROW)[0, 0]) == pytest.approx(0.0, abs=1e-4)
    assert GridKind.LOCAL in kinds.labels()[(0, 0)]
    assert (0, 1) not in kinds.labels()  # the zero head attends uniformly: no kind
    # 12 of 16 queries move 1 patch (2 px) left; column 0 has no left neighbour: itself
    assert float(kinds.distance[0, 0]) == pytest.approx(12 / 16 * 2.0, abs=1e-3)
    patterns = attention_patterns(model, ImageBatch(pixels, 2))[0, 0, 0]
    for row, col in itertools.product(range(4), range(1, 4)):
        drawn, on_cls = attention_map(patterns, patch_position((row, col), (4, 4)), (4, 4))
        assert on_cls < 1e-6
        assert float(drawn[row, col - 1]) == pytest.approx(1.0, abs=1e-4)
        assert drawn.argmax().item() == row * 4 + col - 1


def test_bad_images_and_grid_positions_say_what_to_do():
    model = left_neighbour_vit(side=4, patch_size=2)
    with pytest.raises(ImageError, match="8x8"):
        model(torch.rand(2, 1, 10, 10))
    with pytest.raises(ImageError, match="3 channels but the model takes 1"):
        model(torch.rand(2, 3, 8, 8))
    with pytest.raises(ImageError, match="does not divide"):
        ImageBatch(torch.rand(1, 1, 9, 9), 2)
    with pytest.raises(ImageError, match="outside the 4x4 patch grid"):
        ImageBatch(torch.rand(1, 1, 8, 8), 2).position(4, 0)
    with pytest.raises(ImageError, match="batch, channel, height, width"):
        ImageBatch(torch.rand(8, 8), 2)
    with pytest.raises(ImageError, match="patch_size=2"):
        model(ImageBatch(torch.rand(1, 1, 8, 8), 4))
