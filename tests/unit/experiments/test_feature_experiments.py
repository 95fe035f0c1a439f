"""The feature experiments' own logic on hand-made labels, and their one-line errors."""

import pytest
import torch

from experiments.feature_hierarchy.analysis import depth_by_level, layers_of, verdicts
from mechscope.features import FeatureLabels


def _labels(family: str, n: int = 30) -> FeatureLabels:
    """n live features, every one explained by its label of ``family`` (F1 0.9)."""
    families = ("token", "upos", "deprel", "sentiment")
    f1 = torch.zeros(n, len(families))
    f1[:, families.index(family)] = 0.9
    return FeatureLabels(
        hook="h", families=families, labels=[["x"] * n for _ in families], precision=f1,
        recall=f1, f1=f1, control=torch.full((n, len(families)), 0.1),
        fired=torch.full((n,), 5), n_tokens=100,
    )  # fmt: skip


def test_layers_every_one_for_shallow_models_every_third_and_the_last_for_deep_ones():
    assert layers_of(6, 3) == [0, 1, 2, 3, 4, 5]
    assert layers_of(30, 3) == [0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 29]


def test_depth_by_level_and_the_ordering_verdict():
    rising = [_labels("token"), _labels("upos"), _labels("deprel"), _labels("sentiment")]
    depth = depth_by_level(rising, n_boot=50)
    assert depth["token identity"][:1] == (0.0,) and depth["sentiment/genre"][0] == 1.0
    assert depth["part of speech"][0] == pytest.approx(1 / 3)
    assert depth["unexplained"][3] == 0
    rows = [{"model": "m", "layer": i, "shares": {level: [0.0, 0.0, 0.0] for level in depth}}
            for i in range(4)]  # fmt: skip
    lines = verdicts(rows, {"m": depth})
    assert lines[-1].startswith("m: the levels' depths are in the order")
    falling = depth_by_level(rising[::-1], n_boot=50)
    assert "are not in the order" in verdicts(rows, {"m": falling})[-1]


def test_missing_data_or_saes_fail_in_one_line_with_exit_2(tmp_path, capsys, tiny_decoder):
    from experiments.feature_hierarchy.__main__ import main
    from experiments.smollm_features.analysis import sae_at
    from experiments.smollm_features.config import Config
    from mechscope.core import MechscopeError

    assert main(["--sst2-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "train.tsv" in err[0]
    with pytest.raises(MechscopeError, match="python -m experiments.feature_hierarchy"):
        sae_at(Config(hierarchy=tmp_path), tiny_decoder, 1)


def test_the_graphs_experiment_without_transcoders_fails_in_one_line(tmp_path, capsys):
    from experiments.smollm_graphs.__main__ import main

    assert main(["--transcoders", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "mechscope sae train MODEL --transcoder" in err[0]
    assert not (tmp_path / "o").exists()


def test_a_fisher_interval_holds_its_correlation():
    from experiments.smollm_graphs.analysis import fisher

    low, high = fisher(0.8, 40)
    # z = atanh(0.8) = 1.0986, se = 1/sqrt(37) = 0.1644: tanh(1.0986 -+ 1.96 x 0.1644)
    assert (low, high) == pytest.approx((0.6506, 0.8898), abs=1e-4)
    assert all(v != v for v in fisher(0.5, 3))  # too few pairs: nan
