"""Vision analyses on a small random ViT: shapes, known limits, save/load, text models refused."""

import pytest
import torch

from mechscope.core.errors import MechscopeError
from mechscope.core.results import load_result
from mechscope.data.images import shapes_set
from mechscope.lens import class_lens
from mechscope.models import HookedViT, ViTConfig
from mechscope.vision import (
    GridHeadKinds,
    classify_grid_heads,
    object_attention,
    patch_image_positions,
    remove_objects,
)


@pytest.fixture(scope="module")
def vit():
    cfg = ViTConfig(image_size=16, patch_size=4, n_classes=4, d_model=32, n_layers=2,
                    n_heads=2, d_mlp=32, seed=3)  # fmt: skip
    return HookedViT(cfg).eval()


@pytest.fixture(scope="module")
def shapes():
    return shapes_set(n_images=24, image_size=16, seed=1)


def test_every_analysis_runs_and_round_trips(vit, shapes, tmp_path):
    kinds = classify_grid_heads(vit, shapes.pixels, shapes.masks, batch_size=7)
    assert kinds.scores.shape == (5, 2, 2)
    assert 0 < kinds.object_chance < 1
    assert float(kinds.object_chance) == pytest.approx(float(shapes.masks.float().mean()), rel=1e-5)
    kinds.save(tmp_path / "kinds")
    loaded = load_result(tmp_path / "kinds")
    assert isinstance(loaded, GridHeadKinds)
    assert torch.equal(loaded.scores, kinds.scores)
    objects = object_attention(vit, shapes.pixels, shapes.masks, batch_size=10)
    assert objects.cls_share.shape == (24, 2) and objects.head_share.shape == (24, 2, 2)
    # with every head averaged, the layer share is the head-mean's share, not a head's mean
    assert ((objects.cls_share >= 0) & (objects.cls_share <= 1)).all()
    lens = class_lens(vit, shapes.pixels, shapes.labels, batch_size=5)
    assert lens.correct.shape == (24, 3)
    final = vit(shapes.pixels).argmax(-1) == shapes.labels
    assert torch.equal(lens.correct[:, -1].bool(), final)  # the last boundary is the model


@torch.no_grad()
def test_patching_matches_a_hooked_run_per_layer_and_position(vit, shapes):
    corrupted = remove_objects(shapes.pixels, shapes.masks, seed=0)
    outside = ~shapes.masks.any(0)
    assert not torch.equal(corrupted, shapes.pixels)
    assert torch.equal(corrupted[:, :, outside], shapes.pixels[:, :, outside])
    result = patch_image_positions(vit, shapes.pixels, corrupted, shapes.labels, max_rows=50)
    assert result.effect.shape == (2, 17) and result.on_grid().shape == (2, 4, 4)
    _, clean = vit.run_with_cache(shapes.pixels, names_filter=lambda n: "resid_pre" in n)

    def logprob(pixels, hooks=()):
        logits = vit.run_with_hooks(pixels, fwd_hooks=list(hooks))
        return float(logits.log_softmax(-1).gather(-1, shapes.labels[:, None]).mean())

    clean_value, corrupted_value = logprob(shapes.pixels), logprob(corrupted)
    assert result.clean_value == pytest.approx(clean_value, abs=1e-5)
    for layer, pos in [(0, 0), (0, 6), (1, 0), (1, 16)]:
        name = f"blocks.{layer}.hook_resid_pre"

        def put_back(act, hook, name=name, pos=pos):  # noqa: ARG001
            act = act.clone()
            act[:, pos] = clean[name][:, pos]
            return act

        patched = logprob(corrupted, [(name, put_back)])
        expected = (patched - corrupted_value) / (clean_value - corrupted_value)
        assert float(result.effect[layer, pos]) == pytest.approx(expected, abs=1e-3)


def test_text_models_are_refused_with_a_pointer(tiny_decoder):
    with pytest.raises(MechscopeError, match="vit-digits"):
        classify_grid_heads(tiny_decoder, torch.rand(1, 1, 16, 16))


def test_per_image_effects_average_over_the_chosen_patches():
    from mechscope.vision import ImagePatching

    patched = torch.zeros(2, 1, 5)
    patched[0, 0] = torch.tensor([0.0, 1.0, 0.5, 0.0, 0.0])  # image 0: clean 1, corrupted 0
    patched[1, 0] = torch.tensor([2.0, 2.0, 4.0, 2.0, 2.0])  # image 1: clean 4, corrupted 2
    result = ImagePatching(patched, torch.tensor([1.0, 4.0]), torch.tensor([0.0, 2.0]), (2, 2))
    assert result.image_effect(1).tolist() == [[0.0, 0.0, 1.0, 0.0, 0.0]]
    weights = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    assert result.gain_on(weights).tolist() == [[0.75], [2.0]]
    assert result.effect_on(weights).tolist() == pytest.approx([(0.75 + 2.0) / 2 / 1.5])
    assert result.effect[0, 2].item() == pytest.approx((2.25 - 1.0) / (2.5 - 1.0))


def test_moving_objects_keeps_their_pixels_and_area(shapes):
    from mechscope.vision import move_objects

    moved, masks = move_objects(shapes.pixels, shapes.masks, seed=4)
    assert torch.equal(masks.sum((1, 2)), shapes.masks.sum((1, 2)))
    for i in range(len(shapes)):
        # the object's pixel values, in the same order, now sit under the new mask
        assert torch.equal(moved[i, 0][masks[i]], shapes.pixels[i, 0][shapes.masks[i]])
    assert not torch.equal(masks, shapes.masks)  # most objects moved somewhere else
