"""``mechscope ablate``: the loss with chosen heads ablated, and every head alone."""

import argparse
from pathlib import Path


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]", model_help: str) -> None:
    """Register the ``ablate`` subcommand."""
    ablate = sub.add_parser(
        "ablate",
        help="ablate heads (zero, mean, resample) and measure the next-token loss",
        description="Ablate --heads together and report the next-token loss on --data; also "
        "ablate every head alone (batched) for a layer x head map. Mean and resample ablation "
        "take their reference from the same data. Writes JSON + tensors + report.html.",
        epilog="example: mechscope ablate induction-2l --heads 1.1,1.3 --how mean "
        "--data prompts.txt --out results/ablate",
    )
    ablate.add_argument("model", metavar="MODEL", help=model_help)
    ablate.add_argument("--heads", required=True, help="LAYER.HEAD list, e.g. 1.4,1.7")
    ablate.add_argument("--how", choices=("zero", "mean", "resample"), default="zero")
    ablate.add_argument(
        "--data", type=Path, help="text file, one prompt per line (default: built-in)"
    )
    ablate.add_argument("--out", type=Path, required=True, help="output directory")
    ablate.add_argument("--device", default=None, help="torch device")
    ablate.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Joint and per-head ablation; print, save and render."""
    import torch

    from mechscope.ablation import ablate, ablation_effects, check_heads
    from mechscope.axes import HeadId
    from mechscope.data.prompts import DEFAULT_PROMPTS, read_prompts
    from mechscope.errors import MechscopeError
    from mechscope.heads.verify import text_loss
    from mechscope.models import has_lm_head, load_model
    from mechscope.results import save_result
    from mechscope.tokens import forward_kwargs, tokenize
    from mechscope.viz.patching import render_ablation

    try:
        heads = [HeadId.parse(h) for h in args.heads.split(",") if h.strip()]
    except ValueError as error:
        raise MechscopeError(str(error)) from None
    if not heads:
        raise MechscopeError("no --heads given; e.g. --heads 1.4,1.7")
    prompts = read_prompts(args.data) if args.data else list(DEFAULT_PROMPTS)
    model = load_model(args.model, device=args.device)
    if not has_lm_head(model):
        raise MechscopeError("ablate measures the next-token loss; this model has no unembedding.")
    check_heads(model, heads)
    batch = tokenize(model, prompts)
    with torch.no_grad():
        clean = float(text_loss(model(batch.tokens, **forward_kwargs(model, batch)), batch))
        with ablate(model, heads, args.how, reference=batch):
            ablated = float(text_loss(model(batch.tokens, **forward_kwargs(model, batch)), batch))
    effects = ablation_effects(model, batch, text_loss, "all", args.how, batch)
    grid = effects.as_grid(model.cfg.n_layers, model.cfg.n_heads)
    names = ",".join(str(h) for h in heads)
    print(f"next-token loss on {len(prompts)} prompts: clean {clean:.4f}")
    print(f"  {names} {args.how}-ablated together: {ablated:.4f} ({ablated - clean:+.4f})")
    for head, change in sorted(
        zip(effects.heads, effects.change.tolist(), strict=True), key=lambda x: -x[1]
    )[:5]:
        print(f"  alone {head}: {change:+.4f}")
    meta = {
        "heads": names,
        "how": args.how,
        "clean_loss": clean,
        "ablated_loss": ablated,
        "per_head": effects.to_rows(),
    }
    save_result(args.out, {"per_head_change": grid}, meta)
    rows = [["nothing", "-", clean, 0.0], [names, args.how, ablated, ablated - clean]]
    note = f"Next-token loss on {len(prompts)} prompts of {args.model}."
    path = render_ablation(grid, rows, f"Ablating heads of {args.model}", note).save(
        args.out / "report.html"
    )
    print(f"results: {args.out}; report: {path}")
    return 0
