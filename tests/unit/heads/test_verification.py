"""verify: ablating labelled heads on the hand-built model moves the metric they predict."""

import pytest

from mechscope.core.errors import MechscopeError
from mechscope.heads import HeadKind, detect_heads
from mechscope.heads.verification import verify
from mechscope.models.hand_built import (
    INDUCTION_HEAD,
    PREVIOUS_TOKEN_HEAD,
    induction_circuit_model,
)


@pytest.fixture(scope="module")
def model():
    return induction_circuit_model()


def test_removing_the_induction_head_costs_the_second_copy(model):
    prompts = ["abcdefabcdef", "lkjihglkjihg"]
    scores = detect_heads(model, prompts, ["induction", "previous-token"], progress=False)
    check = verify(model, scores, "induction", prompts, k=1)
    assert check.top.heads == (INDUCTION_HEAD,)
    # Random rows of 12 letters repeat letters within a half, which splits the induction
    # head's attention (clean loss ~1.5 nats, not ~0.2); removing the head still costs > 1.
    assert float(check.top.change[0]) > 1.0
    assert abs(float(check.control.change[0])) < 0.1  # the idle or sink head: no effect
    assert check.specific
    # Controls come from outside the circuit: never the previous-token head that feeds it
    # (the lowest induction score, which the old choice of controls picked).
    wide = verify(model, scores, "induction", prompts, k=3)
    assert PREVIOUS_TOKEN_HEAD not in wide.control.heads
    assert INDUCTION_HEAD not in wide.control.heads
    assert check.verdict().startswith("induction: supported: removing a top head changes")
    # The previous-token head feeds the induction head's keys: removing it hurts as much.
    previous = verify(model, scores, HeadKind.PREVIOUS_TOKEN, prompts, k=1)
    assert previous.top.heads == (PREVIOUS_TOKEN_HEAD,)
    assert float(previous.top.change[0]) > 0.5
    assert {r["group"] for r in check.rows()} == {"top", "control"}


def test_verify_refuses_diagnostics_unscored_kinds_and_encoders(model, tiny_encoder):
    scores = detect_heads(model, ["abcabc"], ["entropy"], progress=False)
    with pytest.raises(MechscopeError, match="scored label kind"):
        verify(model, scores, "entropy", ["abcabc"])
    with pytest.raises(MechscopeError, match="scored label kind"):
        verify(model, scores, "induction", ["abcabc"])
    with pytest.raises(MechscopeError, match="unembedding"):
        verify(tiny_encoder, scores, "entropy", ["abcabc"])
