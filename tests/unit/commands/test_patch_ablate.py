"""``mechscope patch`` and ``mechscope ablate`` end to end on the shipped induction model."""

from mechscope.cli import main
from mechscope.patching import PatchingResult
from mechscope.results import load_result


def test_patch_a_builtin_task_with_attribution(tmp_path, capsys):
    out = tmp_path / "patch"
    argv = ["patch", "induction-2l", "--task", "copy-name", "--sites", "resid_pre,z"]
    assert main([*argv, "--attribution", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "correlation with exact" in printed
    resid = PatchingResult.load(out / "resid_pre")
    assert resid.grid().shape[0] == 2 and resid.tokens[0] == "<|bos|>"
    assert PatchingResult.load(out / "z_attribution").metric.endswith("(attribution)")
    page = (out / "report.html").read_text()
    assert "<svg" in page and "resid_pre" in page


def test_patch_user_pairs_and_bad_input(tmp_path, capsys):
    ok = ["patch", "induction-2l", "--clean", "ab ab", "--corrupted", "cd ab"]
    assert main([*ok, "--answer", " ", "--wrong", "x", "--out", str(tmp_path / "a")]) == 0
    capsys.readouterr()
    uneven = ["patch", "induction-2l", "--clean", "abc", "--corrupted", "abcd"]
    assert main([*uneven, "--answer", "x", "--wrong", "y", "--out", str(tmp_path / "b")]) == 2
    assert "clean prompt has 4 tokens" in capsys.readouterr().err
    assert main([*ok, "--answer", "xy", "--wrong", "y", "--out", str(tmp_path / "c")]) == 2
    assert "is 2 tokens" in capsys.readouterr().err
    bad_site = [*ok, "--answer", "x", "--wrong", "y", "--sites", "mlp_out", "--out", str(tmp_path)]
    assert main(bad_site) == 2
    assert "no mlp_out" in capsys.readouterr().err


def test_ablate_joint_and_per_head(tmp_path, capsys):
    data = tmp_path / "data.txt"
    data.write_text("def f(x):\n    return f(x)\nimport os, sys\n")
    out = tmp_path / "ablate"
    argv = ["ablate", "induction-2l", "--heads", "1.1,1.3", "--how", "mean"]
    assert main([*argv, "--data", str(data), "--out", str(out)]) == 0
    assert "1.1,1.3 mean-ablated together" in capsys.readouterr().out
    tensors, meta = load_result(out)
    assert tensors["per_head_change"].shape == (2, 4) and len(meta["per_head"]) == 8
    assert meta["ablated_loss"] != meta["clean_loss"]
    assert main(["ablate", "induction-2l", "--heads", "3.0", "--out", str(out)]) == 2
    assert "out of range" in capsys.readouterr().err
    assert main(["ablate", "induction-2l", "--heads", "1-4", "--out", str(out)]) == 2
    assert "LAYER.HEAD" in capsys.readouterr().err
