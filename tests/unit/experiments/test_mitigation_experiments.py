"""The mitigation experiments' verdicts on hand-made curves, and a tiny run end to end."""

import math

import pytest
import torch

from experiments.attention_collapse_mitigation.analysis import BASELINE, CollapseMitigationResult
from experiments.attention_collapse_mitigation.config import JOB, Config
from mechscope.core import MechscopeError
from mechscope.core.results import load_result
from tests.jobs import run_job


def _result(collapse_at: list[list[float]]) -> CollapseMitigationResult:
    """Runs whose lowest layer's entropy is 1 nat, then 0.01 from the given step (per seed)."""
    steps = torch.arange(0, 110, 10)
    entropy = torch.ones(len(collapse_at), len(collapse_at[0]), len(steps), 2)
    for run, per_seed in enumerate(collapse_at):
        for seed, step in enumerate(per_seed):
            entropy[run, seed, steps >= step, 0] = 0.01
    held_out = torch.full(entropy.shape[:3], 2.0)
    held_out[1:] -= 0.1  # every remedy ends 0.1 nats below the baseline
    held_out[..., -1] += torch.tensor([0.0, 0.02, -0.02])
    names = [BASELINE, "A", "B", "C", "D", "E"][: len(collapse_at)]
    return CollapseMitigationResult(names, steps, held_out, held_out.clone(), entropy,
                                    torch.ones_like(entropy))  # fmt: skip


def test_verdicts_prevent_delay_and_fail_by_the_median_collapse_step():
    never = math.inf
    rows = _result([
        [30, 40, 50],  # the baseline collapses at 30-50
        [never, never, never],  # A: never
        [60, 90, 100],  # B: every seed, later (median 90)
        [20, 40, 60],  # C: median 40, not later than 40
        [20, 30, never],  # D: one seed never collapses
    ]).verdicts(0.1)  # fmt: skip
    assert [r["verdict"] for r in rows] == [
        "—", "prevents", "delays (median step 90 vs 40)", "does not prevent it",
        "prevents in 1 of 3 seeds"]  # fmt: skip
    assert rows[1]["seeds collapsed"] == "0 of 3" and rows[4]["seeds collapsed"] == "2 of 3"
    assert rows[4]["entropy < 0.1 at step (per seed)"] == "20, 30, never"
    assert rows[1]["final minus no remedy"].startswith("-0.1 ± ")
    assert rows[0]["lowest layer entropy at the end (nats)"] == "0.01 ± 0"


def test_a_baseline_that_never_collapses_leaves_nothing_to_prevent():
    never = math.inf
    rows = _result([[never, never, never], [20, 30, 40]]).verdicts(0.1)
    assert rows[1]["verdict"] == "no collapse to prevent"


def test_the_job_runs_tiny_and_saves_a_result_that_loads_back(tmp_path):
    cfg = Config(out=tmp_path, n_layers=1, d_model=16, n_ctx=16, batch_size=4, steps=10,
                 eval_every=5, seeds=1, remedies=("none", "sigma-reparam"),
                 workers=1)  # fmt: skip
    result = run_job(JOB, cfg)
    assert result.runs == [BASELINE, "sigma-reparam of W_Q, W_K"]
    assert result.held_out.shape == (2, 1, 3)  # run seed evaluation (steps 0, 5, 10)
    assert isinstance(load_result(tmp_path), CollapseMitigationResult)
    assert (tmp_path / "runs" / "sigma-reparam" / "seed-0").is_dir()
    html = (tmp_path / "report.html").read_text()
    assert "which remedies prevent it" in html and "sigma-reparam of W_Q, W_K" in html


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"remedies": ("qk-norm",)}, "need 'none'"),
        ({"remedies": ("none", "magic")}, "unknown remedy 'magic'"),
        ({"workers": 0}, "workers must be at least 1"),
    ],
)
def test_bad_settings_are_refused_in_one_line(tmp_path, changes, message):
    with pytest.raises(ValueError, match=message):
        Config(out=tmp_path, **changes)


def test_the_gradient_job_runs_tiny_and_pairs_each_remedy_with_its_recipe(tmp_path):
    from experiments.gradient_mitigation.analysis import GradientMitigationResult
    from experiments.gradient_mitigation.config import JOB as GRADIENT
    from experiments.gradient_mitigation.config import Config as GradientConfig

    cfg = GradientConfig(out=tmp_path, n_layers=2, d_model=16, n_ctx=16, batch_size=4,
                         steps=10, eval_every=10, seeds=1, workers=1,
                         recipes=("init-x4", "init-x4+depth-init"))  # fmt: skip
    result = run_job(GRADIENT, cfg)
    assert isinstance(result, GradientMitigationResult)
    assert result.pairs == {"init x4 + depth-scaled init": "init x4"}
    assert torch.allclose(result.histogram.sum(-1), torch.ones(2, 1, 2))  # shares per block
    rows = result.verdicts()
    assert rows[0]["remedy minus unremedied"] == "—"
    assert rows[1]["remedy minus unremedied"][0] in "+-"


def test_the_overfitting_job_runs_tiny_with_early_stopping_padded(tmp_path):
    from experiments.overfitting_mitigation.analysis import OverfittingMitigationResult
    from experiments.overfitting_mitigation.config import JOB as OVERFIT
    from experiments.overfitting_mitigation.config import Config as OverfitConfig

    cfg = OverfitConfig(out=tmp_path, steps=20, eval_every=10, seeds=1, d_model=16,
                        batch_size=4, windows=2, workers=1,
                        remedies=("none", "token-noise"))  # fmt: skip
    result = run_job(OVERFIT, cfg)
    assert isinstance(result, OverfittingMitigationResult)
    assert result.rank.shape == (2, 1, 3, 3)  # run seed evaluation boundary
    assert (result.components >= 1).all() and (result.class_ratio > 0).all()
    differences = result.differences()
    assert differences["no remedy"]["loss"][0] == 0.0
    final = result.held_out[:, :, -1]
    assert differences["token noise 0.1"]["loss"][0] == pytest.approx(
        float(final[1].mean() - final[0].mean())
    )
    padded = result.held_out.clone()
    padded[0, 0, -1] = math.nan  # a seed that stopped early: its last logged value counts
    stopped = OverfittingMitigationResult(
        result.runs, result.steps, padded, result.train_loss, result.rank, result.correlation,
        result.components, result.class_ratio)  # fmt: skip
    assert stopped.last(stopped.held_out)[0, 0] == padded[0, 0, 1]


def test_the_vit_job_runs_tiny_on_a_subset(tmp_path):
    from experiments.vit_overfitting_mitigation.analysis import VitOverfittingMitigationResult
    from experiments.vit_overfitting_mitigation.config import JOB as VIT
    from experiments.vit_overfitting_mitigation.config import Config as VitConfig

    cfg = VitConfig(out=tmp_path, dataset="digits", train_images=50, steps=4, eval_every=4,
                    batch_size=8, seeds=1, workers=1, remedies=("none", "dropout"), n_layers=1,
                    d_model=16)  # fmt: skip
    result = run_job(VIT, cfg)
    assert isinstance(result, VitOverfittingMitigationResult)
    assert result.class_ratio.shape == (2, 1, 2)  # run seed boundary (embeddings + 1 block)
    assert result.held_out_accuracy.shape == (2, 1, 2)  # steps 0 and 4
    assert "A ViT over-fitting a small subset" in (tmp_path / "report.html").read_text()


@pytest.mark.parametrize(
    "name",
    ["attention_collapse_mitigation", "gradient_mitigation", "overfitting_mitigation",
     "vit_overfitting_mitigation"],
)  # fmt: skip
def test_full_sets_the_gpu_preset_where_a_field_was_left_at_its_default(name, tmp_path):
    import importlib

    config = importlib.import_module(f"experiments.{name}.config").Config
    full = config(out=tmp_path, full=True)
    assert full.FULL["seeds"] == 10 and full.seeds == 10
    assert all(getattr(full, field) == value for field, value in full.FULL.items())
    assert config(out=tmp_path, full=True, seeds=4).seeds == 4  # given values stay
    assert config(out=tmp_path).seeds == 3 and config(out=tmp_path).device == "cpu"


def test_every_run_trains_on_the_device_given(tmp_path, monkeypatch):
    import experiments.runs

    seen = []
    real = experiments.runs.train

    def spy(*args, device="cpu", **kwargs):  # noqa: ANN002, ANN003, ANN202
        seen.append(device)
        return real(*args, device=device, **kwargs)

    monkeypatch.setattr(experiments.runs, "train", spy)
    cfg = Config(out=tmp_path, n_layers=1, d_model=16, n_ctx=16, batch_size=4, steps=5,
                 eval_every=5, seeds=1, remedies=("none",), workers=1,
                 device="cuda:99")  # fmt: skip
    with pytest.raises(MechscopeError, match="cuda:99"):  # refused in one line, before work
        run_job(JOB, cfg)
    assert seen == ["cuda:99"] and not (tmp_path / "result.json").exists()
