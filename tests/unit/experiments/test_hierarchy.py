"""The whole-claim page's rules: peaks, tied ranges, thirds and verdicts, on made-up profiles."""

import pytest

from experiments.hierarchy.analysis import THIRDS, profile, verdicts, where


def test_the_peak_and_the_layers_tied_with_it():
    row = profile("pos", "minilm", "GUM", [0.0, 0.25, 0.5, 0.75, 1.0],
                  [0.5, 0.90, 0.93, 0.80, 0.70], [0.48, 0.88, 0.91, 0.78, 0.68],
                  [0.52, 0.92, 0.95, 0.82, 0.72], expected=(0.3, 0.25, 0.35))  # fmt: skip
    # layer 0.25's upper bound (0.92) reaches the peak's lower bound (0.91); 0.75's (0.82) not
    assert (row["peak"], row["tied_low"], row["tied_high"]) == (0.5, 0.25, 0.5)
    assert row["model"] == "MiniLM" and row["expected"] == 0.3
    bare = profile("x", "smollm2-135m", "GUM", [0.0, 1.0], [float("nan"), 0.4])
    assert (bare["peak"], bare["tied_low"], bare["tied_high"]) == (1.0, 1.0, 1.0)
    loss = profile("loss", "m", "s", [0.0, 1.0], [3.0, 2.0], [2.9, 1.9], [3.1, 2.1],
                   higher_is_better=False)  # fmt: skip
    assert loss["peak"] == 1.0 and loss["tied_low"] == 1.0


@pytest.mark.parametrize(("low", "high", "claim", "word"), [
    (0.1, 0.3, "early", "right"), (0.2, 0.5, "early", "partly"), (0.7, 0.9, "early", "wrong"),
    (0.4, 0.6, "middle", "right"), (0.7, 1.0, "late", "right"), (0.5, 0.9, "late", "partly"),
])  # fmt: skip
def test_thirds(low, high, claim, word):
    assert where(low, high, claim) == word
    assert THIRDS["middle"] == (1 / 3, 2 / 3)


def test_a_claim_is_right_only_when_every_piece_of_evidence_is():
    def row(what: str, low: float, high: float, model: str = "minilm") -> dict:
        return profile(what, model, "GUM", [low, high], [0.9, 0.9], [0.8, 0.8], [1.0, 1.0])

    rows = [row("part of speech (UPOS probe)", 0.1, 0.2),
            row("sentiment (SST-2, mean pooled)", 0.8, 0.9),
            row("genre (sentence probe)", 0.4, 0.9),
            row("part of speech (UPOS probe)", 0.5, 0.6, "smollm2-135m")]  # fmt: skip
    found = {(v["claim"], v["model"]): v for v in verdicts(rows, {"MiniLM": {}, "SmolLM2": {}})}
    assert found[1, "MiniLM"]["verdict"] == "right"
    assert found[1, "SmolLM2"]["verdict"] == "wrong"
    assert found[4, "MiniLM"]["verdict"] == "partly"  # sentiment late, genre spans the middle
    assert "expected late: partly" in found[4, "MiniLM"]["evidence"]
    assert (2, "MiniLM") not in found  # no evidence, no verdict
    composition = {"induction": [("5.1", 0.9)], "previous": [("2.0", 0.8)], "holds": True}
    found = verdicts([], {"SmolLM2": {"induction": composition}})
    assert [v["verdict"] for v in found] == ["right"]
