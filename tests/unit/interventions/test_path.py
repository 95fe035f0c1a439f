"""Path patching finds the previous-token -> induction K-composition path."""

import pytest

from mechscope.core.errors import MechscopeError
from mechscope.core.sites import Component
from mechscope.interventions.pairs import repeated_pairs
from mechscope.interventions.path import path_patching, sender_sweep
from mechscope.models.hand_built import (
    INDUCTION_HEAD,
    PREVIOUS_TOKEN_HEAD,
    SINK_HEAD,
    induction_circuit_model,
)


@pytest.fixture(scope="module")
def model():
    return induction_circuit_model()


@pytest.fixture(scope="module")
def task(model):
    return repeated_pairs(model, n_prompts=8, half=8)


def test_the_previous_token_head_acts_through_the_induction_keys(model, task):
    runs = task.runs(model)
    keys = path_patching(runs, [PREVIOUS_TOKEN_HEAD], [INDUCTION_HEAD], Component.K)
    assert keys.normalised < 0.25  # the path carries most of the behaviour (measured 0.16)
    queries = path_patching(runs, [PREVIOUS_TOKEN_HEAD], [INDUCTION_HEAD], Component.Q)
    assert queries.normalised == pytest.approx(1.0, abs=0.02)  # queries read the token itself
    grid = sender_sweep(runs, [INDUCTION_HEAD], Component.K)
    assert grid[SINK_HEAD] == pytest.approx(1.0, abs=0.02)
    assert grid[1].isnan().all()


def test_bad_paths_are_refused(model, task):
    runs = task.runs(model)
    with pytest.raises(MechscopeError, match="later layer"):
        path_patching(runs, [INDUCTION_HEAD], [PREVIOUS_TOKEN_HEAD])
    with pytest.raises(MechscopeError, match="Q, K or V"):
        path_patching(runs, [PREVIOUS_TOKEN_HEAD], [INDUCTION_HEAD], Component.Z)
    with pytest.raises(MechscopeError, match="out of range"):
        path_patching(runs, [(0, 7)], [INDUCTION_HEAD])
