"""The ViT trainer: it learns, checkpoints, resumes bit-identically, refuses what it should."""

import pytest
import torch

from mechscope.core.batch import ImageBatch
from mechscope.models import HookedViT, adapt, load_model
from mechscope.training.config import VitTrainConfig
from mechscope.training.run_dir import RunDirError, list_checkpoints, read_metrics
from mechscope.training.vision import train_vit


def tiny(**changes) -> VitTrainConfig:
    fields = {"dataset": "digits", "patch_size": 4, "n_layers": 1, "n_heads": 2,
              "d_model": 16, "d_mlp": 16, "batch_size": 16, "steps": 6, "eval_every": 3,
              "checkpoint_every": 3, "warmup_steps": 1, "lr": 3e-3} | changes  # fmt: skip
    return VitTrainConfig(**fields)


def test_a_run_learns_and_loads_back_as_a_vit(tmp_path):
    run = train_vit(tiny(steps=60, eval_every=30, checkpoint_every=60), tmp_path / "r",
                    progress=False)  # fmt: skip
    first, last = run.records[0], run.records[-1]
    assert first.held_out_accuracy < 0.25  # 10 classes, random weights
    assert last.held_out_accuracy > 0.3  # measured 0.43 after 60 steps
    assert last.held_out_loss < first.held_out_loss - 0.4
    assert last.held_out_accuracy_se > 0
    assert last.health is not None and last.health.attention_entropy.shape == (1, 2)
    model = load_model(run.final_checkpoint, device="cpu")
    assert isinstance(model, HookedViT)
    assert adapt(model).position_axes == ("row", "col") and not adapt(model).causal
    assert model.vit_cfg.class_names[3] == "3"
    pixels = torch.rand(2, 1, 16, 16)
    assert model(ImageBatch(pixels, 4)).shape == (2, 10)


def test_resume_is_bit_identical(tmp_path):
    straight = train_vit(tiny(), tmp_path / "straight", progress=False)
    train_vit(tiny(steps=3), tmp_path / "resumed", progress=False)
    resumed = train_vit(tiny(), tmp_path / "resumed", resume=True, progress=False)
    a = load_model(straight.final_checkpoint, device="cpu").state_dict()
    b = load_model(resumed.final_checkpoint, device="cpu").state_dict()
    assert all(torch.equal(a[name], b[name]) for name in a)
    assert [r["step"] for r in read_metrics(resumed.run_dir)] == [0, 3, 6]
    assert [s for s, _ in list_checkpoints(resumed.run_dir)] == [3, 6]


def test_resume_with_another_recipe_and_reuse_without_resume_are_refused(tmp_path):
    train_vit(tiny(), tmp_path / "run", progress=False)
    with pytest.raises(RunDirError, match=r"config differs.*d_model: 16 -> 32"):
        train_vit(tiny(d_model=32), tmp_path / "run", resume=True, progress=False)
    with pytest.raises(RunDirError, match="pass --resume"):
        train_vit(tiny(), tmp_path / "run", progress=False)


def test_recipes_are_checked():
    with pytest.raises(ValueError, match="patch_size 3 does not divide the 16-pixel digits"):
        VitTrainConfig(patch_size=3)
    with pytest.raises(ValueError, match="not divisible by n_heads"):
        VitTrainConfig(d_model=30, n_heads=4)
    assert VitTrainConfig(dataset="shapes").patch == 4


def test_cutmix_mixes_targets_by_the_pasted_area():
    from mechscope.training.vision import _cutmix

    # image i is filled with the value i, so the pasted rectangle shows which pixels came
    # from its partner (image i - 1); each target is one-hot on its own class
    pixels = torch.arange(8.0).reshape(8, 1, 1, 1).expand(8, 1, 16, 16).clone()
    targets = torch.eye(8)
    mixed_pixels, mixed = _cutmix(pixels, targets, 1.0, torch.Generator().manual_seed(3))
    assert torch.allclose(mixed.sum(-1), torch.ones(8))
    for i in range(8):
        pasted = float((mixed_pixels[i] == (i - 1) % 8).float().mean())
        assert float(mixed[i, (i - 1) % 8]) == pytest.approx(pasted)
        assert float(mixed[i, i]) == pytest.approx(1 - pasted)
    assert 0 < float(mixed.diagonal().mean()) < 1
