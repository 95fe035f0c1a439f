"""``mechscope patch`` and ``mechscope ablate`` end to end on the shipped induction model."""

import pytest
import torch

from mechscope.cli import main
from mechscope.core.axes import HeadId
from mechscope.core.metrics import next_token_loss
from mechscope.core.results import load_result
from mechscope.data.prompts import read_prompts
from mechscope.interventions.ablation import AblationEffects, ablate
from mechscope.interventions.activation import PatchingResult
from mechscope.models import load_model, tokenize


def test_patch_a_builtin_task_with_attribution(tmp_path, capsys):
    out = tmp_path / "patch"
    argv = ["patch", "induction-2l", "--task", "copy-name", "--sites", "resid_pre", "z"]
    assert main([*argv, "--attribution", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "correlation with exact" in printed
    resid = PatchingResult.load(out / "resid_pre")
    assert resid.by_layer_pos().shape[0] == 2 and resid.tokens[0] == "<|bos|>"
    assert resid.provenance.config["task"] == "copy-name"
    assert PatchingResult.load(out / "z_attribution").metric.endswith("(attribution)")
    page = (out / "report.html").read_text()
    assert page.count("Plotly.newPlot") == 4 and "resid_pre" in page


def test_patch_user_pairs_and_bad_input(tmp_path, capsys):
    ok = ["patch", "induction-2l", "--clean", "ab ab", "--corrupted", "cd ab"]
    assert main([*ok, "--answer", " ", "--wrong", "x", "--out", str(tmp_path / "a")]) == 0
    capsys.readouterr()
    uneven = ["patch", "induction-2l", "--clean", "abc", "--corrupted", "abcd"]
    assert main([*uneven, "--answer", "x", "--wrong", "y", "--out", str(tmp_path / "b")]) == 2
    assert "clean prompt has 4 tokens" in capsys.readouterr().err
    assert main([*ok, "--answer", "xy", "--wrong", "y", "--out", str(tmp_path / "c")]) == 2
    assert "is 2 tokens" in capsys.readouterr().err
    bad_site = [
        *ok,
        "--answer",
        "x",
        "--wrong",
        "y",
        "--sites",
        "mlp_out",
        "--out",
        str(tmp_path / "d"),
    ]
    assert main(bad_site) == 2
    assert "no mlp_out" in capsys.readouterr().err


def test_ablate_joint_and_per_head(tmp_path, capsys):
    data = tmp_path / "data.txt"
    data.write_text("def f(x):\n    return f(x)\nimport os, sys\n")
    out = tmp_path / "ablate"
    argv = ["ablate", "induction-2l", "--heads", "1.1", "1.3", "--how", "mean"]
    assert main([*argv, "--data", str(data), "--out", str(out)]) == 0
    assert "1.1,1.3 mean-ablated together" in capsys.readouterr().out
    effects = load_result(out)
    assert isinstance(effects, AblationEffects) and len(effects.groups) == 1 + 8
    assert effects.as_grid(2, 4).isnan().sum() == 0
    # The joint value is the same ablation done by hand with the context manager.
    model = load_model("induction-2l", device="cpu")
    batch = tokenize(model, read_prompts(data))
    heads = [HeadId(1, 1), HeadId(1, 3)]
    with torch.no_grad(), ablate(model, heads, "mean", reference=batch):
        by_hand = float(
            next_token_loss(batch)(model(batch.tokens, attention_mask=batch.attention_mask))
        )
    assert float(effects.ablated[0]) == pytest.approx(by_hand, abs=1e-5)
    assert float(effects.change[0]) > 0.03  # two induction heads matter on code (0.060)
    assert (
        main(["ablate", "induction-2l", "--heads", "3.0", "--out", str(tmp_path / "refused-1")])
        == 2
    )
    assert "out of range" in capsys.readouterr().err
    assert (
        main(["ablate", "induction-2l", "--heads", "1-4", "--out", str(tmp_path / "refused-2")])
        == 2
    )
    assert "LAYER.HEAD" in capsys.readouterr().err
