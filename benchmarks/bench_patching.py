"""Patching cost against three baselines in the same run (see `benchmarks.common` for how).

For head outputs (every layer x head, all positions) and the residual stream by layer and
position, on induction pairs (`repeated_pairs`, logit difference at the last position):
- the physical floor: one forward pass of the corrupted batch without logits;
- TransformerLens ``patching.py`` (its clean cache included), on induction-2l and the GPT-2
  shape (on SmolLM2 it would take minutes per round: left out, said so);
- a competent hand-written loop, the code a strong researcher writes in a notebook: cache the
  clean activations and the corrupted residual, then per layer one pass that batches every
  site of the layer (a copy of the corrupted batch per head or position), starting at the
  patched layer (``start_at_layer``), stopping at the final residual and unembedding only the
  answer position (``x @ W_U + b_U``);
- a weaker loop, labelled "one pass per site": the same without batching the sites (the
  baseline before issue 32, 1.8x slower than the competent one).

Targets (issue 16): exact patching >= 1.5x faster than the hand-written loop and >= 5x
faster than TransformerLens, equal values (max |diff| <= 1e-5 relative to the metric's
scale); attribution patching <= 1.6x one no-grad forward with logits; peak memory within
1.5x of one forward with logits of the same batch, or stated.
"""

import torch
import transformer_lens.patching as tl_patching

from benchmarks.common import (
    GPT2_SHAPE,
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
from mechscope.core.sites import Component, every_site
from mechscope.interventions.activation import activation_patching, patching_hooks
from mechscope.interventions.attribution import attribution_patching
from mechscope.interventions.pairs import TaskPairs, repeated_pairs

MODELS = {  # name: (spec, prompt pairs, half length, compare with TransformerLens)
    "induction-2l": ("induction-2l", 16, 10, True),
    "gpt2-shape": (GPT2_SHAPE, 4, 8, True),
    "smollm2": ("smollm2-135m", 4, 8, False),
}


def setup(name: str):  # noqa: ANN201 - (model, task)
    spec, n_prompts, half, _ = MODELS[name]
    model = load_with_tokenizer(spec)
    return model, repeated_pairs(model, n_prompts=n_prompts, half=half)


def _unembed_rows(model, resid, task: TaskPairs, n_rep: int = 1) -> torch.Tensor:  # noqa: ANN001
    """The mean logit difference of each of ``n_rep`` copies of the batch stacked in
    ``resid`` (copy-major), only the answer rows unembedded (``x @ W_U + b_U``)."""
    rows = torch.arange(resid.shape[0])
    positions, answers, wrong = (t.repeat(n_rep) for t in (task.positions, task.answers,
                                                           task.wrong))  # fmt: skip
    logits = model.ln_final(resid[rows, positions]) @ model.W_U + model.b_U
    return (logits[rows, answers] - logits[rows, wrong]).view(n_rep, -1).mean(1)


@torch.no_grad()
def by_hand_heads(model, task: TaskPairs) -> torch.Tensor:  # noqa: ANN001
    """Head-output patching one pass per head (a weaker baseline: the competent one batches
    the heads of a layer, `competent_heads`)."""
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    _, clean = model.run_with_cache(task.clean.tokens, names_filter=lambda n: n.endswith("hook_z"))
    _, corrupted = model.run_with_cache(
        task.corrupted.tokens, names_filter=lambda n: n.endswith("hook_resid_pre")
    )
    out = torch.empty(n_layers, n_heads)
    for layer in range(n_layers):
        for head in range(n_heads):

            def patch(z, hook, head=head):  # noqa: ANN001, ANN202
                z[:, :, head] = clean[hook.name][:, :, head]
                return z

            resid = model.run_with_hooks(
                corrupted[f"blocks.{layer}.hook_resid_pre"], start_at_layer=layer,
                stop_at_layer=n_layers, fwd_hooks=[(f"blocks.{layer}.attn.hook_z", patch)],
            )  # fmt: skip
            out[layer, head] = _unembed_rows(model, resid, task)[0]
    return out


@torch.no_grad()
def competent_heads(model, task: TaskPairs) -> torch.Tensor:  # noqa: ANN001
    """Head-output patching as a competent researcher batches it: per layer one pass of
    ``n_heads`` copies of the corrupted batch from that layer's ``resid_pre``, copy ``h``
    with head ``h`` patched, the answer rows unembedded (``x @ W_U + b_U``)."""
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    _, clean = model.run_with_cache(task.clean.tokens, names_filter=lambda n: n.endswith("hook_z"))
    _, corrupted = model.run_with_cache(
        task.corrupted.tokens, names_filter=lambda n: n.endswith("hook_resid_pre")
    )
    n_batch = task.clean.tokens.shape[0]
    out = torch.empty(n_layers, n_heads)
    for layer in range(n_layers):
        source = clean[f"blocks.{layer}.attn.hook_z"]

        def patch(z, hook, source=source):  # noqa: ANN001, ANN202, ARG001
            z = z.view(n_heads, n_batch, *z.shape[1:])
            for head in range(n_heads):
                z[head, :, :, head] = source[:, :, head]
            return z.view(n_heads * n_batch, *z.shape[2:])

        resid = model.run_with_hooks(
            corrupted[f"blocks.{layer}.hook_resid_pre"].repeat(n_heads, 1, 1),
            start_at_layer=layer, stop_at_layer=n_layers,
            fwd_hooks=[(f"blocks.{layer}.attn.hook_z", patch)],
        )  # fmt: skip
        out[layer] = _unembed_rows(model, resid, task, n_heads)
    return out


@torch.no_grad()
def competent_resid(model, task: TaskPairs) -> torch.Tensor:  # noqa: ANN001
    """Residual patching by layer and position, batched: per layer one pass of ``n_pos``
    copies of the corrupted ``resid_pre``, copy ``p`` with position ``p`` clean."""
    n_layers, n_pos = model.cfg.n_layers, task.clean.tokens.shape[1]
    keep = lambda n: n.endswith("hook_resid_pre")  # noqa: E731
    _, clean = model.run_with_cache(task.clean.tokens, names_filter=keep)
    _, corrupted = model.run_with_cache(task.corrupted.tokens, names_filter=keep)
    n_batch = task.clean.tokens.shape[0]
    out = torch.empty(n_layers, n_pos)
    copy = torch.arange(n_pos)
    for layer in range(n_layers):
        name = f"blocks.{layer}.hook_resid_pre"
        x = corrupted[name].repeat(n_pos, 1, 1).view(n_pos, n_batch, n_pos, -1)
        x[copy, :, copy] = clean[name].transpose(0, 1)
        resid = model(x.view(n_pos * n_batch, n_pos, -1), start_at_layer=layer,
                      stop_at_layer=n_layers)  # fmt: skip
        out[layer] = _unembed_rows(model, resid, task, n_pos)
    return out


@torch.no_grad()
def by_hand_resid(model, task: TaskPairs) -> torch.Tensor:  # noqa: ANN001
    """Residual patching by layer and position one pass per site (a weaker baseline)."""
    n_layers, n_pos = model.cfg.n_layers, task.clean.tokens.shape[1]
    keep = lambda n: n.endswith("hook_resid_pre")  # noqa: E731
    _, clean = model.run_with_cache(task.clean.tokens, names_filter=keep)
    _, corrupted = model.run_with_cache(task.corrupted.tokens, names_filter=keep)
    out = torch.empty(n_layers, n_pos)
    for layer in range(n_layers):
        name = f"blocks.{layer}.hook_resid_pre"
        for pos in range(n_pos):
            x = corrupted[name].clone()
            x[:, pos] = clean[name][:, pos]
            resid = model(x, start_at_layer=layer, stop_at_layer=n_layers)
            out[layer, pos] = _unembed_rows(model, resid, task)[0]
    return out


def by_hand_attribution(model, task: TaskPairs) -> None:  # noqa: ANN001
    """Attribution patching by hand: clean cache, one corrupted pass with grads, backward."""
    names = lambda n: n.endswith(("hook_resid_pre", "hook_z"))  # noqa: E731
    with torch.no_grad():
        _, clean = model.run_with_cache(task.clean.tokens, names_filter=names)
    kept = {}

    def keep(act, hook):  # noqa: ANN001, ANN202
        kept[hook.name] = act

    hooks = [(name, keep) for name in clean]
    resid = model.run_with_hooks(
        task.corrupted.tokens, stop_at_layer=model.cfg.n_layers, fwd_hooks=hooks
    )
    grads = torch.autograd.grad(_unembed_rows(model, resid, task)[0], list(kept.values()))
    for (name, act), grad in zip(kept.items(), grads, strict=True):
        _ = ((clean[name] - act.detach()) * grad).sum(0)


def jobs(model, task: TaskPairs):  # noqa: ANN001, ANN201 - name: job
    n_layers, n_heads, n_pos = model.cfg.n_layers, model.cfg.n_heads, task.clean.tokens.shape[1]
    metric = task.logit_diff()
    heads = every_site(Component.Z, n_layers, n_heads=n_heads)
    resid = every_site(Component.RESID_PRE, n_layers, n_pos=n_pos)
    every = resid + every_site(Component.Z, n_layers, n_heads=n_heads, n_pos=n_pos)

    def ours(sites):  # noqa: ANN001, ANN202
        return lambda: (
            activation_patching(
                task.runs(model, metric, patching_hooks(model, sites)), sites, progress=False
            ).values
        )

    def theirs(function):  # noqa: ANN001, ANN202
        def with_clean_cache():  # noqa: ANN202
            _, cache = model.run_with_cache(task.clean.tokens)
            return function(model, task.corrupted.tokens, cache, metric)

        return with_clean_cache

    return {
        "floor": lambda: model(task.corrupted.tokens, stop_at_layer=n_layers),
        "forward": lambda: model(task.corrupted.tokens),
        "heads": ours(heads),
        "heads by hand": lambda: competent_heads(model, task),
        "heads per site": lambda: by_hand_heads(model, task),
        "heads TL": theirs(tl_patching.get_act_patch_attn_head_out_all_pos),
        "resid": ours(resid),
        "resid by hand": lambda: competent_resid(model, task),
        "resid per site": lambda: by_hand_resid(model, task),
        "resid TL": theirs(tl_patching.get_act_patch_resid_pre),
        "attribution": lambda: attribution_patching(task.runs(model, metric), every),
        "attribution by hand": lambda: by_hand_attribution(model, task),
    }


def memory_job(name: str, job: str) -> None:
    model, task = setup(name)
    measure(jobs(model, task)[job])  # (attribution turns gradients back on itself)


def compare(name: str, opts: Options) -> None:
    model, task = setup(name)
    with_tl = MODELS[name][3]
    every = jobs(model, task)
    n_pos = task.clean.tokens.shape[1]
    print(f"{name}: {task.clean.tokens.shape[0]} prompt pairs x {n_pos} tokens")
    with torch.no_grad():
        for kind, n_sites in (
            ("heads", model.cfg.n_layers * model.cfg.n_heads),
            ("resid", model.cfg.n_layers * n_pos),
        ):
            chosen = [kind, f"{kind} by hand", "floor"] + ([f"{kind} TL"] if with_tl else [])
            chosen += [f"{kind} per site"]
            values: dict = {}
            times = interleaved({k: every[k] for k in chosen}, opts.rounds, values)
            values.pop("floor")
            scale = float(values[kind].abs().max())
            diffs = {k: float((v.reshape(values[kind].shape) - values[kind]).abs().max())
                     for k, v in values.items() if k != kind}  # fmt: skip
            tl = (
                f"; TL {seconds(times, f'{kind} TL')} -> {ratio(times, f'{kind} TL', kind)} "
                "faster (target >= 5x)"
                if with_tl else "; TransformerLens not timed on this model"
            )  # fmt: skip
            print(
                f"  {kind} ({n_sites} sites): mechscope {seconds(times, kind)}; competent "
                f"batched loop {seconds(times, f'{kind} by hand')} -> "
                f"{ratio(times, f'{kind} by hand', kind)} faster (target >= 1.5x); one pass per "
                f"site {ratio(times, f'{kind} per site', kind)}{tl}; "
                f"{ratio(times, kind, 'floor')} a forward without logits; max |diff| "
                f"{max(diffs.values()):.1e} (values up to {scale:.1f})"
            )
    times = interleaved(
        {k: every[k] for k in ("attribution", "attribution by hand", "forward")}, opts.rounds
    )
    print(
        f"  attribution (resid and z by position): mechscope {seconds(times, 'attribution')} = "
        f"{ratio(times, 'attribution', 'forward')} a no-grad forward with logits (target <= "
        f"1.6x); by hand {ratio(times, 'attribution by hand', 'forward')}"
    )
    growth = {job: peak_growth_mib("bench_patching", job, name)
              for job in ("forward", "heads", "resid", "attribution", "heads by hand")}  # fmt: skip
    worst = max(growth.values()) / growth["forward"]
    shown = ", ".join(f"{job} {mib:.0f} MiB" for job, mib in growth.items())
    print(f"  peak RSS growth: {shown} (target: within 1.5x of forward's; worst {worst:.1f}x)")


def main(argv: list[str] | None = None) -> None:
    opts = options(argv)
    print(header(opts))
    torch.manual_seed(0)
    for name in opts.models or ("induction-2l", "gpt2-shape") + (("smollm2",) if opts.full else ()):
        compare(name, opts)


if __name__ == "__main__":
    run(main, memory_job)
