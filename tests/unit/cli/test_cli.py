import subprocess
import sys
from pathlib import Path

import pytest

from mechscope.cli import COMMANDS, main
from mechscope.cli.info import grouped_hook_names
from mechscope.core.errors import MechscopeError
from mechscope.models import TinyConfig, load_model, save_checkpoint


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    return save_checkpoint(load_model(TinyConfig(n_layers=3)), tmp_path_factory.mktemp("c") / "m")


def test_info_prints_shape_and_hooks(tiny_checkpoint, tmp_path, capsys):
    assert main(["info", str(tiny_checkpoint), "--device", "cpu", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "layers                     3" in out
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
        (["heads", "tiny", "--out", "/tmp/never", "--verify", "coreference"], "--coref FILE"),
        (
            [
                "circuit-discovery",
                "induction-2l",
                "--out",
                "/tmp/never",
                "--task",
                "induction",
                "--method",
                "ig",
            ],
            "--method is eap or eap-ig",
        ),
        (
            [
                "circuit-discovery",
                "induction-2l",
                "--out",
                "/tmp/never",
                "--task",
                "induction",
                "--target",
                "2",
            ],
            "--target is a faithfulness",
        ),
        (["circuit-discovery", "induction-2l", "--out", "/tmp/never"], "(or --task)"),
        (["info", "induction-2l", "--backend", "bridge"], "load it with the default backend"),
        (["info", "minilm", "--backend", "bridge"], "is an encoder (bert)"),
        (["info", "induction-2l", "--device-map", "auto"], "add backend='bridge'"),
        (["heads", "induction-2l", "--out", "/tmp/never", "--workers", "0"], "at least 1"),
        (["train", "--out", "/tmp/never", "--device", "cuda:7"], "cannot use the device"),
        (["patch", "induction-2l", "--out", "/tmp/never", "--address", "auto"], "--executor ray"),
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


@pytest.mark.parametrize(
    ("error", "code", "words"),
    [
        (KeyboardInterrupt, 130, "interrupted"),
        ("sigterm", 143, "terminated (SIGTERM)"),
        (ValueError("lr must be positive"), 2, "error: lr must be positive"),
    ],
)
def test_the_runner_restores_out_and_says_one_line(
    tmp_path, monkeypatch, capsys, error, code, words
):
    import os
    import signal
    import sys
    import types

    from mechscope.cli.runner import execute
    from mechscope.core.jobs import Job

    def fails(cfg):
        (cfg.out / "partial.json").write_text("new")
        if error == "sigterm":
            os.kill(os.getpid(), signal.SIGTERM)
        raise error

    monkeypatch.setitem(sys.modules, "fake_job", types.SimpleNamespace(run=fails))
    job = Job(name="fake", config="experiments.rank_collapse.config:Config", run="fake_job:run")
    out = tmp_path / "out"
    (out / "runs").mkdir(parents=True)
    (out / "result.json").write_text("old")
    assert execute(job, ["--out", str(out), "--overwrite"], "fake") == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == ["result.json", "runs"]
    assert (out / "result.json").read_text() == "old" and not (tmp_path / "out.previous").exists()


def test_the_runner_saves_reports_and_summarises_a_job(tmp_path, monkeypatch, capsys):
    import sys
    import types

    import torch

    from mechscope.cli.runner import execute
    from mechscope.core.jobs import Job
    from mechscope.core.results import load_result
    from mechscope.lens.tuned import LensComparison

    def run(cfg):
        return {"": LensComparison(["a"], ["x"], torch.ones(1, 1, 2)), "sub": None}

    class Page:
        def save(self, path):
            path.write_text("page")

    module = types.SimpleNamespace(
        run=run, summary=lambda results, cfg: [f"done {len(results)}"], report=lambda r, c: Page()
    )
    monkeypatch.setitem(sys.modules, "fake_job", module)
    job = Job(name="fake", config="experiments.rank_collapse.config:Config", run="fake_job:run",
              summary="fake_job:summary", report="fake_job:report")  # fmt: skip
    out = tmp_path / "out"
    assert execute(job, ["--out", str(out)], "fake") == 0
    assert capsys.readouterr().out == "done 2\n"
    assert load_result(out).kind == "lens-comparison" and not (out / "sub").exists()
    assert (out / "report.html").read_text() == "page"
    assert execute(job, ["--out", str(out)], "fake") == 2  # holds results: --overwrite needed
    assert "pass --overwrite" in capsys.readouterr().err


def test_reproduce_lists_every_experiment_from_the_experiments(capsys):
    import importlib
    import pkgutil

    import experiments

    assert main(["reproduce", "--help"]) == 0
    listed = capsys.readouterr().out
    packages = [m.name for m in pkgutil.iter_modules(experiments.__path__) if m.ispkg]
    assert len(packages) == 21
    for package in packages:
        job = importlib.import_module(f"experiments.{package}.config").JOB
        assert f"  {job.name} " in listed
        assert job.run == f"experiments.{package}.analysis:run"


def test_an_out_directory_with_results_is_refused_replaced_or_restored(tmp_path):
    from mechscope.cli.common import output_directory
    from mechscope.core.errors import MechscopeError

    out = tmp_path / "out"
    with output_directory(out, overwrite=False):
        (out / "result.json").write_text("old")
    refused = pytest.raises(MechscopeError, match="already holds results; pass --overwrite")
    with refused, output_directory(out, overwrite=False):
        pass
    # A failed or interrupted overwrite leaves the old results as they were.
    with pytest.raises(KeyboardInterrupt), output_directory(out, overwrite=True):
        assert not (out / "result.json").exists()  # the old ones are aside meanwhile
        (out / "partial.json").write_text("new")
        raise KeyboardInterrupt
    assert sorted(p.name for p in out.iterdir()) == ["result.json"]
    assert (out / "result.json").read_text() == "old"
    assert not (tmp_path / "out.previous").exists()
    with output_directory(out, overwrite=True):
        (out / "result.json").write_text("new")
    assert (out / "result.json").read_text() == "new"
    assert not (tmp_path / "out.previous").exists()
    # A failed first run leaves no partial directory; a file where --out should be is refused.
    with pytest.raises(RuntimeError), output_directory(tmp_path / "fresh", overwrite=False):
        (tmp_path / "fresh" / "partial").write_text("x")
        raise RuntimeError
    assert not (tmp_path / "fresh").exists()
    (tmp_path / "file").write_text("x")
    with (
        pytest.raises(MechscopeError, match="is a file"),
        output_directory(tmp_path / "file", False),
    ):
        pass


def test_experiment_configs_take_a_string_and_refuse_an_unwritable_out(tmp_path, capsys):
    from experiments.rank_collapse import Config
    from experiments.rank_collapse.config import JOB
    from mechscope.cli.runner import execute

    assert Config(out="results/x").out == Path("results/x")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    argv = ["--out", str(blocker / "sub"), "--seeds", "1"]
    assert execute(JOB, argv, "rc") == 2
    assert "cannot write to --out" in capsys.readouterr().err


def test_a_second_run_on_the_same_out_is_refused_and_a_stale_lock_is_taken(tmp_path):
    import os

    from mechscope.cli.common import output_directory

    out = tmp_path / "out"
    lock = tmp_path / "out.lock"
    lock.write_text(str(os.getppid()))  # a live process holds it
    with (
        pytest.raises(MechscopeError, match=r"another mechscope run \(process \d+\)"),
        output_directory(out, overwrite=False),
    ):
        pass
    assert lock.read_text() == str(os.getppid())  # the holder's lock is left alone
    lock.write_text("999999999")  # a process that is gone
    with output_directory(out, overwrite=False):
        assert lock.read_text() == str(os.getpid())
        (out / "result.json").write_text("{}")
    assert not lock.exists() and (out / "result.json").exists()


def test_an_out_that_is_a_link_is_followed_once(tmp_path):
    from mechscope.cli.common import output_directory

    target = tmp_path / "target"
    target.mkdir()
    (target / "old.json").write_text("old")
    link = tmp_path / "link"
    link.symlink_to(target)
    with output_directory(link, overwrite=True):
        (link / "new.json").write_text("new")
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert sorted(p.name for p in target.iterdir()) == ["new.json"]
    assert not (tmp_path / "link.previous").exists() and not (tmp_path / "target.previous").exists()


def test_patching_keys_and_values_under_grouped_query_attention(hf_dirs, tmp_path):
    from mechscope.cli import main
    from mechscope.core.results import load_result

    argv = ["patch", str(hf_dirs["llama-gqa"]), "--task", "induction", "--sites", "k", "v"]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 0
    for name in ("k", "v"):  # 2 key/value heads per layer, not the 4 query heads
        result = load_result(tmp_path / "out" / name)
        assert sorted({s.head for s in result.sites}) == [0, 1]  # pyright: ignore[reportAttributeAccessIssue]


def test_demo_on_a_vit_points_to_the_vision_reproduction(tmp_path, capsys):
    from mechscope.cli import main

    assert main(["demo", "--model", "vit-shapes", "--out", str(tmp_path / "d")]) == 2
    assert "reproduce vit-attention --models vit-shapes" in capsys.readouterr().err


def test_probe_reads_sentence_tasks_from_a_tsv(tmp_path, capsys):
    """``--tasks sentiment`` on SST-2-format TSVs: the same table.csv as the token tasks."""
    import csv

    for name, n in (("train", 40), ("other", 20)):
        rows = [f"the film was {'good' if i % 2 else 'bad'} , {'and' if i % 3 else 'or'} long ."
                f"\t{i % 2}" for i in range(n)]  # fmt: skip
        (tmp_path / f"{name}.tsv").write_text("sentence\tlabel\n" + "\n".join(rows) + "\n")
    out = tmp_path / "out"
    argv = ["probe", "induction-2l", "--train", str(tmp_path / "train.tsv"), "--eval",
            str(tmp_path / "other.tsv"), "--out", str(out), "--no-random-baseline"]  # fmt: skip
    assert main([*argv, "--tasks", "sentiment"]) == 0
    rows = list(csv.DictReader((out / "table.csv").open()))
    assert {r["task"] for r in rows} == {"sentiment"}
    accuracy = {r["layer"]: float(r["value"]) for r in rows if r["metric"] == "accuracy"}
    assert set(accuracy) == {"0", "1", "2"} and max(accuracy.values()) == 1.0
    assert "sentiment best boundary" in capsys.readouterr().out
    # a TSV has no trees: the structural probe is refused in one line, before any model runs
    assert main([*argv, "--tasks", "structural", "--overwrite"]) == 2
    assert "no dependency trees" in capsys.readouterr().err


def test_the_bridge_backend_on_the_command_line(bridge_dirs, tmp_path, capsys):
    """`--backend bridge` scores the heads the hooked backend scores; a bad map exits 2."""
    import torch

    from mechscope.core.results import load_result

    path = str(bridge_dirs["llama-gqa"])
    for backend in ("hooked", "bridge"):
        argv = ["heads", path, "--out", str(tmp_path / backend), "--backend", backend,
                "--kinds", "previous-token", "induction", "--device", "cpu"]  # fmt: skip
        assert main(argv) == 0
    hooked, bridge = (load_result(tmp_path / b) for b in ("hooked", "bridge"))
    assert torch.allclose(hooked.per_prompt, bridge.per_prompt, atol=1e-5, equal_nan=True)
    assert main(["info", path, "--backend", "bridge", "--device-map", "{bad"]) == 2
    assert "is not a JSON object" in capsys.readouterr().err
    split = '{"model.embed_tokens": "cpu", "model.layers": "cpu", "model.norm": "cpu", ' + (
        '"lm_head": "cpu"}'
    )
    assert main(["info", path, "--backend", "bridge", "--device-map", split]) == 0
    assert "LlamaForCausalLM" in capsys.readouterr().out


def test_heads_without_per_prompt_rows_writes_the_same_statistics(tmp_path, monkeypatch):
    """`heads --no-per-prompt`: shard by shard moments, the means and spreads of the rows."""
    import torch

    import mechscope.cli.heads
    from mechscope.core.results import load_result

    monkeypatch.setattr(mechscope.cli.heads, "SUMMARY_SHARD", 8)  # five shards combined

    prompts = tmp_path / "prompts.txt"
    prompts.write_text("\n".join(f"def f{i}(x): return x + {i} * y" for i in range(40)))
    argv = ["heads", "induction-2l", "--prompts", str(prompts), "--kinds", "previous-token",
            "induction", "first-token"]  # fmt: skip
    assert main([*argv, "--out", str(tmp_path / "rows")]) == 0
    assert main([*argv, "--out", str(tmp_path / "summary"), "--no-per-prompt"]) == 0
    rows, summary = load_result(tmp_path / "rows"), load_result(tmp_path / "summary")
    assert summary.is_summary and not rows.is_summary  # pyright: ignore[reportAttributeAccessIssue]
    for name in ("mean", "std", "count"):
        a, b = getattr(rows, name), getattr(summary, name)
        assert torch.allclose(a, b, atol=1e-5, equal_nan=True), name
