import subprocess
import sys

import pytest

from mechscope.cli import grouped_hook_names, main
from mechscope.models import TinyConfig, load_model, save_checkpoint


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    return save_checkpoint(load_model(TinyConfig(n_layers=3)), tmp_path_factory.mktemp("c") / "m")


def test_info_prints_shape_and_hooks(tiny_checkpoint, capsys):
    assert main(["info", str(tiny_checkpoint), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "layers           3" in out
    assert "heads per layer  4" in out
    assert "parameters       " in out
    assert "blocks.L.attn.hook_pattern" in out
    assert "L = layer 0..2" in out


def test_grouped_hook_names():
    names = ["hook_embed", "blocks.0.attn.hook_q", "blocks.1.attn.hook_q", "ln_final.hook_scale"]
    assert grouped_hook_names(names) == [
        "hook_embed",
        "blocks.L.attn.hook_q",
        "ln_final.hook_scale",
    ]


def test_check_model_passes_and_fails_on_tolerance(hf_dirs, capsys):
    assert main(["check-model", str(hf_dirs["llama"])]) == 0
    assert "PASS: max |mechscope - HF| over logits" in capsys.readouterr().out
    assert main(["check-model", str(hf_dirs["llama"]), "--tolerance", "-1"]) == 1
    assert "FAIL" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["info", "no-such-model"], "unknown model 'no-such-model'"),
        (["info", "./missing-dir"], "no such directory"),
        (["check-model", "minilm"], "not a Hugging Face model directory"),
    ],
)
def test_user_errors_exit_2_without_traceback(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("mechscope: error: ")
    assert message in err
    assert "Traceback" not in err


def test_python_dash_m_help_lists_every_command():
    out = subprocess.run(
        [sys.executable, "-m", "mechscope", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("info", "check-model", "demo"):
        assert command in out
