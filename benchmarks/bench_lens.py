"""Logit lens cost and memory against baselines in the same run (see `benchmarks.common`).

The lens reads every boundary through the unembedding, so its floor is not a forward pass
but caching the boundaries plus one unembedding each:
- by hand: ``run_with_cache`` of every ``resid_pre`` and the last ``resid_post``, the final
  LayerNorm, ``@ W_U + b_U``, ``log_softmax`` and a gather of the next tokens' log-probs;
- TransformerLens: ``cache.accumulated_resid(apply_ln=True)`` then ``model.unembed``;
- a plain forward with logits, for scale.
mechscope's lens computes more than either (ranks, entropy, KL to the output, top-k).
Targets (issue 16): at the floor's speed; peak memory near one forward with logits.
"""

import torch

from benchmarks.common import (
    GPT2_SHAPE,
    Options,
    header,
    interleaved,
    measure,
    options,
    peak_growth_mib,
    ratio,
    run,
    seconds,
)
from mechscope.core.batch import pad_token_lists
from mechscope.lens.logit import lens_trajectory
from mechscope.models import load_model

MODELS = {"induction-2l": ("induction-2l", 64, 128), "gpt2-shape": (GPT2_SHAPE, 4, 32),
          "smollm2": ("smollm2-135m", 4, 32)}  # fmt: skip
"""SmolLM2 (real 4-bit weights, 30 layers, vocabulary 49,152) with ``--full`` only."""


def setup(name: str):  # noqa: ANN201 - (model, tokens)
    spec, n_prompts, n_pos = MODELS[name]
    model = load_model(spec, device="cpu")
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, model.cfg.d_vocab, (n_prompts, n_pos), generator=generator)
    return model, tokens


def by_hand(model, tokens: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
    n_layers = model.cfg.n_layers
    names = [f"blocks.{i}.hook_resid_pre" for i in range(n_layers)]
    names.append(f"blocks.{n_layers - 1}.hook_resid_post")
    _, cache = model.run_with_cache(tokens, names_filter=names, return_type=None)
    resid = torch.stack([cache[name] for name in names])
    log_probs = (model.ln_final(resid) @ model.W_U + model.b_U).log_softmax(-1)
    index = tokens[None, :, 1:, None].expand(len(names), -1, -1, 1)
    return log_probs[:, :, :-1].gather(-1, index)[..., 0]


def transformer_lens(model, tokens: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
    _, cache = model.run_with_cache(tokens)
    return model.unembed(cache.accumulated_resid(apply_ln=True)).log_softmax(-1)


def jobs(model, tokens: torch.Tensor):  # noqa: ANN001, ANN201 - name: job
    batch = pad_token_lists(tokens.tolist(), pad_id=0)
    return {
        "lens": lambda: lens_trajectory(model, batch),
        "by hand": lambda: by_hand(model, tokens),
        "TL": lambda: transformer_lens(model, tokens),
        "forward": lambda: model(tokens),
    }


def memory_job(name: str, job: str) -> None:
    measure(jobs(*setup(name))[job])


def compare(name: str, opts: Options) -> None:
    model, tokens = setup(name)
    every = jobs(model, tokens)
    results: dict = {}
    with torch.no_grad():
        times = interleaved(every, opts.rounds, results)
    ours = results["lens"].log_prob
    worst = float((ours[:, :, :-1] - results["by hand"]).abs().max())
    print(
        f"{name}, {tokens.shape[0]} x {tokens.shape[1]} tokens, {model.cfg.n_layers + 1} "
        f"boundaries, vocab {model.cfg.d_vocab}: lens {seconds(times, 'lens')} = "
        f"{ratio(times, 'lens', 'by hand')} the by-hand floor, {ratio(times, 'lens', 'TL')} "
        f"TransformerLens's, {ratio(times, 'lens', 'forward')} a forward; max |diff| {worst:.1e}"
    )
    growth = {job: peak_growth_mib("bench_lens", job, name) for job in every}
    shown = ", ".join(f"{job} {mib:.0f} MiB" for job, mib in growth.items())
    print(
        f"  peak RSS growth: {shown}; lens / forward {growth['lens'] / growth['forward']:.1f}x "
        "(target <= 1.5x)"
    )


def main(argv: list[str] | None = None) -> None:
    opts = options(argv)
    print(header(opts))
    for name in opts.models or ("induction-2l", "gpt2-shape") + (("smollm2",) if opts.full else ()):
        compare(name, opts)


if __name__ == "__main__":
    run(main, memory_job)
