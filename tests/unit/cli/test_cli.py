import subprocess
import sys

import pytest

from mechscope.cli import COMMANDS, main
from mechscope.cli.info import grouped_hook_names
from mechscope.models import TinyConfig, load_model, save_checkpoint


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    return save_checkpoint(load_model(TinyConfig(n_layers=3)), tmp_path_factory.mktemp("c") / "m")


def test_info_prints_shape_and_hooks(tiny_checkpoint, tmp_path, capsys):
    assert main(["info", str(tiny_checkpoint), "--device", "cpu", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "layers           3" in out
    assert "heads per layer  4" in out
    assert "parameters       " in out
    assert "blocks.L.attn.hook_pattern" in out
    assert "L = layer 0..2" in out
    assert '"layers": 3' in (tmp_path / "info.json").read_text()


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
        (["train", "--out", "/tmp/never", "--n-layers", "13"], "n_layers must be 1 to 12"),
        (["reproduce", "no-such-finding"], "unknown reproduction 'no-such-finding'"),
    ],
)
def test_user_errors_exit_2_with_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("mechscope: error: ")
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


HELP_PROBE = """
import sys
from mechscope.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = sorted(m for m in ("torch", "transformer_lens", "transformers") if m in sys.modules)
print("HEAVY:", ",".join(heavy) or "none")
"""


@pytest.mark.parametrize("command", [[], *([c.replace("_", "-")] for c in COMMANDS)])
def test_help_imports_neither_torch_nor_transformer_lens(command):
    out = subprocess.run(
        [sys.executable, "-c", HELP_PROBE, *command, "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip().endswith("HEAVY: none"), out[-300:]
    assert "usage: mechscope" in out
    if command:  # each command's help explains itself: a description and an example
        assert "Example:" in out or command == ["reproduce"], out[:400]


def test_python_dash_m_help_lists_every_command():
    out = subprocess.run(
        [sys.executable, "-m", "mechscope", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in COMMANDS:
        assert command.replace("_", "-") in out


def test_enum_options_are_choices_by_construction(capsys):
    assert main(["patch", "m", "--out", "o", "--sites", "resid_pre", "attn_scores", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mechscope: error: ") and err.count("\n") == 1
    assert "invalid choice 'nope'" in err
    assert "'attn_scores'" in err  # every patchable Component is offered, attention scores too
