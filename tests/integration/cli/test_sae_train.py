"""``mechscope sae train`` and ``mechscope features`` on the shipped induction-2l."""

import json

import pytest

pytest.importorskip("sae_lens", reason="install mechscope[sae] for the SAE commands")

from mechscope.cli import main  # noqa: E402
from mechscope.core.results import load_result  # noqa: E402
from mechscope.features import FeatureLabels, FeatureReading, load_sae  # noqa: E402
from tests.browser import assert_drew  # noqa: E402


def test_sae_train_writes_saelens_saes_their_metrics_and_a_report_that_draws(tmp_path, capsys):
    out = tmp_path / "saes"
    argv = ["sae", "train", "induction-2l", "--layers", "1", "--out", str(out), "--k", "8",
            "--width", "128", "--tokens", "32768", "--read-tokens", "8000", "--batch-size", "512",
            "--eval-tokens", "1000", "--checkpoints", "1"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "resid_post-1" in printed
    for layer in (1,):
        run = out / f"resid_post-{layer}"
        sae = load_sae(run)
        assert sae.cfg.d_in == 128 and sae.cfg.d_sae == 128
        assert sae.cfg.metadata.hook_name == f"blocks.{layer}.hook_resid_post"
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["l0"] <= 8 + 1e-6
        # the splice with its error term is the clean model, to the bit
        assert metrics["loss_with_error"] == metrics["loss_clean"]
        # even this small SAE (64 steps) keeps much of the loss zero-ablating the stream
        # loses: measured 0.75 ± 0.01 (0.52 ± 0.03 at layer 0)
        assert metrics["loss_recovered_zero"] > 0.25
        assert (run / "checkpoints").is_dir() and (run / "evaluation" / "result.json").is_file()
    shown = assert_drew(out / "report.html")
    assert shown.n_figures == 2
    # a second run into the same --out is refused; --resume continues it
    assert main(argv) == 2
    assert "pass --resume" in capsys.readouterr().err
    # read the layer-1 SAE's features: the browser draws, the result loads back
    read = tmp_path / "read"
    argv = ["features", "induction-2l", "--sae", str(out / "resid_post-1"), "--out", str(read),
            "--tokens", "1000", "--label", "--label-sentences", "10"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "features fired on" in printed and "labels:" in printed
    reading = load_result(read)
    assert isinstance(reading, FeatureReading) and reading.hook == "blocks.1.hook_resid_post"
    labels = load_result(read / "labels")
    assert isinstance(labels, FeatureLabels) and "induction" in labels.families
    shown = assert_drew(read / "report.html")
    assert shown.n_figures == 1 and "feature-search" in shown.dom and "P " in shown.dom
