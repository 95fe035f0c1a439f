"""Head classification cost, as ratios against baselines measured in the same run.

Targets (issue 4), 64 prompts of 128 tokens:
- every forward-only kind (all but no-op) <= 1.5x one plain forward pass of the same batch
  (MiniLM, the real 6-layer BERT); the no-op kind needs a backward pass, so it is compared
  with a plain forward + backward instead;
- TransformerLens ``detect_head`` for its three kinds on the same prompts: >= 20x slower
  than mechscope (which scores all of its kinds in that time);
- peak memory far below a full ``run_with_cache`` (peak RSS growth, measured in a fork).
"""

import subprocess
import sys
import time

import torch
from transformer_lens.head_detector import detect_head

from benchmarks.common import WIDER, best_of, load_with_tokenizer
from mechscope.core.batch import pad_token_lists
from mechscope.heads import DetectionSettings, HeadKind, Normalisation, detect_heads
from mechscope.models import load_model
from mechscope.models.vocab import ordinary_ids

N_PROMPTS, N_POS = 64, 128
FORWARD_KINDS = [k for k in HeadKind if k is not HeadKind.NO_OP]
TL_KINDS = {
    "previous_token_head": HeadKind.PREVIOUS_TOKEN,
    "duplicate_token_head": HeadKind.DUPLICATE_TOKEN,
    "induction_head": HeadKind.PREFIX_MATCHING,
}


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def peak_growth_mib(mode: str) -> float:
    """Peak resident memory growth of one MiniLM job, run in a fresh process (Linux)."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_heads", "--memory", mode],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(out.stdout.split()[-1])


def memory_job(mode: str) -> None:
    """Load MiniLM and a batch, then run ``mode`` and print its peak RSS growth in MiB."""
    model = load_model("minilm", device="cpu")
    batch = random_batch(model)
    settings = DetectionSettings(batch_size=N_PROMPTS + 8)
    before = _rss_kib("VmRSS")
    with torch.no_grad():
        if mode == "forward":
            model(batch.tokens, return_type=None)
        elif mode == "cache":
            model.run_with_cache(batch.tokens, return_type=None)
        else:
            detect_heads(model, batch, FORWARD_KINDS, settings, progress=False)
    print((_rss_kib("VmHWM") - before) / 1024)


def random_batch(model, seed: int = 0):
    ids = ordinary_ids(model)
    generator = torch.Generator().manual_seed(seed)
    picks = ids[torch.randint(0, len(ids), (N_PROMPTS, N_POS), generator=generator)]
    return pad_token_lists(picks.tolist(), pad_id=0)


def against_forward() -> None:
    model = load_model("minilm", device="cpu")
    batch = random_batch(model)
    settings = DetectionSettings(batch_size=N_PROMPTS + 8)  # one pass, as the forward is

    def forward() -> None:
        with torch.no_grad():
            model(batch.tokens, return_type=None)

    def forward_backward() -> None:
        out = model(batch.tokens, return_type="embeddings")
        out.square().sum().backward()
        model.zero_grad(set_to_none=True)

    plain = best_of(forward)
    kinds = best_of(lambda: detect_heads(model, batch, FORWARD_KINDS, settings, progress=False))
    print(
        f"MiniLM, {N_PROMPTS}x{N_POS}: forward {plain:.2f}s, {len(FORWARD_KINDS)} kinds "
        f"{kinds:.2f}s -> {kinds / plain:.2f}x (target <= 1.5x; includes 8 induction rows)"
    )
    plain_fb = best_of(forward_backward, 2)
    no_op = best_of(
        lambda: detect_heads(model, batch, [HeadKind.NO_OP], settings, progress=False), 2
    )
    print(
        f"  no-op kind {no_op:.2f}s vs forward+backward {plain_fb:.2f}s -> {no_op / plain_fb:.2f}x"
    )

    bare, ours, cache = (peak_growth_mib(m) for m in ("forward", "detect", "cache"))
    print(
        f"  peak memory growth: forward {bare:.0f} MiB, detect_heads {ours:.0f} MiB, "
        f"run_with_cache {cache:.0f} MiB ({cache / max(ours, 1):.1f}x ours)"
    )


def against_transformer_lens(name: str, spec: object) -> None:
    model = load_with_tokenizer(spec)
    generator = torch.Generator().manual_seed(1)
    letters = torch.randint(ord("a"), ord("z") + 1, (N_PROMPTS, N_POS - 2), generator=generator)
    prompts = ["".join(map(chr, row)) for row in letters.tolist()]
    start = time.perf_counter()
    tl = {name: detect_head(model, prompts, name) for name in TL_KINDS}
    tl_time = time.perf_counter() - start
    same = DetectionSettings(normalisation=Normalisation.ALL_DESTINATIONS, batch_size=N_PROMPTS)
    ours_time = best_of(
        lambda: detect_heads(model, prompts, list(TL_KINDS.values()), same, progress=False)
    )
    scores = detect_heads(model, prompts, list(TL_KINDS.values()), same, progress=False)
    worst = max(float((tl[n] - scores.score(k)).abs().max()) for n, k in TL_KINDS.items())
    print(
        f"{name}, {N_PROMPTS}x{N_POS}: TransformerLens detect_head (3 kinds) {tl_time:.2f}s, "
        f"mechscope {ours_time:.3f}s -> {tl_time / ours_time:.0f}x faster (target >= 20x); "
        f"max |difference| {worst:.1e} (target <= 1e-5)"
    )


def main() -> None:
    torch.manual_seed(0)
    against_forward()
    against_transformer_lens("induction-2l", "induction-2l")
    against_transformer_lens("4 layers x 8 heads, d_model 256", WIDER)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--memory":
        memory_job(sys.argv[2])
    else:
        main()
