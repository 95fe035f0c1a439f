"""Corpus jobs on 1 and 2 workers, and what a shard and a worker cost (issue 31).

The job (``--job heads``, the default): every head kind of SmolLM2 (``--models induction-2l``
for a small model) on UD EWT dev sentences (``--sentences``, default 400), with their
dependency accuracies, as ``mechscope heads --conllu --workers N`` runs it; ``--job
diagnose``: every diagnostic of ``mechscope diagnose --conllu --workers N`` (attention, rank,
anisotropy, gradients, the UPOS class geometry). Interleaved rounds of:
- "in process": `detect_heads` with the treebank accumulator (`diagnose`), ``--threads``
  torch threads;
- "2 processes": `sharded_detect_heads` (`sharded_diagnose`) on two spawned workers (one
  thread each), each loading the model once: what a user waits for, pool start included;
- "ray, 2 actors": the same on a local Ray cluster started once before the rounds (its
  start, 10-25 s here, is printed apart), the actors started in each round.

Then the fixed costs that a scaling model needs: a worker's start (spawn, import, model load:
a pool running one empty shard), and a shard's round trip (64 empty shards on a started pool
of two: the time per shard). The sharded scores are checked against the one-process ones
(each kind's largest difference relative to its largest score; for diagnose, each
diagnostic's main figure).
"""

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from benchmarks.common import header, interleaved, options, ratio, seconds
from mechscope.data.conllu import read_conllu
from mechscope.diagnostics import diagnose
from mechscope.executors import (
    Executor,
    ExecutorKind,
    ModelRecipe,
    map_shards,
    sharded_detect_heads,
    sharded_diagnose,
)
from mechscope.heads import DependencyAccumulator, align_all, detect_heads

DEV = Path(__file__).resolve().parents[2] / "shared/data/ud_english_ewt/en_ewt-ud-dev.conllu"


def empty(model: object, shard: int) -> int:  # noqa: ARG001 - the task's signature
    """A shard that does nothing: what remains is the executor's own cost."""
    return shard


Job = Callable[[], torch.Tensor]


def heads_job(model: Any, recipe: ModelRecipe, sentences: list) -> tuple[Job, Callable]:  # noqa: ANN401
    """Every head kind and the dependency accuracies: in process, and a sharded job's maker."""
    aligned, skipped = align_all(model, sentences)
    print(f"{recipe.spec}: {len(aligned)} sentences aligned ({sum(skipped.values())} skipped)")

    def in_process() -> torch.Tensor:
        accumulator = DependencyAccumulator(model, aligned, skipped)
        scores = detect_heads(model, accumulator.tokens, consumers=[accumulator], progress=False)
        return scores.per_prompt

    def sharded(executor: Executor) -> Job:
        def job() -> torch.Tensor:
            accumulator = DependencyAccumulator(model, aligned, skipped)
            scores = sharded_detect_heads(recipe, accumulator.tokens, executor=executor,
                                          syntax=accumulator, progress=False)  # fmt: skip
            return scores.per_prompt

        return job

    return in_process, sharded


def diagnose_job(model: Any, recipe: ModelRecipe, sentences: list) -> tuple[Job, Callable]:  # noqa: ANN401
    """Every diagnostic (each one's main figure a row): in process, and a sharded job's maker."""
    prompts = [" ".join(s.words) for s in sentences]

    def figures(results: dict) -> torch.Tensor:
        rows = [results["attention"].entropy.flatten(), results["rank"].res.flatten(),
                results["anisotropy"].baseline, results["gradients"].norms.flatten(),
                results["class-geometry"].ratio]  # fmt: skip
        width = max(len(row) for row in rows)
        return torch.stack([torch.nn.functional.pad(r.float(), (0, width - len(r)))
                            for r in rows])  # fmt: skip

    def in_process() -> torch.Tensor:
        return figures(diagnose(model, prompts, sentences=sentences, progress=False))

    def sharded(executor: Executor) -> Job:
        def job() -> torch.Tensor:
            return figures(sharded_diagnose(recipe, prompts, executor, sentences=sentences,
                                            progress=False))  # fmt: skip

        return job

    return in_process, sharded


JOBS = {"heads": heads_job, "diagnose": diagnose_job}
"""``--job``: each job's one-process run and the maker of its sharded run."""


def main() -> None:
    """Time the job in process and on two workers; then a worker's start and a shard's trip."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--sentences", type=int, default=400)
    parser.add_argument("--job", choices=tuple(JOBS), default="heads")
    args, _ = parser.parse_known_args()
    opts = options()
    spec = (opts.models or ("smollm2-135m",))[0]
    print(header(opts), f"cpus {os.cpu_count()}")
    recipe = ModelRecipe(spec)
    model = recipe.load()
    sentences = read_conllu(DEV, args.sentences)
    in_process, sharded = JOBS[args.job](model, recipe, sentences)

    candidates = {"in process": in_process, "2 processes": sharded(Executor(workers=2))}
    ray_started = None
    try:
        import ray

        start = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        ray_started = time.perf_counter() - start
        candidates["ray, 2 actors"] = sharded(Executor(ExecutorKind.RAY, workers=2))
    except ImportError:
        print("ray is not installed (pip install 'mechscope[scale]'): Ray rows skipped")
    values: dict = {}
    times = interleaved(candidates, opts.rounds, values)
    reference = values["in process"]
    scale = reference.nan_to_num().abs().flatten(1).max(1).values.clamp(min=1.0)  # per kind
    for name in candidates:
        diff = (values[name] - reference).nan_to_num().abs().flatten(1).max(1).values / scale
        # every kind to float32 rounding; the no-op kind (a gradient through every layer)
        # to about 1e-3 relative: shards pad their own batches, so sums run in another order
        print(f"{name}: largest difference relative to each kind's largest score "
              f"{float(diff.max()):.1e}")  # fmt: skip
        assert float(diff.max()) < 1e-2, (name, diff)
    print(f"job: {seconds(times, 'in process')} in process")
    for name in candidates:
        if name != "in process":
            print(f"  {name}: {seconds(times, name)}; in process / {name}: "
                  f"{ratio(times, 'in process', name)} (speed-up)")  # fmt: skip
    if ray_started is not None:
        print(f"  (Ray's local cluster started once in {ray_started:.1f} s, not in the rounds)")

    start = time.perf_counter()
    map_shards(empty, [0], recipe, Executor(workers=2), progress=False)
    print(
        f"a pool of 2 workers started and ran one empty shard: {time.perf_counter() - start:.2f} s"
    )
    for name, executor in [("2 processes", Executor(workers=2)),
                           ("ray, 2 actors", Executor(ExecutorKind.RAY, workers=2))]:  # fmt: skip
        if name.startswith("ray") and ray_started is None:
            continue
        trips = []
        for n in (2, 66):
            start = time.perf_counter()
            map_shards(empty, list(range(n)), recipe, executor, progress=False)
            trips.append(time.perf_counter() - start)
        extra = trips[1] - trips[0]
        print(f"{name}: {1000 * extra / 64:.1f} ms per empty shard (64 more shards: "
              f"{extra:.2f} s over a start of {trips[0]:.2f} s)")  # fmt: skip
    if ray_started is not None:
        import ray

        ray.shutdown()


if __name__ == "__main__":
    main()
