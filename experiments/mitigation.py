"""What the training experiments share: their runs per recipe and seed, and their statistics.

The four mitigation experiments and the training-health one use it.

Each experiment names its runs (a label and the recipe changes, with a ``slug`` naming the
run's directory), trains every seed of every run (two at a time by default,
`experiments.runs.trained_in_parallel`), measures each run's records, and stacks the
measurements as ``[run, seed, ...]`` tensors. Every comparison with the unremedied run is a
difference of two independent means with its standard error.
"""

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from experiments.runs import Recipe, trained_in_parallel


def train_runs(
    runs: dict[str, dict[str, Any]],
    seeds: int,
    out: Path,
    recipe: Callable[..., Recipe],
    workers: int,
    device: str = "cpu",
) -> list[tuple[str, Recipe, Path, Any]]:
    """(label, recipe, run directory, records) of every seed of every run, trained if needed.

    ``recipe(seed, **changes)`` builds a run's recipe; runs live in ``out/runs/SLUG/seed-N``
    and train on ``device``.
    """
    jobs: list[tuple[str, Recipe, Path]] = []
    for name, changes in runs.items():
        changes = dict(changes)
        slug = changes.pop("slug")
        for seed in range(seeds):
            jobs.append((name, recipe(seed, **changes), out / "runs" / slug / f"seed-{seed}"))
    records = trained_in_parallel([(cfg, run_dir) for _, cfg, run_dir in jobs], workers,
                                  device=device)  # fmt: skip
    return [(*job, rec) for job, rec in zip(jobs, records, strict=True)]


def stack_runs(
    names: list[str], measured: list[tuple[str, dict[str, Tensor]]]
) -> dict[str, Tensor]:
    """Each measurement as a ``[run, seed, ...]`` tensor, runs in ``names``' order.

    ``measured``: (run label, that seed's measurements by key), seeds in order.
    """
    stacked: dict[str, dict[str, list[Tensor]]] = {}
    for name, values in measured:
        for key, value in values.items():
            stacked.setdefault(key, {}).setdefault(name, []).append(value)
    return {key: torch.stack([torch.stack(per_run[name]) for name in names])
            for key, per_run in stacked.items()}  # fmt: skip


def mean_se(values: Tensor) -> str:
    """``mean ± standard error`` over the seeds (the mean alone for one seed)."""
    n = values.numel()
    mean = float(values.mean())
    return f"{mean:.3g} ± {float(values.std() / n**0.5):.2g}" if n > 1 else f"{mean:.3g}"


def difference(values: Tensor, i: int, j: int) -> tuple[float, float]:
    """Run ``i``'s mean minus run ``j``'s over seeds, and its standard error (NaN: one seed)."""
    a, b = values[i], values[j]
    diff = float(a.mean() - b.mean())
    if a.numel() < 2 or b.numel() < 2:
        return diff, math.nan
    return diff, math.sqrt(float(a.var()) / a.numel() + float(b.var()) / b.numel())


def versus(values: Tensor, i: int, j: int | None) -> str:
    """`difference` as ``+d ± se``; an em dash when there is nothing to compare with."""
    if j is None or i == j:
        return "—"
    diff, se = difference(values, i, j)
    return f"{diff:+.3g}" if math.isnan(se) else f"{diff:+.3g} ± {se:.2g}"


def seed_means(
    runs: list[str], x: list[int] | list[float], values: Tensor
) -> dict[str, tuple[list[int] | list[float], list[float]]]:
    """One line-chart series per run: ``values[run, seed, point]`` averaged over the seeds.

    NaNs (a seed that stopped early, a value not logged) are left out of each mean.
    """
    return {name: (x, values[i].nanmean(0).tolist()) for i, name in enumerate(runs)}
