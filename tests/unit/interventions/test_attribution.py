"""Attribution patching: exact where the model is linear, and close to exact patching."""

import pytest
import torch

from mechscope.core.sites import Component, every_site
from mechscope.interventions.activation import activation_patching
from mechscope.interventions.attribution import attribution_patching, correlation
from mechscope.interventions.choices import PatchDirection
from mechscope.interventions.pairs import repeated_pairs
from mechscope.models.hand_built import induction_circuit_model


@pytest.fixture(scope="module")
def model():
    return induction_circuit_model()


@pytest.mark.parametrize("direction", list(PatchDirection))
def test_exact_where_the_metric_is_linear_in_the_site(model, direction):
    # No LayerNorm: the logits are linear in the last residual stream, so is the logit diff.
    task = repeated_pairs(model, n_prompts=4, half=6)
    sites = every_site(Component.RESID_POST, 2, n_pos=task.clean.tokens.shape[1])[
        -task.clean.tokens.shape[1] :
    ]
    runs = task.runs(model)
    exact = activation_patching(runs, sites, direction, progress=False)
    estimate = attribution_patching(runs, sites, direction)
    torch.testing.assert_close(estimate.values, exact.values, atol=1e-4, rtol=0)
    assert estimate.clean == pytest.approx(exact.clean) and estimate.corrupted == pytest.approx(
        exact.corrupted
    )
    # Alone, the target side never runs without gradients: its baseline is the gradient
    # pass's value, the same number.
    fresh = task.runs(model)
    alone = attribution_patching(fresh, sites, direction)
    source, target = (fresh.clean, fresh.corrupted)[:: 1 if direction.value == "denoising" else -1]
    assert (source.passes, target.passes) == (1, 0)
    torch.testing.assert_close(alone.values, estimate.values, atol=1e-5, rtol=0)
    assert alone.clean == pytest.approx(exact.clean, abs=1e-5)
    assert alone.corrupted == pytest.approx(exact.corrupted, abs=1e-5)


def test_head_outputs_correlate_with_exact_patching(model):
    task = repeated_pairs(model, n_prompts=8, half=8)
    sites = every_site(Component.Z, 2, n_heads=2, n_pos=task.clean.tokens.shape[1])
    runs = task.runs(model)
    exact = activation_patching(runs, sites, progress=False)
    estimate = attribution_patching(runs, sites)
    assert estimate.metric == "logit-diff (attribution)"
    assert correlation(exact.normalised, estimate.normalised) > 0.8


def test_correlation_ignores_nans():
    a = torch.tensor([1.0, 2.0, float("nan"), 4.0])
    assert correlation(a, 2 * a) == pytest.approx(1.0)
