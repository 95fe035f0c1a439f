"""One CLI command each: train/resume/reproduce on a tiny corpus, and the lens commands."""

import json

from mechscope.cli import main


def _corpus(tmp_path):
    path = tmp_path / "corpus.py"
    path.write_text("def f(x):\n    return x * 2\n\nprint(f(3))\n" * 60)
    return str(path)


TINY_RECIPE = [
    "--n-heads", "2", "--d-model", "16", "--n-ctx", "32", "--batch-size", "4", "--steps", "6",
    "--eval-every", "3", "--checkpoint-every", "3", "--eval-prompts", "4", "--span-min", "2",
    "--span-max", "6", "--icl-windows", "8",
]  # fmt: skip


def test_train_then_resume_then_reproduce_from_checkpoints(tmp_path, capsys):
    corpus = _corpus(tmp_path)
    runs = tmp_path / "runs"
    for name, layers in (("induction-2l", "2"), ("induction-1l", "1")):
        argv = ["train", "--out", str(runs / name), "--n-layers", layers, *TINY_RECIPE]
        assert main([*argv, "--corpus", corpus]) == 0
    assert "checkpoint:" in capsys.readouterr().out
    logged = [json.loads(line) for line in (runs / "induction-2l" / "metrics.jsonl").open()]
    assert [r["step"] for r in logged] == [0, 3, 6]
    assert all(r["icl_score_se"] > 0 for r in logged)  # the ICL score carries its error
    # Resume to more steps with nothing but --steps: the saved config is reused.
    assert main(["train", "--out", str(runs / "induction-2l"), "--resume", "--steps", "9"]) == 0
    assert "step 9:" in capsys.readouterr().out
    out = tmp_path / "report"
    argv = ["reproduce", "induction", "--from-checkpoints", str(runs), "--out", str(out)]
    assert main([*argv, "--eval-prompts", "4", "--icl-windows", "16"]) == 0
    printed = capsys.readouterr().out
    assert "2-layer heads" in printed and "ablation (2-layer)" in printed
    assert "ICL score on 16 held-out windows" in printed
    assert (out / "report.html").is_file() and (out / "result.json").is_file()


def test_lens_and_tuned_lens_commands(tmp_path, capsys):
    out = tmp_path / "lens"
    assert main(["lens", "induction-2l", "--prompt", "abcabc", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "logit lens at the last position" in printed and "after block 1" in printed
    assert (out / "report.html").is_file() and (out / "result.json").is_file()
    trained = tmp_path / "tuned"
    argv = ["tuned-lens", "induction-2l", "--out", str(trained), "--steps", "3"]
    assert main([*argv, "--batch-size", "2"]) == 0
    assert "tuned lens" in capsys.readouterr().out
    assert (trained / "comparison" / "result.json").is_file()
    assert main(["lens", "induction-2l", "--prompt", "ab", "--tuned-lens", str(trained),
                 "--out", str(out), "--overwrite"]) == 0  # fmt: skip
    assert "tuned lens at the last position" in capsys.readouterr().out
    assert main(["lens", "minilm", "--prompt", "hi", "--out", str(tmp_path / "refused-1")]) == 2
    assert "encoder" in capsys.readouterr().err
