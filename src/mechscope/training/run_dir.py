"""The run directory: everything a training run writes, and reading it back.

    RUN_DIR/config.json                       the TrainConfig
    RUN_DIR/metrics.jsonl                     one JSON line per evaluation
    RUN_DIR/checkpoints/step_000500/          a mechscope checkpoint (weights, config,
                                              tokenizer) + training_state.pt (optimizer)

Checkpoints are written to a temporary directory and renamed into place, so an interrupted
run (Ctrl-C, a crash) always leaves its last complete checkpoint usable.
"""

import json
import os
import shutil
from pathlib import Path
from typing import Any, TypeVar

from mechscope.core.errors import MechscopeError
from mechscope.training.config import TrainConfig, VitTrainConfig

Recipe = TrainConfig | VitTrainConfig
"""What a run directory's config.json holds: a text or a ViT recipe."""
R = TypeVar("R", TrainConfig, VitTrainConfig)

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
CHECKPOINTS = "checkpoints"
TRAINING_STATE = "training_state.pt"


class RunDirError(MechscopeError):
    """A run directory that cannot be used as asked."""


def checkpoint_dir(run_dir: Path, step: int) -> Path:
    """Where the checkpoint of ``step`` lives."""
    return run_dir / CHECKPOINTS / f"step_{step:06d}"


def list_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """(step, directory) of every complete checkpoint, by step."""
    root = Path(run_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    found = []
    for path in root.iterdir():
        if path.is_dir() and path.name.startswith("step_") and path.name[5:].isdigit():
            found.append((int(path.name[5:]), path))
    return sorted(found)


def read_config(run_dir: str | Path) -> TrainConfig:
    """The TrainConfig a run was started with."""
    return read_recipe(run_dir, TrainConfig)


def read_recipe(run_dir: str | Path, kind: type[R]) -> R:
    """The recipe (of class ``kind``) a run was started with."""
    path = Path(run_dir) / CONFIG_FILE
    try:
        return kind.from_json(json.loads(path.read_text()))
    except (OSError, json.JSONDecodeError, TypeError) as error:
        raise RunDirError(
            f"{path} is missing or unreadable ({error}); is this a run directory?"
        ) from error


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """Every logged evaluation, in step order."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def start_run_dir(run_dir: Path, cfg: Recipe) -> None:
    """Create a fresh run directory holding ``cfg``.

    A run that never wrote a complete checkpoint (stopped by Ctrl-C or an error before its
    first) holds nothing to keep: its files are replaced.

    Raises:
        RunDirError: the directory holds a run with checkpoints, holds something that is no
            run, or cannot be written.
    """
    if (run_dir / CONFIG_FILE).exists():
        if saved := list_checkpoints(run_dir):
            raise RunDirError(
                f"{run_dir} already holds a training run (last checkpoint: step "
                f"{saved[-1][0]}); pass --resume to continue it, or choose another --out."
            )
        clear_unfinished(run_dir)
    elif run_dir.is_dir() and (held := sorted(p.name for p in run_dir.iterdir())):
        raise RunDirError(
            f"{run_dir} is not empty and holds no training run ({', '.join(held[:3])}"
            f"{', ...' if len(held) > 3 else ''}); choose an empty or new --out."
        )
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / CONFIG_FILE).write_text(json.dumps(cfg.to_json(), indent=2))
        (run_dir / METRICS_FILE).write_text("")
    except OSError as error:
        raise RunDirError(
            f"cannot write the run directory {run_dir}: {error.strerror or error}. "
            "Choose a directory you can write to (--out)."
        ) from error


def clear_unfinished(run_dir: Path) -> None:
    """Remove what a run without any complete checkpoint wrote (config, metrics, tokenizer)."""
    for name in (CONFIG_FILE, METRICS_FILE):
        (run_dir / name).unlink(missing_ok=True)
    for name in ("tokenizer", CHECKPOINTS):
        if (run_dir / name).is_dir():
            shutil.rmtree(run_dir / name)


def check_resumable(run_dir: Path, cfg: Recipe) -> tuple[int, Path]:
    """The latest checkpoint to resume from, after checking the config matches.

    Only ``steps`` may differ (to train a run for longer).

    Raises:
        RunDirError: no run, no checkpoint, or a config that differs from the saved one.
    """
    if isinstance(cfg, VitTrainConfig):
        differences = read_recipe(run_dir, VitTrainConfig).differences(cfg, ignore=("steps",))
    else:
        differences = read_config(run_dir).differences(cfg, ignore=("steps",))
    if differences:
        raise RunDirError(
            f"cannot resume {run_dir}: the config differs from the one it was started with "
            f"({'; '.join(differences)}). Resume with the saved config, or start a new run dir."
        )
    checkpoints = list_checkpoints(run_dir)
    if not checkpoints:
        raise RunDirError(f"{run_dir} has no checkpoint yet; start it again without --resume.")
    return checkpoints[-1]


def keep_metrics_up_to(run_dir: Path, step: int) -> None:
    """Drop logged evaluations after ``step`` (they are redone when resuming from it)."""
    kept = [r for r in read_metrics(run_dir) if r["step"] <= step]
    (run_dir / METRICS_FILE).write_text("".join(json.dumps(r) + "\n" for r in kept))


def append_metrics(run_dir: Path, record: dict[str, Any]) -> None:
    """Add one evaluation to metrics.jsonl."""
    with (run_dir / METRICS_FILE).open("a") as file:
        file.write(json.dumps(record) + "\n")


def publish(tmp_dir: Path, final_dir: Path) -> None:
    """Atomically move a fully written checkpoint into place."""
    if final_dir.exists():
        shutil.rmtree(final_dir)
    os.replace(tmp_dir, final_dir)


def final_model_dir(run_dir: str | Path) -> Path:
    """The model of a run: the directory itself if it is a checkpoint, else its latest one.

    An exported run (`export_run`) is itself a checkpoint; a training run directory holds
    them under ``checkpoints/``.

    Raises:
        RunDirError: neither.
    """
    from mechscope.models.checkpoint import CHECKPOINT_CONFIG

    run_dir = Path(run_dir)
    if (run_dir / CHECKPOINT_CONFIG).is_file():
        return run_dir
    checkpoints = list_checkpoints(run_dir)
    if not checkpoints:
        raise RunDirError(
            f"{run_dir} holds no checkpoint: pass a run directory written by `mechscope train` "
            "(or an exported run)."
        )
    return checkpoints[-1][1]


def export_run(run_dir: str | Path, destination: str | Path) -> Path:
    """Copy a run's final checkpoint, config and metrics into one flat directory.

    The result is what ships inside the package: loadable with ``load_model(destination)``
    and readable as a run (`read_config`, `read_metrics`, `final_model_dir`).
    """
    run_dir, destination = Path(run_dir), Path(destination)
    source = final_model_dir(run_dir)
    if destination.exists():
        shutil.rmtree(destination)
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns(TRAINING_STATE))
    shutil.copy2(run_dir / CONFIG_FILE, destination / CONFIG_FILE)
    shutil.copy2(run_dir / METRICS_FILE, destination / METRICS_FILE)
    return destination
