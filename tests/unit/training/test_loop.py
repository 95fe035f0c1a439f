import json

import pytest
import torch

from mechscope.data.corpus import CorpusError
from mechscope.models import load_model
from mechscope.training import TrainConfig, list_checkpoints, read_config, read_metrics, train
from mechscope.training.evaluation import TrainingRecord
from mechscope.training.run_dir import RunDirError, export_run, final_model_dir

TEXT = "def add(a, b):\n    return a + b\n\nclass Point:\n    x: int = 0\n    y: int = 0\n" * 40


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.py"
    path.write_text(TEXT)
    return str(path)


def tiny(corpus, **overrides):
    fields = dict(
        n_layers=1,
        n_heads=2,
        d_model=16,
        n_ctx=32,
        batch_size=4,
        steps=6,
        eval_every=3,
        checkpoint_every=3,
        eval_prompts=4,
        icl_windows=8,
        warmup_steps=2,
        span_min=2,
        span_max=6,
        corpus=(corpus,),
    )
    return TrainConfig(**(fields | overrides))


def test_checkpoints_and_metrics_are_written(tmp_path, corpus):
    run = train(tiny(corpus), tmp_path / "run", progress=False)
    assert [step for step, _ in list_checkpoints(run.run_dir)] == [3, 6]
    metrics = read_metrics(run.run_dir)
    assert [r["step"] for r in metrics] == [0, 3, 6]
    assert metrics[0]["train_loss"] is None and metrics[1]["train_loss"] > 0
    for key in ("held_out_loss", "icl_score", "repeat_first_half_loss", "repeat_second_half_loss"):
        assert isinstance(metrics[-1][key], float)
    assert torch.tensor(metrics[-1]["induction_score"]).shape == (1, 2)
    assert metrics[-1]["tokens_seen"] == 6 * 4 * 32
    assert metrics[-1]["icl_score_se"] > 0  # measured on icl_windows windows, with its error
    assert [TrainingRecord.from_json(r).to_json() for r in metrics] == metrics
    assert run.records[-1].evaluation.best_induction_score == max(
        map(max, metrics[-1]["induction_score"])
    )
    model = load_model(final_model_dir(run.run_dir), device="cpu")
    assert model.to_tokens("ab").tolist() == [[256, 97, 98]]  # BOS + the bytes
    assert model.to_str_tokens("hi") == ["<|bos|>", "h", "i"]
    assert not any(p.name.endswith(".tmp") for p in (run.run_dir / "checkpoints").iterdir())


def test_training_lowers_the_loss(tmp_path, corpus):
    run = train(
        tiny(corpus, steps=30, eval_every=10, checkpoint_every=30), tmp_path / "r", progress=False
    )
    first, last = run.records[0].evaluation, run.records[-1].evaluation
    assert last.held_out_loss < first.held_out_loss - 0.5


def test_resume_is_bit_identical(tmp_path, corpus):
    straight = train(tiny(corpus), tmp_path / "straight", progress=False)
    half = tiny(corpus, steps=3)
    train(half, tmp_path / "resumed", progress=False)
    resumed = train(tiny(corpus), tmp_path / "resumed", resume=True, progress=False)
    a = load_model(straight.final_checkpoint, device="cpu").state_dict()
    b = load_model(resumed.final_checkpoint, device="cpu").state_dict()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    ma, mb = read_metrics(straight.run_dir), read_metrics(resumed.run_dir)
    assert [r["step"] for r in mb] == [0, 3, 6]
    assert ma[-1]["held_out_loss"] == mb[-1]["held_out_loss"]


def test_resume_with_a_different_config_is_refused(tmp_path, corpus):
    train(tiny(corpus), tmp_path / "run", progress=False)
    with pytest.raises(RunDirError, match=r"config differs.*lr: 0.001 -> 0.002"):
        train(tiny(corpus, lr=2e-3), tmp_path / "run", resume=True, progress=False)


def test_existing_run_without_resume_is_refused(tmp_path, corpus):
    train(tiny(corpus), tmp_path / "run", progress=False)
    with pytest.raises(
        RunDirError,
        match=r"already holds a training run \(last checkpoint: step 6\); pass --resume",
    ):
        train(tiny(corpus), tmp_path / "run", progress=False)


def test_unwritable_run_dir(tmp_path, corpus):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RunDirError, match="cannot write the run directory"):
        train(tiny(corpus), blocker / "run", progress=False)


def test_bad_corpora(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(CorpusError, match="corpus is empty"):
        train(tiny(str(empty)), tmp_path / "a", progress=False)
    binary = tmp_path / "blob.bin"
    binary.write_bytes(bytes(range(256)) * 20)
    with pytest.raises(CorpusError, match="look binary"):
        train(tiny(str(binary)), tmp_path / "b", progress=False)
    small = tmp_path / "small.txt"
    small.write_text("print('hi')\n")
    with pytest.raises(CorpusError, match="fewer than one context of 32"):
        train(tiny(str(small)), tmp_path / "c", progress=False)
    with pytest.raises(CorpusError, match="does not exist"):
        train(tiny(str(tmp_path / "nope")), tmp_path / "d", progress=False)


def test_export_run_is_loadable_and_readable(tmp_path, corpus):
    run = train(tiny(corpus), tmp_path / "run", progress=False)
    exported = export_run(run.run_dir, tmp_path / "shipped")
    assert final_model_dir(exported) == exported
    assert read_metrics(exported) == read_metrics(run.run_dir)
    assert json.loads((exported / "config.json").read_text())["steps"] == 6
    assert not (exported / "training_state.pt").exists()
    load_model(exported, device="cpu")


def test_config_validation():
    with pytest.raises(ValueError, match="n_layers must be 1 to 12"):
        TrainConfig(n_layers=13)
    with pytest.raises(ValueError, match="lr must be positive"):
        TrainConfig(lr=-1.0)
    with pytest.raises(ValueError, match="multiple of eval_every"):
        TrainConfig(eval_every=30, checkpoint_every=50)


def interrupted_at(monkeypatch, step: int, message: str, run_dir, corpus) -> None:
    """Train ``tiny`` into ``run_dir``, Ctrl-C at ``step``; then un-patch the batches."""
    from mechscope.training import loop

    real_batch = loop.training_batch

    def interrupt(cfg, text, at):
        if at == step:
            raise KeyboardInterrupt
        return real_batch(cfg, text, at)

    monkeypatch.setattr(loop, "training_batch", interrupt)
    with pytest.raises(loop.TrainingInterrupted, match=message):
        train(tiny(corpus), run_dir, progress=False)
    monkeypatch.setattr(loop, "training_batch", real_batch)


def same_weights(run, other) -> bool:
    """Whether two finished runs ended with bit-identical weights."""
    a = load_model(run.final_checkpoint, device="cpu").state_dict()
    b = load_model(other.final_checkpoint, device="cpu").state_dict()
    return all(torch.equal(a[k], b[k]) for k in a)


def test_ctrl_c_leaves_the_last_checkpoint_usable(tmp_path, corpus, monkeypatch):
    interrupted_at(monkeypatch, 4, "last complete checkpoint is step 3", tmp_path / "run", corpus)
    assert [step for step, _ in list_checkpoints(tmp_path / "run")] == [3]
    load_model(final_model_dir(tmp_path / "run"), device="cpu")
    resumed = train(tiny(corpus), tmp_path / "run", resume=True, progress=False)
    straight = train(tiny(corpus), tmp_path / "straight", progress=False)
    assert same_weights(resumed, straight)


def test_models_with_mlps_train_too(tmp_path, corpus):
    run = train(tiny(corpus, attn_only=False, n_layers=2), tmp_path / "run", progress=False)
    model = load_model(run.final_checkpoint, device="cpu")
    assert not model.cfg.attn_only and model.cfg.d_mlp == 64


def test_health_is_logged_at_every_evaluation(tmp_path, corpus):
    run = train(tiny(corpus), tmp_path / "run", progress=False)
    metrics = read_metrics(run.run_dir)
    assert "grad_norms" not in metrics[0]  # no training step before step 0
    assert metrics[0]["loss_gap"] is None
    last = run.records[-1]
    assert last.health is not None and last.health.grad_norms is not None
    assert last.health.grad_norms.shape == (1, 5)
    assert float(last.health.grad_norms[0, 0]) > 0  # attention of block 0 got a gradient
    assert last.health.attention_entropy.shape == (1, 2)
    assert len(last.health.effective_rank) == 2  # embeddings and after block 0
    assert last.loss_gap == pytest.approx(metrics[-1]["held_out_loss"] - metrics[-1]["train_loss"])


def test_early_stopping_signal():
    from mechscope.training.health import should_stop

    held_out = [3.0, 2.0, 2.1, 2.2]
    train_rising = [None, 2.5, 2.4, 2.45]
    train_falling = [None, 2.5, 2.4, 2.3]
    assert should_stop(held_out, train_falling, 2)
    assert not should_stop(held_out, train_rising, 2)  # both rise: not over-fitting
    assert not should_stop(held_out, train_falling, 3)  # only two rises so far
    assert not should_stop(held_out, train_falling, 0)  # off


def test_early_stopping_ends_the_run_with_a_checkpoint(tmp_path, corpus, monkeypatch):
    from mechscope.training import loop

    monkeypatch.setattr(loop, "should_stop", lambda held, train, patience: len(held) >= 2)
    run = train(tiny(corpus, steps=9, early_stop_patience=1), tmp_path / "run", progress=False)
    assert run.stopped_early_at == 3
    assert [step for step, _ in list_checkpoints(run.run_dir)] == [3]
    assert run.final_checkpoint.name.endswith("3")


def test_models_without_layer_norm_train_and_load_back(tmp_path, corpus):
    run = train(tiny(corpus, layer_norm=False, grad_clip=0.0), tmp_path / "run", progress=False)
    model = load_model(run.final_checkpoint, device="cpu")
    assert model.cfg.normalization_type is None
    assert not any("ln" in name for name, _ in model.named_parameters())
    assert all(r.health is not None for r in run.records)


@pytest.mark.parametrize("resume", [False, True])
def test_a_run_stopped_before_its_first_checkpoint_can_be_started_again(
    tmp_path, corpus, monkeypatch, resume
):
    interrupted_at(monkeypatch, 1, "none yet", tmp_path / "run", corpus)
    again = train(tiny(corpus), tmp_path / "run", resume=resume, progress=False)
    straight = train(tiny(corpus), tmp_path / "straight", progress=False)
    assert same_weights(again, straight)
    assert [r["step"] for r in read_metrics(tmp_path / "run")] == [0, 3, 6]


def test_an_experiments_runs_are_read_back_resumed_or_replaced(tmp_path, corpus, monkeypatch):
    from types import SimpleNamespace

    from experiments.runs import trained_records

    cfg = tiny(corpus)
    interrupted_at(monkeypatch, 4, "last complete checkpoint is step 3", tmp_path / "run", corpus)
    resumed = trained_records(cfg, tmp_path / "run")  # resumes from step 3
    straight = train(cfg, tmp_path / "straight", progress=False)
    assert [r.step for r in resumed] == [0, 3, 6]
    finished = SimpleNamespace(final_checkpoint=final_model_dir(tmp_path / "run"))
    assert same_weights(finished, straight)
    stamp = (tmp_path / "run" / "metrics.jsonl").stat().st_mtime_ns
    again = trained_records(cfg, tmp_path / "run")  # finished: read back, not retrained
    assert [r.to_json() for r in again] == [r.to_json() for r in resumed]
    assert (tmp_path / "run" / "metrics.jsonl").stat().st_mtime_ns == stamp
    other = trained_records(tiny(corpus, seed=1), tmp_path / "run")  # another recipe: replaced
    assert read_config(tmp_path / "run").seed == 1 and [r.step for r in other] == [0, 3, 6]


def test_a_non_finite_loss_stops_the_run_in_one_line(tmp_path, corpus):
    from mechscope.training.loop import TrainingDiverged

    with pytest.raises(ValueError, match="lr must be positive and finite"):
        TrainConfig(lr=float("inf"))
    # Finite but absurd: the weights blow up within a few steps and the loss is NaN or inf.
    cfg = tiny(corpus, lr=1e30, grad_clip=0.0, steps=12, warmup_steps=1)
    with pytest.raises(TrainingDiverged, match=r"loss became (nan|inf) at step \d+.*checkpoint"):
        train(cfg, tmp_path / "run", progress=False)
