"""``mechscope heads``: classify every head of a model and write scores and a report."""

import argparse
from pathlib import Path

KIND_HELP = "comma-separated head kinds, or 'all' (default): "


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]", model_help: str) -> None:
    """Register the ``heads`` subcommand."""
    from mechscope.heads.kinds import HeadKind

    heads = sub.add_parser(
        "heads",
        help="score every head for every kind (previous-token, induction, sinks, syntax, ...)",
        description="Score every attention head for each kind in one batched pass per chunk of "
        "prompts, label heads by documented thresholds, optionally score dependency relations "
        "on a CoNLL-U file (Clark et al. 2019) and check labels causally by ablation. Writes "
        "scores.json + tensors.safetensors + report.html into --out.",
        epilog="example: mechscope heads minilm --conllu ud.conllu --out results/heads",
    )
    heads.add_argument("model", metavar="MODEL", help=model_help)
    heads.add_argument(
        "--kinds", default="all", help=KIND_HELP + ", ".join(k.value for k in HeadKind)
    )
    heads.add_argument(
        "--prompts", type=Path, help="text file, one prompt per line (default: built-in)"
    )
    heads.add_argument("--conllu", type=Path, help="CoNLL-U file for syntactic heads")
    heads.add_argument("--max-sentences", type=int, default=None, help="read at most N sentences")
    heads.add_argument(
        "--verify", default="", help="kinds to check by ablating their top heads, e.g. induction"
    )
    heads.add_argument("--batch-size", type=int, default=32, help="prompts per forward pass (32)")
    heads.add_argument("--out", type=Path, required=True, help="output directory")
    heads.add_argument("--device", default=None, help="torch device")
    heads.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Score, print the labelled heads, save everything and render the report."""
    from mechscope.attention import attention_patterns
    from mechscope.data.prompts import DEFAULT_PROMPTS, read_prompts
    from mechscope.errors import MechscopeError
    from mechscope.heads import DetectionSettings, HeadKind, detect_heads
    from mechscope.heads.verify import verify
    from mechscope.models import is_encoder, load_model
    from mechscope.syntax import DependencyAccumulator, align_all, dependency_scores, read_conllu
    from mechscope.tokens import pad_id, pad_token_lists, str_tokens, tokenize
    from mechscope.viz.heads import SamplePatterns, by_layer_rows, render_heads

    try:
        kinds = HeadKind.parse(args.kinds)
        checks = HeadKind.parse(args.verify) if args.verify else []
    except ValueError as error:
        raise MechscopeError(str(error)) from None
    sentences = read_conllu(args.conllu, args.max_sentences) if args.conllu else None
    model = load_model(args.model, device=args.device)
    settings = DetectionSettings(batch_size=args.batch_size)
    syntax = None
    if sentences and not args.prompts:
        # Score the sentences themselves: every kind and syntax from the same passes.
        aligned, skipped = align_all(model, sentences)
        accumulator = DependencyAccumulator(model, aligned, skipped)
        prompts = [" ".join(a.sentence.words) for a in aligned]
        rows = pad_token_lists(accumulator.tokens, pad_id(model))
        scores = detect_heads(model, rows, kinds, settings, consumers=[accumulator])
        syntax = accumulator.result()
    else:
        prompts = read_prompts(args.prompts) if args.prompts else list(DEFAULT_PROMPTS)
        scores = detect_heads(model, prompts, kinds, settings)
        if sentences:
            syntax = dependency_scores(model, sentences, batch_size=args.batch_size)
    verification_rows = []
    for kind in checks:
        result = verify(model, scores, kind, prompts, settings=settings)
        verification_rows += [
            {"kind": kind.value, "metric": result.metric, **r} for r in result.rows()
        ]

    print(f"{args.model}: {scores.n_prompts} prompts, {len(kinds)} kinds")
    for kind in kinds:
        if kind.is_label and (labelled := scores.heads_of(kind)):
            shown = ", ".join(f"{h} ({float(scores.score(kind)[h]):.2f})" for h in labelled[:8])
            print(f"  {kind.value:<16} {shown}")
    layers = " ".join(f"{f'L{i}':>6}" for i in range(model.cfg.n_layers))
    print(f"mean over the heads of each layer:\n  {'kind':<16} {layers}")
    for kind, values in by_layer_rows(scores):
        print(f"  {kind:<16} " + " ".join(f"{v:>6.3f}" for v in values))
    if syntax is not None:
        print(f"syntax: {syntax.n_sentences} sentences, skipped {syntax.skipped or 'none'}")
        for row in syntax.table(min_count=100)[:12]:
            print(
                f"  {row['relation']:<12} best {row['head']:<5} {row['accuracy']:.3f}  "
                f"offset {row['baseline_offset']:+d} {row['baseline']:.3f}"
            )
    for row in verification_rows:
        print(
            f"  verify {row['kind']}: ablate {row['head']} ({row['group']}): {row['change']:+.3f}"
        )

    scores.save(args.out)
    if syntax is not None:
        syntax.save(args.out / "syntax")
    batch = tokenize(model, prompts[0])
    sample = SamplePatterns(
        str_tokens=str_tokens(model, batch.tokens[0].tolist()),
        patterns=attention_patterns(model, batch)[0],
        causal=not is_encoder(model),
    )
    report = render_heads(scores, f"Heads of {args.model}", sample, syntax, verification_rows)
    path = report.save(args.out / "report.html")
    print(f"scores: {args.out / 'scores.json'}; report: {path}")
    return 0
