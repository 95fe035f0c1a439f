"""``mechscope diagnose`` end to end on the shipped induction model."""

from mechscope.cli import main
from mechscope.core.results import load_result
from mechscope.diagnostics import AttentionStats, GradientNorms, RankStats


def test_diagnose_writes_every_result_and_explains_its_flags(tmp_path, capsys):
    out = tmp_path / "diag"
    assert main(["diagnose", "induction-2l", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "heads collapsed (normalised entropy < 0.1: one-hot, > 0.9: uniform)" in printed
    assert "healthy" in printed  # the trained model's gradients: ratio 1.09 measured
    assert isinstance(load_result(out / "attention"), AttentionStats)
    rank = load_result(out / "rank")
    assert isinstance(rank, RankStats) and rank.res.shape[0] == 3
    assert isinstance(load_result(out / "gradients"), GradientNorms)
    assert "Effective number of heads" in (out / "report.html").read_text()


def test_diagnose_refuses_two_sources(tmp_path, capsys):
    prompts = tmp_path / "p.txt"
    prompts.write_text("hello\n")
    argv = ["diagnose", "induction-2l", "--prompts", str(prompts), "--conllu", str(prompts)]
    assert main([*argv, "--out", str(tmp_path)]) == 2
    assert "not both" in capsys.readouterr().err
