"""Head classification cost against three baselines in the same run (see `benchmarks.common`).

On 64 prompts x 32 tokens (induction-2l, the GPT-2 shape) and 64 x 128 (MiniLM):
- the physical floor: one forward pass without logits (``stop_at_layer``; MiniLM: no MLM head);
- TransformerLens ``detect_head`` for its three kinds (previous-token, duplicate-token,
  induction), one call per kind, as its docs show;
- a competent hand-written version of those three kinds: ``run_with_cache`` of every
  pattern, then one einsum per kind against its target mask (TransformerLens's "mul" score).

Targets (issue 16): every forward-only kind (all but no-op, which needs a backward pass and
is compared with forward + backward) <= 1.3x the floor; the three TransformerLens kinds at
least as fast as the by-hand version, with less memory.
"""

import torch
from transformer_lens.head_detector import detect_head

from benchmarks.common import (
    GPT2_SHAPE,
    Options,
    best_of,
    header,
    interleaved,
    load_with_tokenizer,
    measure,
    options,
    peak_growth_mib,
    ratio,
    run,
    seconds,
)
from mechscope.heads import DetectionSettings, HeadKind, Normalisation, detect_heads
from mechscope.models import load_model
from mechscope.models.adapter import adapt
from mechscope.models.vocab import ordinary_ids

FORWARD_KINDS = [k for k in HeadKind if k is not HeadKind.NO_OP and not k.needs_annotation]
TL_KINDS = {
    "previous_token_head": HeadKind.PREVIOUS_TOKEN,
    "duplicate_token_head": HeadKind.DUPLICATE_TOKEN,
    "induction_head": HeadKind.PREFIX_MATCHING,
}
MODELS = {"induction-2l": ("induction-2l", 32), "gpt2-shape": (GPT2_SHAPE, 32),
          "minilm": ("minilm", 128), "smollm2": ("smollm2-135m", 32)}  # fmt: skip
"""SmolLM2 (real weights, 270 heads, grouped-query attention) with ``--full`` only."""
N_PROMPTS = 64


def setup(name: str):  # noqa: ANN201 - (model, letter prompts, token rows)
    spec, n_pos = MODELS[name]
    model = load_model(spec, device="cpu") if name == "minilm" else load_with_tokenizer(spec)
    generator = torch.Generator().manual_seed(1)
    letters = torch.randint(ord("a"), ord("z") + 1, (N_PROMPTS, n_pos - 2), generator=generator)
    prompts = ["".join(map(chr, row)) for row in letters.tolist()]
    if name == "minilm":  # random ordinary word pieces, as the classifier's own tests use
        ids = ordinary_ids(model)
        tokens = ids[torch.randint(0, len(ids), (N_PROMPTS, n_pos), generator=generator)]
    else:
        tokens = model.to_tokens(prompts)
    return model, prompts, tokens


def by_hand(model, tokens: torch.Tensor) -> dict[str, torch.Tensor]:  # noqa: ANN001
    """TransformerLens's three kinds from one cached pass and an einsum each ("mul" score)."""
    _, cache = model.run_with_cache(
        tokens, names_filter=lambda n: n.endswith("hook_pattern"), return_type=None
    )
    n = tokens.shape[1]
    causal = torch.ones(n, n, dtype=torch.bool).tril()
    same = (tokens[:, :, None] == tokens[:, None, :]) & causal & ~torch.eye(n, dtype=torch.bool)
    earlier_same = torch.zeros_like(same)
    earlier_same[:, :, 1:] = same[:, :, :-1]  # the token after an earlier copy of d's token
    targets = {
        "previous_token_head": torch.ones(n, n).tril(-1).triu(-1).bool()[None].expand_as(same),
        "duplicate_token_head": same,
        "induction_head": earlier_same & causal,
    }
    patterns = torch.stack(
        [cache[f"blocks.{i}.attn.hook_pattern"] for i in range(model.cfg.n_layers)]
    )
    return {name: torch.einsum("lbhds,bds->lh", patterns, t.float()) / (n * tokens.shape[0])
            for name, t in targets.items()}  # fmt: skip


def jobs(model, prompts, tokens):  # noqa: ANN001, ANN201 - name: job
    rows = N_PROMPTS + DetectionSettings().induction_rows
    settings = DetectionSettings(batch_size=rows, memory_budget_mb=None)  # one pass, as the floor
    same = DetectionSettings(normalisation=Normalisation.ALL_DESTINATIONS, batch_size=rows,
                             memory_budget_mb=None)  # fmt: skip
    kinds = (
        FORWARD_KINDS
        if model.tokenizer is not None
        else [k for k in FORWARD_KINDS if k not in (HeadKind.PUNCTUATION, HeadKind.SEPARATOR)]
    )
    inputs = tokens.tolist()
    decoder = adapt(model).causal
    floor_kwargs = {"stop_at_layer": model.cfg.n_layers} if decoder else {"return_type": None}

    def forward_backward() -> None:
        with torch.enable_grad():
            out = model(tokens, return_type="logits" if decoder else "embeddings")
            out.float().square().mean().backward()
        model.zero_grad(set_to_none=True)

    def no_op_by_hand() -> None:
        """The no-op kind's gradient as one writes it: keep every pattern, next-token loss,
        ``autograd.grad`` to the patterns (nothing else), the sink column read."""
        kept: list[torch.Tensor] = []
        hooks = [(f"blocks.{i}.attn.hook_pattern", lambda p, hook: kept.append(p))  # noqa: ARG005
                 for i in range(model.cfg.n_layers)]  # fmt: skip
        with torch.enable_grad():
            logits = model.run_with_hooks(tokens, fwd_hooks=hooks)
            loss = torch.nn.functional.cross_entropy(
                logits[:, :-1].flatten(0, 1), tokens[:, 1:].flatten()
            )
            grads = torch.autograd.grad(loss, kept)
        _ = [g[..., 0].abs().sum() / g.abs().sum() for g in grads]

    return {
        "no-op by hand": no_op_by_hand,
        "floor": lambda: model(tokens, **floor_kwargs),
        "forward": lambda: model(tokens),
        "forward+backward": forward_backward,
        "all forward kinds": lambda: detect_heads(model, inputs, kinds, settings, progress=False),
        "no-op": lambda: detect_heads(model, inputs, [HeadKind.NO_OP], settings, progress=False),
        "3 kinds": lambda: detect_heads(
            model, prompts, list(TL_KINDS.values()), same, progress=False
        ),  # fmt: skip
        "3 kinds TL": lambda: {k: detect_head(model, prompts, k) for k in TL_KINDS},
        "3 kinds by hand": lambda: by_hand(model, model.to_tokens(prompts)),
    }


def memory_job(name: str, job: str) -> None:
    measure(jobs(*setup(name))[job])


def compare(name: str, opts: Options) -> None:
    model, prompts, tokens = setup(name)
    every = jobs(model, prompts, tokens)
    width = tokens.shape[1]
    print(f"{name}: {N_PROMPTS} prompts x {width} tokens (+ 8 induction rows)")
    with torch.no_grad():
        times = interleaved(
            {k: every[k] for k in ("all forward kinds", "floor", "forward")}, opts.rounds
        )
        print(
            f"  every forward-only kind: {seconds(times, 'all forward kinds')} = "
            f"{ratio(times, 'all forward kinds', 'floor')} the floor (target <= 1.3x), "
            f"{ratio(times, 'all forward kinds', 'forward')} a forward with logits"
        )
    chosen = ("no-op", "forward+backward") + (("no-op by hand",) if adapt(model).causal else ())
    times = interleaved({k: every[k] for k in chosen}, opts.rounds)
    by_hand = (
        f"; {ratio(times, 'no-op', 'no-op by hand')} the gradient read by hand (patterns kept, "
        "autograd.grad to them only; target <= 1x)"
        if adapt(model).causal
        else ""
    )
    print(
        f"  no-op kind: {ratio(times, 'no-op', 'forward+backward')} a forward + backward{by_hand}"
    )
    if not adapt(model).causal:  # detect_head needs a HookedTransformer
        return
    results: dict = {}
    with torch.no_grad():
        times = interleaved(
            {k: every[k] for k in ("3 kinds", "3 kinds TL", "3 kinds by hand")}, opts.rounds,
            results,
        )  # fmt: skip
    ours = results["3 kinds"]
    worst = max(
        max(float((results["3 kinds TL"][k] - ours.score(v)).abs().max()),
            float((results["3 kinds by hand"][k] - ours.score(v)).abs().max()))
        for k, v in TL_KINDS.items()
    )  # fmt: skip
    print(
        f"  TransformerLens's 3 kinds: mechscope {seconds(times, '3 kinds')}; by hand "
        f"{ratio(times, '3 kinds by hand', '3 kinds')} mechscope's time (target >= 1x); "
        f"TL detect_head {ratio(times, '3 kinds TL', '3 kinds')}; max |diff| {worst:.1e}"
    )
    measured = ("forward", "3 kinds", "3 kinds by hand", "all forward kinds")
    growth = {job: peak_growth_mib("bench_heads", job, name) for job in measured}
    shown = ", ".join(f"{job} {mib:.0f} MiB" for job, mib in growth.items())
    print(f"  peak RSS growth: {shown}")


def scaling(name: str) -> None:
    """detect_heads (every forward-only kind) against the number of prompts: seconds per
    prompt at 16 to 128 prompts of the benchmark's length (linear: constant)."""
    model, _, tokens = setup(name)
    kinds = [k for k in FORWARD_KINDS if model.tokenizer is not None
             or k not in (HeadKind.PUNCTUATION, HeadKind.SEPARATOR)]  # fmt: skip
    shown = []
    for n in (16, 32, 64, 128):
        rows = tokens.repeat(2, 1)[:n].tolist()
        took = best_of(lambda rows=rows: detect_heads(model, rows, kinds, progress=False), 2)
        shown.append(f"{n} prompts {took / n * 1000:.1f} ms")
    print(f"  detect_heads by corpus size, per prompt: {', '.join(shown)} (linear: constant)")


def main(argv: list[str] | None = None) -> None:
    opts = options(argv)
    print(header(opts))
    torch.manual_seed(0)
    default = ("induction-2l", "gpt2-shape", "minilm") + (("smollm2",) if opts.full else ())
    for name in opts.models or default:
        compare(name, opts)
        scaling(name)


if __name__ == "__main__":
    run(main, memory_job)
