"""``mechscope heads``: classify every head of a model and write scores and a report."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

from mechscope.cli.common import DeviceArg, ModelArg, OutArg, say, with_prompts
from mechscope.heads.kinds import HeadKind
from mechscope.heads.settings import DetectionSettings


@dataclass(frozen=True, kw_only=True)
class Config:
    """Score, label and verify every attention head of a model.

    Score every attention head for each kind in one batched pass per chunk of prompts, label
    heads by documented thresholds, optionally score dependency relations on a CoNLL-U file
    (Clark et al. 2019) and check labels causally by ablation. Writes result.json +
    tensors.safetensors (+ syntax/, verify-KIND/) + report.html into --out. Example:
    mechscope heads minilm --conllu ud.conllu --out results/heads
    """

    model: ModelArg
    out: OutArg
    """Output directory."""
    overwrite: bool = False
    """Replace results already in --out (the old ones stay until the new ones are complete)."""
    kinds: tuple[HeadKind, ...] = ()
    """Head kinds to score (default: all)."""
    prompts: Path | None = None
    """Text file, one prompt per line (default: built-in prompts, or the CoNLL-U sentences)."""
    conllu: Path | None = None
    """CoNLL-U file: also score syntactic heads on its sentences."""
    max_sentences: int | None = None
    """Read at most this many CoNLL-U sentences."""
    verify: tuple[HeadKind, ...] = ()
    """Kinds to check by ablating their top heads (and control heads), e.g. induction."""
    settings: Annotated[DetectionSettings, tyro.conf.OmitArgPrefixes] = field(
        default_factory=DetectionSettings
    )
    """How heads are scored."""
    device: DeviceArg = None
    """Torch device (default: CUDA when available, else CPU)."""


def run(cfg: Config) -> int:
    """Score, print the labelled heads, save everything and render the report."""
    from mechscope.cli.common import load_text_model
    from mechscope.data.conllu import read_conllu
    from mechscope.data.prompts import DEFAULT_PROMPTS, read_prompts
    from mechscope.heads import detect_heads, verify
    from mechscope.heads.patterns import sentence_attention
    from mechscope.heads.syntax import DependencyAccumulator, align_all, dependency_scores
    from mechscope.viz.heads import by_layer_rows, render_heads

    kinds = list(cfg.kinds) or list(HeadKind)
    sentences = read_conllu(cfg.conllu, cfg.max_sentences) if cfg.conllu else None
    model = load_text_model(cfg.model, cfg.device, "heads")
    syntax = None
    if sentences and not cfg.prompts:
        # Score the sentences themselves: every kind and syntax from the same passes.
        aligned, skipped = align_all(model, sentences)
        accumulator = DependencyAccumulator(model, aligned, skipped)
        prompts = [" ".join(a.sentence.words) for a in aligned]
        scores = detect_heads(
            model, accumulator.tokens, kinds, cfg.settings, consumers=[accumulator]
        )
        syntax = accumulator.result()
    else:
        prompts = read_prompts(cfg.prompts) if cfg.prompts else list(DEFAULT_PROMPTS)
        scores = detect_heads(model, prompts, kinds, cfg.settings)
        if sentences:
            syntax = dependency_scores(model, sentences, batch_size=cfg.settings.batch_size)
    config = with_prompts(cfg, prompts)
    checks = [verify(model, scores, kind, prompts, settings=cfg.settings) for kind in cfg.verify]

    say(f"{cfg.model}: {scores.n_prompts} prompts, {len(kinds)} kinds")
    for kind in kinds:
        if kind.is_label and (labelled := scores.heads_of(kind)):
            shown = ", ".join(f"{h} ({float(scores.score(kind)[h]):.2f})" for h in labelled[:8])
            say(f"  {kind.value:<16} {shown}")
    layers = " ".join(f"{f'L{i}':>6}" for i in range(model.cfg.n_layers))
    say(f"mean over the heads of each layer:\n  {'kind':<16} {layers}")
    for kind, values in by_layer_rows(scores):
        say(f"  {kind:<16} " + " ".join(f"{v:>6.3f}" for v in values))
    if syntax is not None:
        skipped = ", ".join(f"{n} {why}" for why, n in syntax.skipped.items()) or "none"
        say(f"syntax: {syntax.n_sentences} sentences, skipped: {skipped}")
        for row in syntax.table(min_count=100)[:12]:
            say(
                f"  {row['relation']:<12} best {row['head']:<5} {row['accuracy']:.3f}  "
                f"offset {row['baseline_offset']:+d} {row['baseline']:.3f}"
            )
    for check in checks:
        for row in check.rows():
            say(
                f"  verify {check.head_kind.value}: ablate {row['head']} ({row['group']}): "
                f"{row['change']:+.3f}"
            )
        say(f"verdict: {check.verdict()}")

    scores.with_provenance(config, cfg.model).save(cfg.out)
    if syntax is not None:
        syntax.with_provenance(config, cfg.model).save(cfg.out / "syntax")
    for check in checks:
        check.with_provenance(config, cfg.model).save(cfg.out / f"verify-{check.head_kind.value}")
    sample = sentence_attention(model, prompts[0])
    report = render_heads(scores, f"Heads of {cfg.model}", sample, syntax, checks)
    say(f"scores: {cfg.out / 'result.json'}; report: {report.save(cfg.out / 'report.html')}")
    return 0
