"""Attribution graphs: rows by batched backward passes against one backward pass per row.

On one prompt, in the same run, interleaved:
- the graph with ``--batch`` rows per backward pass (the prompt repeated once per row);
- the same graph with one row per backward pass (what a per-target loop costs);
- the floor: one forward and backward pass of the prompt.

Both graphs explore the same ``ROWS`` features and give the same edges. The default run uses
a random 4-layer model with random transcoders; ``--full`` adds SmolLM2 with the transcoders
in ``results/transcoders-smollm2`` (`mechscope sae train smollm2-135m --transcoder`) on a
20-token prompt, and the peak memory of its graph (256 features explored) in a fresh process.

Target (issue 29): the batched graph well under the per-row loop; the 30-layer, 20-token
graph within the CPU machine's memory.
"""

from pathlib import Path

import torch

from benchmarks.common import (
    Options,
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
from mechscope.circuits import Replacement, Target, attribution_graph
from mechscope.models import TinyConfig

ROWS = 64
TRANSCODERS = Path("results/transcoders-smollm2")
PROMPT = (
    "When Mary and John went to the store on a sunny Sunday morning, John gave a drink to "
    "Mary because she was thirsty"
)


def _random_transcoders(model) -> dict:  # noqa: ANN001
    import sae_lens

    torch.manual_seed(0)
    out = {}
    for layer in range(model.cfg.n_layers):
        d = model.cfg.d_model
        config = sae_lens.TranscoderConfig(d_in=d, d_sae=8 * d, d_out=d,
                                           apply_b_dec_to_input=False)  # fmt: skip
        transcoder = sae_lens.Transcoder(config)
        with torch.no_grad():
            for p in transcoder.parameters():
                p.normal_(0, 0.1)
        out[layer] = transcoder.eval()
    return out


def _setup(name: str):  # noqa: ANN202
    if name == "smollm2":
        from mechscope.features import load_transcoders

        model = load_with_tokenizer("smollm2-135m")
        transcoders = load_transcoders(TRANSCODERS)
    else:
        model = load_with_tokenizer(TinyConfig(n_layers=4, n_heads=4, d_model=64, d_vocab=258,
                                               n_ctx=64, attn_only=False, seed=1))  # fmt: skip
        transcoders = _random_transcoders(model)
    tokens = model.to_tokens(PROMPT)[0][:20]
    replacement = Replacement.of(model, transcoders, tokens)
    return model, replacement, Target(int(replacement.logits[-1].argmax()))


def forward_backward(replacement: Replacement, target: Target) -> float:
    embeddings = replacement.embeddings[None].clone().requires_grad_(True)
    features = {k: v[None].clone().requires_grad_(True) for k, v in replacement.features.items()}
    errors = {k: v[None].clone().requires_grad_(True) for k, v in replacement.errors.items()}
    with torch.enable_grad():
        logits, _ = replacement.run(embeddings, features, errors)
        value = target.of(logits)[0]
        value.backward()
    return float(value.detach())


def compare(name: str, opts: Options, batch: int = 32) -> None:
    from mechscope.circuits.tracing import _nodes, _Rows

    _, replacement, target = _setup(name)
    nodes = _nodes(replacement)
    rows_of = _Rows(replacement, nodes, target)
    chosen = [nodes.target, *range(0, nodes.n_features, max(1, nodes.n_features // ROWS))][:ROWS]

    def batched() -> torch.Tensor:
        return torch.cat([rows_of(chosen[i : i + batch])[0] for i in range(0, len(chosen), batch)])

    def per_row() -> torch.Tensor:
        return torch.cat([rows_of([node])[0] for node in chosen])

    results: dict = {}
    times = interleaved({"batched": batched, "per row": per_row,
                         "forward+backward": lambda: forward_backward(replacement, target),
                         "graph": lambda: attribution_graph(replacement, target,
                                                            max_features=ROWS, batch_size=batch,
                                                            progress=False)},
                        opts.rounds, results)  # fmt: skip
    same = torch.allclose(results["batched"], results["per row"], atol=1e-4)
    print(
        f"{name}: {len(replacement.tokens)} tokens, {nodes.n_features} active features; {ROWS} "
        f"rows batched ({batch} per pass) {seconds(times, 'batched')} = "
        f"{ratio(times, 'batched', 'forward+backward')} one forward + backward; one row per "
        f"pass {seconds(times, 'per row')} = {ratio(times, 'per row', 'batched')} the batched "
        f"rows (same rows: {same}); the whole graph ({ROWS} features explored, pruned) "
        f"{seconds(times, 'graph')}"
    )


def memory_job(name: str, job: str) -> None:  # noqa: ARG001 - one job
    _, replacement, target = _setup(name)
    measure(lambda: attribution_graph(replacement, target, max_features=256, progress=False))


def main() -> None:
    opts = options()
    print(header(opts))
    names = opts.models or (("random-4l", "smollm2") if opts.full else ("random-4l",))
    for name in names:
        if name == "smollm2" and not TRANSCODERS.is_dir():
            print(f"smollm2: skipped, no transcoders in {TRANSCODERS}")
            continue
        compare(name, opts)
        if name == "smollm2":
            growth = peak_growth_mib("bench_graphs", "graph", name)
            print(f"smollm2: peak RSS growth of the 30-layer, 20-token graph (256 features "
                  f"explored): {growth:.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    run(main, memory_job)
