"""``mechscope train-vit``: train, resume, its report draws, and bad input is one line."""

import json

import pytest

from mechscope.cli import main
from tests.browser import assert_drew

TINY = ["--dataset", "digits", "--n-layers", "1", "--n-heads", "2", "--d-model", "16",
        "--d-mlp", "16", "--batch-size", "8", "--steps", "4", "--eval-every", "2",
        "--checkpoint-every", "2"]  # fmt: skip


def test_train_resume_and_the_report(tmp_path, capsys):
    out = tmp_path / "vit"
    assert main(["train-vit", "--out", str(out), *TINY]) == 0
    printed = capsys.readouterr().out
    assert "held-out accuracy" in printed and "checkpoint:" in printed
    assert main(["train-vit", "--out", str(out), "--resume", "--steps", "6"]) == 0
    assert "step 6:" in capsys.readouterr().out
    logged = [json.loads(line) for line in (out / "metrics.jsonl").open()]
    assert [r["step"] for r in logged] == [0, 2, 4, 6]
    assert all(0 <= r["held_out_accuracy"] <= 1 for r in logged)
    shown = assert_drew(out / "report.html")
    assert shown.n_figures >= 4  # loss, accuracy, gradient norms, entropy, rank


@pytest.mark.parametrize(("argv", "message"), [
    (["--patch-size", "3"], "patch_size 3 does not divide the 16-pixel digits images"),
    (["--dataset", "cifar"], "cifar"),
    (["--d-model", "30"], "not divisible by n_heads"),
])  # fmt: skip
def test_bad_recipes_are_one_line_errors(tmp_path, capsys, argv, message):
    assert main(["train-vit", "--out", str(tmp_path / "x"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_resuming_with_another_recipe_is_refused_and_keeps_the_run(tmp_path, capsys):
    out = tmp_path / "vit"
    assert main(["train-vit", "--out", str(out), *TINY]) == 0
    before = (out / "metrics.jsonl").read_text()
    assert main(["train-vit", "--out", str(out), "--resume", "--d-model", "32"]) == 2
    err = capsys.readouterr().err
    assert "config differs" in err and "d_model: 16 -> 32" in err
    assert (out / "metrics.jsonl").read_text() == before
