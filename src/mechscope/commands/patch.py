"""``mechscope patch``: activation (or attribution) patching from the command line."""

import argparse
from pathlib import Path

COMPONENT_NAMES = (
    "resid_pre",
    "resid_mid",
    "resid_post",
    "attn_out",
    "mlp_out",
    "z",
    "q",
    "k",
    "v",
    "pattern",
)


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]", model_help: str) -> None:
    """Register the ``patch`` subcommand."""
    patch = sub.add_parser(
        "patch",
        help="activation patching: which layers, positions and heads carry a behaviour",
        description="Patch activations between clean and corrupted prompts (equal token "
        "lengths) and measure the logit difference between --answer and --wrong (or the "
        "answer's loss or probability), normalised 0 = corrupted, 1 = clean. Residual, "
        "attention and MLP outputs are patched by layer and position; head components (z, q, "
        "k, v, pattern) by layer and head at all positions. Writes JSON + tensors + report.html.",
        epilog="example: mechscope patch induction-2l --task copy-name --out results/patch",
    )
    patch.add_argument("model", metavar="MODEL", help=model_help)
    patch.add_argument(
        "--clean", action="append", default=[], help="a clean prompt (repeat for more)"
    )
    patch.add_argument(
        "--corrupted", action="append", default=[], help="its corrupted twin (same count)"
    )
    patch.add_argument(
        "--answer", action="append", default=[], help="single-token answer (one, or one per pair)"
    )
    patch.add_argument("--wrong", action="append", default=[], help="single-token wrong answer")
    patch.add_argument(
        "--task", choices=("induction", "copy-name"), help="a built-in prompt set instead"
    )
    patch.add_argument(
        "--sites", default="resid_pre,attn_out,z", help=f"components: {', '.join(COMPONENT_NAMES)}"
    )
    patch.add_argument("--direction", choices=("denoising", "noising"), default="denoising")
    patch.add_argument(
        "--metric", choices=("logit-diff", "loss", "probability"), default="logit-diff"
    )
    patch.add_argument("--attribution", action="store_true", help="also run attribution patching")
    patch.add_argument("--out", type=Path, required=True, help="output directory")
    patch.add_argument("--device", default=None, help="torch device")
    patch.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Patch every requested component, print the strongest sites, save and render."""
    from mechscope.attribution import attribution_patching, correlation
    from mechscope.data.tasks import TaskPairs, copy_name_pairs, repeated_pairs, task_from_prompts
    from mechscope.errors import MechscopeError
    from mechscope.models import load_model
    from mechscope.patching import activation_patching, result_summary
    from mechscope.sites import Component, every_site
    from mechscope.viz.patching import render_patching

    components = []
    for name in (n.strip() for n in args.sites.split(",") if n.strip()):
        if name not in COMPONENT_NAMES:
            raise MechscopeError(
                f"unknown site {name!r}; choose from {', '.join(COMPONENT_NAMES)}."
            )
        components.append(Component[name.upper()])
    if not components:
        raise MechscopeError("no --sites given; e.g. --sites resid_pre,z")
    model = load_model(args.model, device=args.device)
    task: TaskPairs
    if args.task == "induction":
        task = repeated_pairs(model)
    elif args.task == "copy-name":
        task = copy_name_pairs(model)
    else:
        if not (args.clean and args.corrupted and args.answer and args.wrong):
            raise MechscopeError("give --clean, --corrupted, --answer and --wrong (or --task).")
        task = task_from_prompts(model, args.clean, args.corrupted, args.answer, args.wrong)
    metric = {"logit-diff": task.logit_diff, "loss": task.loss, "probability": task.probability}[
        args.metric
    ]()
    n_layers, n_heads, n_pos = model.cfg.n_layers, model.cfg.n_heads, task.clean.tokens.shape[1]
    results = {}
    for component in components:
        if component is Component.MLP_OUT and model.cfg.attn_only:
            raise MechscopeError(
                "this model is attention-only: it has no mlp_out; drop it from --sites."
            )
        if component.has_head_axis:
            sites = every_site(component, n_layers, n_heads=n_heads)
        else:
            sites = every_site(component, n_layers, n_pos=n_pos)
        name = component.name.lower()
        result = activation_patching(
            model,
            task.clean,
            task.corrupted,
            metric,
            sites,
            args.direction,
            metric_name=args.metric,
        )
        results[name] = result
        result.save(args.out / name)
        print(f"{name}: clean {result.clean:.3f}, corrupted {result.corrupted:.3f} ({args.metric})")
        for row in result_summary(result, 3):
            print(f"  {row['site']:<24} {row['normalised']:+.3f}")
        if args.attribution:
            estimate = attribution_patching(
                model,
                task.clean,
                task.corrupted,
                metric,
                sites,
                args.direction,
                metric_name=args.metric,
            )
            results[f"{name} (attribution)"] = estimate
            estimate.save(args.out / f"{name}_attribution")
            r = correlation(result.normalised, estimate.normalised)
            print(f"  attribution patching: correlation with exact {r:.3f}")
    n_pairs = task.clean.tokens.shape[0]
    note = f"{task.name}: {n_pairs} prompt pairs of {n_pos} tokens (positions: the first pair)."
    path = render_patching(results, f"Patching {args.model}", note).save(args.out / "report.html")
    print(f"results: {args.out}; report: {path}")
    return 0
