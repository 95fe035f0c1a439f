"""Training runs an experiment owns: trained once, read back on every later run."""

import shutil
from pathlib import Path

from mechscope.training import (
    CONFIG_FILE,
    TrainConfig,
    TrainingRecord,
    list_checkpoints,
    read_config,
    read_metrics,
    should_stop,
    train,
)


def trained_records(
    train_cfg: TrainConfig, run_dir: Path, *, progress: bool = False
) -> list[TrainingRecord]:
    """The logged evaluations of the run of ``train_cfg`` in ``run_dir``, training it if needed.

    A finished run with the same recipe (all its steps, or stopped by its over-fitting
    signal) is read back; an interrupted one with a checkpoint resumes from it (bit-identical
    to an uninterrupted run). Anything else in ``run_dir`` (a run stopped before its first
    checkpoint, another recipe) belongs to the experiment's own output directory and is
    replaced.
    """
    if (run_dir / CONFIG_FILE).exists():
        records = [TrainingRecord.from_json(line) for line in read_metrics(run_dir)]
        same = not read_config(run_dir).differences(train_cfg)
        held_out = [r.evaluation.held_out_loss for r in records]
        train_loss = [r.train_loss for r in records]
        finished = bool(records) and (
            records[-1].step == train_cfg.steps
            or should_stop(held_out, train_loss, train_cfg.early_stop_patience)
        )
        if same and finished:
            return records
        if same and list_checkpoints(run_dir):
            return train(train_cfg, run_dir, resume=True, progress=progress).records
        shutil.rmtree(run_dir)
    return train(train_cfg, run_dir, progress=progress).records
