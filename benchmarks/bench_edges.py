"""Edge attribution against exact patching of every edge, and against one forward + backward.

On induction pairs (`repeated_pairs`, logit difference at the last position), in the same
run, interleaved:
- EAP and EAP-IG (5 steps) over every edge of the model (`edge_attribution`);
- the exact reference: every edge ablated alone (`edge_effects`, many edges per forward
  pass as replicas of the batch), what EAP estimates;
- the floor: one forward and backward pass of the clean batch with the metric.

Targets (issue 29): EAP within 3x of one forward + backward; exact patching of every edge
is what EAP saves (its ratio to EAP grows with the number of edges: 81 on induction-2l,
70,651 on SmolLM2, where only ``--full`` times a sample of 256 edges and scales it).
"""

import torch

from benchmarks.common import (
    Options,
    header,
    interleaved,
    load_with_tokenizer,
    options,
    ratio,
    seconds,
)
from mechscope.circuits import ComponentGraph, edge_attribution, edge_effects
from mechscope.interventions.pairs import repeated_pairs

MODELS = {"induction-2l": ("induction-2l", 16, 10), "smollm2": ("smollm2-135m", 4, 8)}


def forward_backward(model, task) -> float:  # noqa: ANN001
    metric = task.metric()
    with torch.enable_grad():
        value = metric(model(task.clean.tokens))
        value.backward()
    model.zero_grad(set_to_none=True)
    return float(value.detach())


def compare(name: str, opts: Options) -> None:
    spec, n_prompts, half = MODELS[name]
    model = load_with_tokenizer(spec)
    task = repeated_pairs(model, n_prompts=n_prompts, half=half)
    graph = ComponentGraph.of(model)
    edges = [graph.edge_name(u, d) for u, d in graph.valid.nonzero().tolist()]
    sample = edges if len(edges) <= 256 else edges[:: len(edges) // 256][:256]
    candidates = {
        "eap": lambda: edge_attribution(model, task, method="eap"),
        "eap-ig": lambda: edge_attribution(model, task, method="eap-ig", steps=5),
        "exact": lambda: edge_effects(model, task, sample, progress=False),
        "forward+backward": lambda: forward_backward(model, task),
    }
    times = interleaved(candidates, opts.rounds)
    scale = len(edges) / len(sample)
    exact = f"exact, {len(sample)} edges {seconds(times, 'exact')}"
    if scale > 1:
        exact += f" (x{scale:.0f} for all {len(edges)})"
    print(
        f"{name}: {len(edges)} edges, {n_prompts} pairs x {task.clean.tokens.shape[1]} tokens; "
        f"EAP {seconds(times, 'eap')} = {ratio(times, 'eap', 'forward+backward')} one forward + "
        f"backward (target <= 3x); EAP-IG {ratio(times, 'eap-ig', 'forward+backward')}; "
        f"{exact} = {ratio(times, 'exact', 'eap')} EAP's time"
    )


def main() -> None:
    opts = options()
    print(header(opts))
    names = opts.models or (tuple(MODELS) if opts.full else ("induction-2l",))
    for name in names:
        compare(name, opts)


if __name__ == "__main__":
    main()
