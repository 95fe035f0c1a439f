"""What every benchmark shares: interleaved A/B timing, ratios with their spread, peak memory
in a fresh process, and the comparison models.

How a benchmark is timed (so that no side is flattered):
- every candidate runs once untimed (warm-up), then ``rounds`` rounds in which each
  candidate runs once, the order rotated from round to round; every side gets the same
  number of runs;
- a ratio is computed per round (both sides measured within seconds of each other) and
  reported as the median with [min-max] over rounds;
- the thread count is fixed (``--threads``, default 1: one thread punishes no side for many
  small passes) and printed.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from transformer_lens import HookedTransformerConfig

from mechscope.models import TinyConfig, load_model

WIDER = TinyConfig(n_layers=4, n_heads=8, d_model=256, d_vocab=258, n_ctx=128)
"""A random byte-vocabulary model with more heads than the shipped ones."""

GPT2_SHAPE = HookedTransformerConfig(
    n_layers=12, d_model=768, n_heads=12, d_head=64, d_mlp=3072, n_ctx=1024, d_vocab=50257,
    act_fn="gelu_new", normalization_type="LN", seed=0,
)  # fmt: skip
"""A random model shaped like GPT-2 small (124M parameters, vocabulary 50,257)."""


@dataclass(frozen=True)
class Options:
    """Command-line options every benchmark takes."""

    threads: int = 1
    rounds: int = 3
    full: bool = False
    models: tuple[str, ...] = ()
    """Only these models (``--models a,b``); default: each benchmark's own list."""


def options(argv: list[str] | None = None) -> Options:
    """Parse ``--threads``, ``--rounds`` and ``--full``, and set torch's thread count."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--full", action="store_true", help="also the slow models (SmolLM2)")
    parser.add_argument("--models", default="", help="comma-separated model names")
    args, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.threads)
    models = tuple(m for m in args.models.split(",") if m)
    return Options(args.threads, args.rounds, args.full, models)


def interleaved(
    candidates: dict[str, Callable[[], object]], rounds: int, results: dict | None = None
) -> dict[str, list[float]]:
    """Wall-clock seconds of each candidate per round, run interleaved (see module docstring).

    ``results``: filled with each candidate's return value from its warm-up run.
    """
    for name, fn in candidates.items():
        value = fn()
        if results is not None:
            results[name] = value
    names = list(candidates)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            synchronise()
            start = time.perf_counter()
            candidates[name]()
            synchronise()
            times[name].append(time.perf_counter() - start)
    return times


def synchronise() -> None:
    """Wait for queued CUDA work (a GPU job's clock must not stop before its kernels do)."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def ratio(times: dict[str, list[float]], numerator: str, denominator: str) -> str:
    """``numerator / denominator`` per round as "median [min-max]"."""
    per_round = [a / b for a, b in zip(times[numerator], times[denominator], strict=True)]
    return f"{statistics.median(per_round):.2f}x [{min(per_round):.2f}-{max(per_round):.2f}]"


def seconds(times: dict[str, list[float]], name: str) -> str:
    """The median seconds of ``name``."""
    return f"{statistics.median(times[name]):.3f}s"


def best_of(fn: Callable[[], object], repeats: int = 3) -> float:
    """The fastest of ``repeats`` wall-clock timings of ``fn``, in seconds (one-sided timings
    only, e.g. a model's own figures; comparisons use `interleaved`)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def header(opts: Options) -> str:
    """The line every benchmark prints first: threads, rounds, and how busy the machine is."""
    return (
        f"threads {opts.threads} (torch {torch.get_num_threads()}, {os.cpu_count()} CPUs), "
        f"{opts.rounds} interleaved rounds; ratios are median [min-max] over rounds; "
        f"{load_average()}"
    )


def load_average() -> str:
    """The machine's 1/5/15-minute load average, as a line's clause (a shared machine's noise)."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "load average unknown"
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def rss_kib(field: str) -> int:
    """A field of /proc/self/status in KiB (VmRSS, VmHWM)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def peak_growth_mib(module: str, job: str, model: str) -> float:
    """Peak RSS growth of ``job`` on ``model`` run in a fresh process (after its model and
    inputs exist): ``python -m benchmarks.MODULE --memory JOB MODEL``, dispatched by `run`
    to the module's ``memory_job(model, job)``, which calls `measure` around the job itself.
    """
    out = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", "--memory", job, model],
        capture_output=True, text=True, check=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"},
    )  # fmt: skip
    return float(out.stdout.split()[-1])


def run(main: Callable[[], None], memory_job: Callable[[str, str], None]) -> None:
    """A benchmark module's entry point: ``--memory JOB MODEL`` (from `peak_growth_mib`) runs
    ``memory_job(MODEL, JOB)`` alone; anything else runs ``main``."""
    if len(sys.argv) == 4 and sys.argv[1] == "--memory":
        memory_job(sys.argv[3], sys.argv[2])
    else:
        main()


def measure(fn: Callable[[], object]) -> None:
    """Print the peak RSS growth of ``fn`` in MiB (the peak reset first, Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # reset VmHWM to the current RSS
    before = rss_kib("VmRSS")
    with torch.no_grad():
        fn()
    print((rss_kib("VmHWM") - before) / 1024)  # noqa: T201


def load_with_tokenizer(spec: object):  # noqa: ANN201 - a TransformerLens model
    """``load_model(spec)``; a random model borrows the shipped byte-level tokenizer."""
    model = load_model(spec, device="cpu")  # pyright: ignore[reportArgumentType]
    if model.tokenizer is None:
        model.set_tokenizer(load_model("induction-2l").tokenizer)
    return model
