"""The ``mechscope`` command: one entry point, one subcommand per job.

Heavy imports (torch, TransformerLens) happen inside each command, so ``--help`` is instant.
User errors print one line and exit 2; a failed check exits 1.
"""

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

EXIT_FAILED_CHECK = 1
EXIT_USER_ERROR = 2

MODEL_HELP = (
    "model spec: 'minilm' (bundled all-MiniLM-L6-v2), a mechscope checkpoint directory, a local "
    "Hugging Face model directory (GPT-2, GPT-NeoX/Pythia, Llama, BERT), or a TransformerLens "
    "name such as 'gpt2-small' (needs network access or the HF cache)"
)


def cmd_info(args: argparse.Namespace) -> int:
    """Print a model's shape, parameter count and hook points."""
    from mechscope.models import count_parameters, has_lm_head, is_encoder, load_model

    model = load_model(args.model, device=args.device)
    cfg = model.cfg
    rows = [
        ("model", args.model),
        ("class", type(model).__name__),
        ("architecture", cfg.original_architecture or "random init"),
        ("layers", cfg.n_layers),
        ("heads per layer", cfg.n_heads),
        ("d_model", cfg.d_model),
        ("d_head", cfg.d_head),
        ("d_mlp", cfg.d_mlp if not cfg.attn_only else "none (attention-only)"),
        ("vocab (d_vocab)", cfg.d_vocab),
        ("context (n_ctx)", cfg.n_ctx),
        ("parameters", f"{count_parameters(model):,}"),
        ("attention", "bidirectional (encoder)" if is_encoder(model) else "causal"),
        ("LM head", "yes" if has_lm_head(model) else "no (logits are NaN by design)"),
        ("tokenizer", type(model.tokenizer).__name__ if model.tokenizer else "none"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    hooks = list(model.hook_dict)
    print(f"\nhook points ({len(hooks)}; L = layer 0..{cfg.n_layers - 1}):")
    for name in grouped_hook_names(hooks):
        print(f"  {name}")
    return 0


def grouped_hook_names(names: Sequence[str]) -> list[str]:
    """Hook names with the layer index replaced by ``L``, each pattern once, in model order."""
    seen: dict[str, None] = {}
    for name in names:
        seen.setdefault(re.sub(r"^blocks\.\d+\.", "blocks.L.", name))
    return list(seen)


def cmd_check_model(args: argparse.Namespace) -> int:
    """Compare a local HF directory loaded by mechscope with Hugging Face itself."""
    from mechscope.errors import ModelSpecError
    from mechscope.models import SpecKind, classify_spec
    from mechscope.models.parity import compare_with_hf

    if classify_spec(args.model_dir) is not SpecKind.HF_DIR:
        raise ModelSpecError(
            f"{args.model_dir} is not a Hugging Face model directory; check-model compares one "
            "loaded by mechscope with the same one loaded by Hugging Face."
        )
    report = compare_with_hf(args.model_dir)
    verdict = "PASS" if report.passed(args.tolerance) else "FAIL"
    print(
        f"{verdict}: max |mechscope - HF| over {report.quantity.value} = "
        f"{report.max_abs_diff:.3g} on {report.n_tokens} tokens (tolerance {args.tolerance:g})"
    )
    return 0 if report.passed(args.tolerance) else EXIT_FAILED_CHECK


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the embedded demo and print its summary table."""
    from mechscope.experiments.attention_demo import Config, run

    given = {"sentence": args.sentence, "model": args.model, "out_dir": args.out}
    cfg = Config(**{key: value for key, value in given.items() if value is not None})
    result = run(cfg)
    out = cfg.out_dir
    mass = result.mass_by_layer()
    print(f"tokens: {' '.join(result.str_tokens)}")
    print("attention received, mean over heads and tokens:")
    print("layer  " + "  ".join(f"{name:>14}" for name in mass))
    for layer in range(result.patterns.shape[0]):
        print(f"{layer:>5}  " + "  ".join(f"{mass[name][layer]:>14.3f}" for name in mass))
    print(f"report: {out / 'report.html'}")
    print(f"tensors and JSON: {out}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Train a model (or resume a run) and print where everything went."""
    from mechscope.configs import config_from_args
    from mechscope.errors import MechscopeError
    from mechscope.training import TrainConfig, read_config, train

    base = read_config(args.run_dir) if args.resume else None
    try:
        cfg = config_from_args(TrainConfig, args, base)
    except ValueError as error:  # the config's own validation
        raise MechscopeError(str(error)) from error
    run = train(cfg, args.run_dir, resume=args.resume)
    last = run.metrics[-1]
    best = max(max(row) for row in last["induction_score"])
    print(
        f"step {last['step']}: train loss {last['train_loss']:.3f}, held-out loss "
        f"{last['held_out_loss']:.3f}, repeated tokens {last['repeat_first_half_loss']:.2f} -> "
        f"{last['repeat_second_half_loss']:.2f} nats, best induction score {best:.2f}"
    )
    print(f"checkpoint: {run.final_checkpoint}")
    print(f"metrics: {run.run_dir / 'metrics.jsonl'}")
    return 0


def cmd_reproduce_induction(args: argparse.Namespace) -> int:
    """Run the induction-head reproduction and print its key tables."""
    from mechscope.axes import HeadId
    from mechscope.configs import config_from_args
    from mechscope.experiments.induction_heads import INDUCTION_1L, INDUCTION_2L, Config, run

    cfg = config_from_args(Config, args)
    result = run(cfg)
    scores = result.head_scores[INDUCTION_2L]
    induction, previous = set(result.induction_heads), set(result.previous_token_heads)
    pc = result.phase_change
    print(
        f"phase change (2-layer): repeated-token loss drops fastest at step {pc.loss_drop_step}, "
        f"induction score jumps fastest at step {pc.induction_jump_step}"
    )
    print(f"\n2-layer heads (threshold {cfg.threshold}):")
    print("head   induction  prev-token  prefix-match  label")
    for layer, row in enumerate(scores["induction"]):
        for head, value in enumerate(row):
            hid = HeadId(layer, head)
            label = "induction" if hid in induction else "previous-token" if hid in previous else ""
            print(
                f"{hid!s:<6} {value:>9.3f}  {scores['previous_token'][layer][head]:>10.3f}  "
                f"{scores['prefix_matching'][layer][head]:>12.3f}  {label}"
            )
    best_1l = max(max(r) for r in result.head_scores[INDUCTION_1L]["induction"])
    print(f"1-layer model: best induction score {best_1l:.3f}")
    print("\nablation (2-layer)          2nd-copy loss  1st-copy loss  ICL score")
    for row in result.ablations:
        if row["label"] in ("none", "induction heads", "all other heads"):
            name = f"{row['label']} ({row['how']})"
            print(
                f"{name:<28} {row['repeat_second_half_loss']:>13.3f}"
                f"  {row['repeat_first_half_loss']:>13.3f}  {row['icl_score']:>9.3f}"
            )
    print(f"\nreport: {cfg.out_dir / 'report.html'}")
    print(f"figures as JSON and tensors: {cfg.out_dir}")
    return 0


def cmd_lens(args: argparse.Namespace) -> int:
    """Logit (or tuned) lens of one prompt: terminal table and offline report."""
    import torch

    from mechscope.lens import lens_trajectory, target_ids
    from mechscope.models import load_model
    from mechscope.tokens import tokenize
    from mechscope.tuned_lens import TunedLens
    from mechscope.viz.lens import render_lens

    model = load_model(args.model, device=args.device)
    batch = tokenize(model, args.prompt)
    targets = None
    if args.target is not None:
        (target,) = target_ids(model, [args.target])
        targets = torch.full_like(batch.tokens, target)
    translator = TunedLens.load(args.tuned_lens) if args.tuned_lens else None
    trajectory = lens_trajectory(model, batch, targets, k=args.k, translator=translator)
    assert model.tokenizer is not None

    def to_string(token: int) -> str:
        return str(model.tokenizer.decode([token]))  # type: ignore[union-attr]

    last = int(batch.lengths[0]) - 1
    target_id = int(trajectory.targets[0, last])
    kind = "tuned" if translator else "logit"
    print(
        f"{kind} lens at the last position ({to_string(int(batch.tokens[0, last]))!r}), "
        f"target {to_string(target_id)!r}:"
    )
    print(f"{'boundary':<16} {'rank':>6} {'log-prob':>9} {'KL':>7}  top {args.k}")
    for b, label in enumerate(trajectory.labels):
        top = ", ".join(repr(to_string(t)) for t in trajectory.top_k_ids[b, 0, last].tolist())
        print(
            f"{label:<16} {int(trajectory.rank[b, 0, last]):>6} "
            f"{float(trajectory.log_prob[b, 0, last]):>9.3f} "
            f"{float(trajectory.kl_to_final[b, 0, last]):>7.3f}  {top}"
        )
    trajectory.save(str(args.out_dir))
    title = f"{kind.capitalize()} lens of {args.model}"
    report = render_lens(trajectory, to_string, title).save(args.out_dir / "report.html")
    print(f"report: {report}")
    return 0


def cmd_lens_train(args: argparse.Namespace) -> int:
    """Train a tuned lens, save it, and compare it with the logit lens on held-out text."""
    import json

    from mechscope.configs import config_from_args
    from mechscope.models import load_model
    from mechscope.tuned_lens import (
        TunedLensConfig,
        compare_lenses,
        held_out_windows,
        train_tuned_lens,
    )

    model = load_model(args.model, device=args.device)
    cfg = config_from_args(TunedLensConfig, args)
    lens = train_tuned_lens(model, cfg)
    lens.save(args.out_dir)
    comparison = compare_lenses(model, lens, held_out_windows(model, cfg))
    (args.out_dir / "comparison.json").write_text(json.dumps(comparison.to_json(), indent=2))
    print("mean KL(final || lens) on held-out text, nats:")
    print(f"{'boundary':<16} {'logit lens':>10} {'tuned lens':>10}")
    for label, a, b in zip(
        comparison.labels, comparison.logit_lens_kl, comparison.tuned_lens_kl, strict=True
    ):
        print(f"{label:<16} {a:>10.3f} {b:>10.3f}")
    print(f"tuned lens: {args.out_dir} (use it with: mechscope lens MODEL --tuned-lens DIR)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="mechscope",
        description="Mechanistic interpretability on TransformerLens models, offline-friendly.",
        epilog="Run 'mechscope COMMAND --help' for each command's options.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = sub.add_parser(
        "info",
        help="shape, parameter count and hook points of a model",
        description="Load a model and print its layers, heads, widths, vocabulary, context, "
        "parameter count and every hook point (grouped by layer).",
        epilog="examples: mechscope info minilm | mechscope info ./my-gpt2-dir",
    )
    info.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    info.add_argument("--device", default=None, help="torch device (default: cuda if available)")
    info.set_defaults(func=cmd_info)

    check = sub.add_parser(
        "check-model",
        help="compare a local HF model directory loaded by mechscope against HF itself",
        description="Load MODEL_DIR with Hugging Face and with mechscope, run the same tokens "
        "through both, print the largest absolute difference of the logits (or of the final "
        "hidden states for encoders without an LM head) and exit 1 above the tolerance.",
        epilog="example: mechscope check-model ./pythia-dir --tolerance 1e-4",
    )
    check.add_argument("model_dir", metavar="MODEL_DIR", help="a local Hugging Face directory")
    check.add_argument(
        "--tolerance", type=float, default=1e-4, help="largest allowed |difference| (1e-4)"
    )
    check.set_defaults(func=cmd_check_model)

    demo = sub.add_parser(
        "demo",
        help="attention patterns of one sentence as an offline HTML page",
        description="Run one sentence through a model (default: the bundled all-MiniLM-L6-v2), "
        "print how much attention lands on the first token, the last token and punctuation "
        "per layer, and write report.html with every head in circuitsvis, plus the tensors.",
    )
    # Defaults live in the demo's Config alone; None here means "use the Config default".
    demo.add_argument("--sentence", help="the sentence to run (default: a built-in one)")
    demo.add_argument("--model", help=f"{MODEL_HELP} (default: minilm)")
    demo.add_argument(
        "--out-dir", type=Path, dest="out", help="output directory (default: results/demo)"
    )
    demo.set_defaults(func=cmd_demo)

    from mechscope.configs import add_config_arguments

    train = sub.add_parser(
        "train",
        help="train a small transformer with checkpoints and metric logging",
        description="Train a small HookedTransformer (attention-only or with MLPs, 1 to 4 "
        "layers) on a byte-level corpus (default: the Python standard library's sources) mixed "
        "with repeated random byte spans. Checkpoints and metrics.jsonl go into --run-dir; "
        "--resume continues bit-identically from the last checkpoint.",
        epilog="example: mechscope train --run-dir runs/2l --n-layers 2 --steps 3000",
    )
    train.add_argument("--run-dir", type=Path, required=True, help="where the run is written")
    train.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --run-dir from its last checkpoint",
    )
    add_config_arguments(train, _train_config_class())
    train.set_defaults(func=cmd_train)

    reproduce = sub.add_parser(
        "reproduce",
        help="reproduce a published finding",
        description="Reproduce a published finding end to end.",
    )
    experiments = reproduce.add_subparsers(dest="experiment", required=True, metavar="EXPERIMENT")
    induction = experiments.add_parser(
        "induction",
        help="induction heads and their phase change (Olsson et al. 2022)",
        description="Induction heads in a 2-layer vs a 1-layer attention-only model: the phase "
        "change over training, previous-token -> induction K-composition, ablations and "
        "attention views, in one offline HTML report. By default uses the models shipped with "
        "mechscope (seconds); --train retrains both from scratch.",
    )
    add_config_arguments(induction, _induction_config_class())
    induction.set_defaults(func=cmd_reproduce_induction)

    lens = sub.add_parser(
        "lens",
        help="logit lens (or a tuned lens) of a prompt; 'lens train' trains a tuned lens",
        description="Read the residual stream after the embeddings and after every block "
        "through the model's final LayerNorm and unembedding: rank, log-prob and KL to the "
        "final distribution of the target at every position, top-k tokens per layer. Prints "
        "the last position's table and writes report.html + tensors. 'mechscope lens train "
        "MODEL --out-dir DIR' trains a tuned lens (Belrose et al. 2023).",
        epilog="example: mechscope lens induction-2l --prompt 'def f(x): return x' --target ' '",
    )
    lens.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    lens.add_argument("--prompt", required=True, help="the prompt to read")
    lens.add_argument("--target", help="score this single token at every position (default: next)")
    lens.add_argument("--k", type=int, default=5, help="top tokens kept per layer (5)")
    lens.add_argument("--tuned-lens", type=Path, help="a tuned lens directory (lens train)")
    lens.add_argument("--out-dir", type=Path, default=Path("results/lens"), help="(results/lens)")
    lens.add_argument("--device", default=None, help="torch device")
    lens.set_defaults(func=cmd_lens)

    lens_train = sub.add_parser(
        LENS_TRAIN,
        help="train a tuned lens (also 'mechscope lens train')",
        description="Train one affine translator per layer boundary (identity-initialised) to "
        "minimise KL(final || lens) on a text corpus, with the model frozen; save it and compare "
        "it with the logit lens on held-out text.",
    )
    lens_train.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    lens_train.add_argument("--out-dir", type=Path, required=True, help="where the lens goes")
    lens_train.add_argument("--device", default=None, help="torch device")
    add_config_arguments(lens_train, _tuned_lens_config_class())
    lens_train.set_defaults(func=cmd_lens_train)

    from mechscope.commands import ablate, heads, patch

    for command in (heads, patch, ablate):
        command.add_parser(sub, MODEL_HELP)
    return parser


LENS_TRAIN = "lens-train"


def _tuned_lens_config_class() -> type:
    from mechscope.tuned_lens import TunedLensConfig

    return TunedLensConfig


def _train_config_class() -> type:
    from mechscope.training.config import TrainConfig

    return TrainConfig


def _induction_config_class() -> type:
    from mechscope.experiments.induction_heads import Config

    return Config


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["lens", "train"]:  # `mechscope lens train` is the lens-train command
        argv = [LENS_TRAIN, *argv[2:]]
    args = build_parser().parse_args(argv)
    from mechscope.errors import MechscopeError

    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except MechscopeError as error:
        print(f"mechscope: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
