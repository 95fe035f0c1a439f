"""Training runs an experiment owns: trained once, read back on every later run."""

import shutil
from pathlib import Path
from typing import Any, overload

from mechscope.training import (
    CONFIG_FILE,
    TrainConfig,
    TrainingRecord,
    VitRecord,
    VitTrainConfig,
    list_checkpoints,
    read_metrics,
    read_recipe,
    should_stop,
    train,
    train_vit,
)

Recipe = TrainConfig | VitTrainConfig


@overload
def trained_records(
    train_cfg: TrainConfig, run_dir: Path, *, progress: bool = False, device: str = "cpu"
) -> list[TrainingRecord]: ...
@overload
def trained_records(
    train_cfg: VitTrainConfig, run_dir: Path, *, progress: bool = False, device: str = "cpu"
) -> list[VitRecord]: ...
@overload
def trained_records(
    train_cfg: Recipe, run_dir: Path, *, progress: bool = False, device: str = "cpu"
) -> list[TrainingRecord] | list[VitRecord]: ...
def trained_records(
    train_cfg: Recipe, run_dir: Path, *, progress: bool = False, device: str = "cpu"
) -> list[TrainingRecord] | list[VitRecord]:
    """The logged evaluations of the run of ``train_cfg`` in ``run_dir``, training it if needed.

    A text (`train`) or ViT (`train_vit`) recipe. A finished run with the same recipe (all
    its steps, or, for text, stopped by its over-fitting signal) is read back; an interrupted
    one with a checkpoint resumes from it (bit-identical to an uninterrupted run). Anything
    else in ``run_dir`` (a run stopped before its first checkpoint, another recipe) belongs to
    the experiment's own output directory and is replaced. ``device``: where it trains.
    """

    def trained(resume: bool) -> list[Any]:
        if isinstance(train_cfg, VitTrainConfig):
            return train_vit(train_cfg, run_dir, resume=resume, progress=progress,
                             device=device).records  # fmt: skip
        return train(train_cfg, run_dir, resume=resume, progress=progress, device=device).records

    if (run_dir / CONFIG_FILE).exists():
        lines = read_metrics(run_dir)
        records: list[Any]
        if isinstance(train_cfg, VitTrainConfig):
            records, stopped = [VitRecord.from_json(line) for line in lines], False
            same = not read_recipe(run_dir, VitTrainConfig).differences(train_cfg)
        else:
            records = [TrainingRecord.from_json(line) for line in lines]
            stopped = should_stop([r.evaluation.held_out_loss for r in records],
                                  [r.train_loss for r in records],
                                  train_cfg.early_stop_patience)  # fmt: skip
            same = not read_recipe(run_dir, TrainConfig).differences(train_cfg)
        finished = bool(records) and (records[-1].step == train_cfg.steps or stopped)
        if same and finished:
            return records
        if same and list_checkpoints(run_dir):
            return trained(resume=True)
        shutil.rmtree(run_dir)
    return trained(resume=False)


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def _train_one(job: tuple[Recipe, Path], device: str) -> int:
    trained_records(*job, device=device)
    return 0


def trained_in_parallel(
    jobs: list[tuple[Recipe, Path]], workers: int, *, desc: str = "runs", device: str = "cpu"
) -> list[Any]:
    """`trained_records` of every (recipe, run directory), ``workers`` runs at a time.

    With more than one worker each run trains in its own process on one torch thread (on a
    2-core machine two one-thread runs finish in about 0.6 of the time of two two-thread runs
    one after the other); the records are read back from the run directories, in ``jobs``'
    order. Ctrl-C cancels the runs not started; the started ones keep their last checkpoint.
    """
    from tqdm.auto import tqdm

    if workers <= 1:
        return [trained_records(cfg, run_dir, device=device)
                for cfg, run_dir in tqdm(jobs, desc=desc)]  # fmt: skip
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_one_thread) as pool:
        futures = [pool.submit(_train_one, job, device) for job in jobs]
        try:
            for future in tqdm(as_completed(futures), total=len(futures), desc=desc):
                future.result()
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise
    return [trained_records(cfg, run_dir) for cfg, run_dir in jobs]
