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


def _corpus(tmp_path):
    path = tmp_path / "corpus.py"
    path.write_text("def f(x):\n    return x * 2\n\nprint(f(3))\n" * 60)
    return str(path)


TINY_RECIPE = [
    "--n-heads", "2", "--d-model", "16", "--n-ctx", "32", "--batch-size", "4", "--steps", "6",
    "--eval-every", "3", "--checkpoint-every", "3", "--eval-prompts", "4", "--span-min", "2",
    "--span-max", "6",
]  # fmt: skip


def test_train_then_resume_then_reproduce_from_checkpoints(tmp_path, capsys):
    corpus = _corpus(tmp_path)
    runs = tmp_path / "runs"
    for name, layers in (("induction-2l", "2"), ("induction-1l", "1")):
        argv = ["train", "--run-dir", str(runs / name), "--n-layers", layers, *TINY_RECIPE]
        assert main([*argv, "--corpus", corpus]) == 0
    assert "checkpoint:" in capsys.readouterr().out
    # Resume to more steps with nothing but --steps: the saved config is reused.
    assert main(["train", "--run-dir", str(runs / "induction-2l"), "--resume", "--steps", "9"]) == 0
    assert "step 9:" in capsys.readouterr().out
    out = tmp_path / "report"
    argv = ["reproduce", "induction", "--from-checkpoints", str(runs), "--out-dir", str(out)]
    assert main([*argv, "--eval-prompts", "4"]) == 0
    printed = capsys.readouterr().out
    assert "2-layer heads" in printed and "ablation (2-layer)" in printed
    assert (out / "report.html").is_file() and (out / "result.json").is_file()


def test_train_rejects_a_bad_config(tmp_path, capsys):
    assert main(["train", "--run-dir", str(tmp_path / "r"), "--n-layers", "7"]) == 2
    assert "n_layers must be 1 to 4" in capsys.readouterr().err


def test_lens_and_lens_train_commands(tmp_path, capsys):
    out = tmp_path / "lens"
    assert main(["lens", "induction-2l", "--prompt", "abcabc", "--out-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "logit lens at the last position" in printed and "after block 1" in printed
    assert (out / "report.html").is_file() and (out / "result.json").is_file()
    trained = tmp_path / "tuned"
    argv = ["lens", "train", "induction-2l", "--out-dir", str(trained), "--steps", "3"]
    assert main([*argv, "--batch-size", "2"]) == 0
    assert "tuned lens" in capsys.readouterr().out
    assert main(["lens", "induction-2l", "--prompt", "ab", "--tuned-lens", str(trained),
                 "--out-dir", str(out)]) == 0  # fmt: skip
    assert "tuned lens at the last position" in capsys.readouterr().out
    assert main(["lens", "minilm", "--prompt", "hi", "--out-dir", str(out)]) == 2
    assert "encoder" in capsys.readouterr().err
