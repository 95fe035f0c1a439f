"""``mechscope heads``: classify every head of a model and write scores and a report."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import tyro

from mechscope.cli.common import (
    Loading,
    LoadingArg,
    ModelArg,
    OutArg,
    Sharding,
    ShardingArg,
    with_prompts,
)
from mechscope.heads.kinds import HeadKind
from mechscope.heads.settings import DetectionSettings

SUMMARY_SHARD = 1024
"""Prompts per shard with --no-per-prompt: the per-prompt rows held at once (14 MB of them on
SmolLM2 with every kind)."""

if TYPE_CHECKING:
    from mechscope.core.results import Result
    from mechscope.viz.report import Report


@dataclass(frozen=True, kw_only=True)
class Config:
    """Score, label and verify every attention head of a model.

    Score every attention head for each kind in one batched pass per chunk of prompts, label
    heads by documented thresholds, optionally score dependency relations on a CoNLL-U file
    (Clark et al. 2019), coreference on a GUM-style file (antecedent selection, with
    baselines) and check labels causally by ablation. Writes result.json +
    tensors.safetensors (+ syntax/, coreference/ with coreference.csv, verify-KIND/) +
    report.html into --out. Example: mechscope heads minilm --conllu ud.conllu --out
    results/heads
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
    coref: Path | None = None
    """CoNLL-U file with CorefUD Entity= annotation (UD English GUM): also score every head's
    antecedent selection on its mentions (OUT/coreference/coreference.csv)."""
    coref_window: int = 4
    """Consecutive sentences of a document read together for --coref."""
    per_prompt: bool = True
    """Keep every prompt's scores (the result grows with the corpus: 13 kinds x 100,000
    prompts x 270 heads is 1.4 GB on SmolLM2); --no-per-prompt keeps each kind's count, mean
    and spread per head, combined shard by shard (the same means and deviations)."""
    verify: tuple[HeadKind, ...] = ()
    """Kinds to check by ablating their top heads (and control heads), e.g. induction."""
    settings: Annotated[DetectionSettings, tyro.conf.OmitArgPrefixes] = field(
        default_factory=DetectionSettings
    )
    """How heads are scored."""
    loading: LoadingArg = field(default_factory=Loading)
    """How the model is loaded: --device, --backend, --device-map."""
    sharding: ShardingArg = field(default_factory=Sharding)
    """Where the corpus runs: --workers, --executor, --address."""

    def __post_init__(self) -> None:
        if self.coref_window < 1:
            raise ValueError("--coref-window must be at least 1 sentence")
        wanted = {*self.kinds, *self.verify}
        if HeadKind.COREFERENCE in wanted and self.coref is None:
            raise ValueError(
                "coreference heads are scored on annotated mentions: add --coref FILE.conllu "
                "(UD English GUM)"
            )


def run(cfg: Config) -> dict[str, "Result"]:
    """Scores (into --out), syntax (syntax/), checks (verify-KIND/) and a sample (sample/)."""
    from mechscope.cli.common import load_text_model, sharding
    from mechscope.data.conllu import read_conllu, read_mentions
    from mechscope.data.prompts import DEFAULT_PROMPTS, read_prompts
    from mechscope.executors import sharded_detect_heads
    from mechscope.heads import detect_heads, verify
    from mechscope.heads.coreference import coreference_scores, verify_coreference
    from mechscope.heads.patterns import query_key, sentence_attention
    from mechscope.heads.syntax import DependencyAccumulator, align_all, dependency_scores

    kinds = [k for k in cfg.kinds or HeadKind if not k.needs_annotation] or "all"
    sentences = read_conllu(cfg.conllu, cfg.max_sentences) if cfg.conllu else None
    mentions = read_mentions(cfg.coref, cfg.max_sentences) if cfg.coref else None
    # --workers: shards of the prompts (sentences) on workers
    # (--no-per-prompt: shards even in this process, each summarised before the next)
    shards = sharding(cfg.model, cfg.loading, cfg.sharding, in_process=not cfg.per_prompt)
    summary = {} if cfg.per_prompt else {"keep_prompts": False, "shard_size": SUMMARY_SHARD}
    model = load_text_model(cfg.model, cfg.loading, "heads")
    syntax = None
    if sentences and not cfg.prompts:
        # Score the sentences themselves: every kind and syntax from the same passes.
        aligned, skipped = align_all(model, sentences)
        accumulator = DependencyAccumulator(model, aligned, skipped)
        prompts = [" ".join(a.sentence.words) for a in aligned]
        if shards is not None:
            recipe, executor = shards
            scores = sharded_detect_heads(recipe, accumulator.tokens, kinds, cfg.settings,
                                          executor, syntax=accumulator, model=model,
                                          **summary)  # fmt: skip
        else:
            scores = detect_heads(
                model, accumulator.tokens, kinds, cfg.settings, consumers=[accumulator]
            )
        syntax = accumulator.result()
    else:
        prompts = read_prompts(cfg.prompts) if cfg.prompts else list(DEFAULT_PROMPTS)
        if shards is not None:
            recipe, executor = shards
            scores = sharded_detect_heads(recipe, prompts, kinds, cfg.settings, executor,
                                          model=model, **summary)  # fmt: skip
        else:
            scores = detect_heads(model, prompts, kinds, cfg.settings)
        if sentences:
            syntax = dependency_scores(model, sentences, batch_size=cfg.settings.batch_size)
    config = with_prompts(cfg, prompts)
    checks = [verify(model, scores, kind, prompts, settings=cfg.settings)
              for kind in cfg.verify if not kind.needs_annotation]  # fmt: skip
    results: dict[str, Result] = {"": scores, "sample": sentence_attention(model, prompts[0])}
    labelled = [k for k in scores.kinds if k.is_label]
    if labelled:  # the neuron view of the first labelled kind's best head
        head, _ = scores.top(labelled[0], 1)[0]
        results["neuron"] = query_key(model, prompts[0], head.layer, head.head)
    if syntax is not None:
        results["syntax"] = syntax
    if mentions is not None:
        coreference = coreference_scores(model, mentions, window=cfg.coref_window)
        results["coreference"] = coreference
        if HeadKind.COREFERENCE in cfg.verify:
            checks.append(verify_coreference(model, coreference))
    results |= {f"verify-{check.head_kind.value}": check for check in checks}
    return {name: r.with_provenance(config, cfg.model) for name, r in results.items()}


def summary(results: dict[str, "Result"], cfg: Config) -> Iterator[str]:
    """The labelled heads, each kind's mean by layer, the syntax table and the checks."""
    from mechscope.heads import CoreferenceScores, HeadScores, SyntaxScores, Verification
    from mechscope.viz.heads import by_layer_rows

    scores = results[""]
    assert isinstance(scores, HeadScores)
    yield f"{cfg.model}: {scores.n_prompts} prompts, {len(scores.kinds)} kinds"
    for kind in scores.kinds:
        if kind.is_label and (labelled := scores.heads_of(kind)):
            shown = ", ".join(f"{h} ({float(scores.score(kind)[h]):.2f})" for h in labelled[:8])
            yield f"  {kind.value:<16} {shown}"
    layers = " ".join(f"{f'L{i}':>6}" for i in range(scores.n_layers))
    yield f"mean over the heads of each layer:\n  {'kind':<16} {layers}"
    for kind, values in by_layer_rows(scores):
        yield f"  {kind:<16} " + " ".join(f"{v:>6.3f}" for v in values)
    syntax = results.get("syntax")
    if isinstance(syntax, SyntaxScores):
        skipped = ", ".join(f"{n} {why}" for why, n in syntax.skipped.items()) or "none"
        yield f"syntax: {syntax.n_sentences} sentences, skipped: {skipped}"
        for row in syntax.table(min_count=100)[:12]:
            yield (
                f"  {row['relation']:<12} best {row['head']:<5} {row['accuracy']:.3f}  "
                f"offset {row['baseline_offset']:+d} {row['baseline']:.3f}"
            )
    coreference = results.get("coreference")
    if isinstance(coreference, CoreferenceScores):
        head, accuracy = coreference.best()
        pronoun_head, pronoun_accuracy = coreference.best(pronouns=True)
        yield (f"coreference: {coreference.n_mentions} mentions "
               f"({int(coreference.pronoun.sum())} pronouns): best head {head} {accuracy:.3f}, "
               f"on pronouns {pronoun_head} {pronoun_accuracy:.3f}; nearest mention "
               f"{float(coreference.nearest.mean()):.3f}, same head word "
               f"{float(coreference.head_match.mean()):.3f}")  # fmt: skip
    for check in (r for r in results.values() if isinstance(r, Verification)):
        for row in check.rows():
            yield (
                f"  verify {check.head_kind.value}: ablate {row['head']} ({row['group']}): "
                f"{row['change']:+.3f}"
            )
        yield f"verdict: {check.verdict()}"
    yield f"scores: {cfg.out / 'result.json'}; report: {cfg.out / 'report.html'}"


def report(results: dict[str, "Result"], cfg: Config) -> "Report":
    """Every kind's map, the sample sentence's views, syntax and the checks."""
    from mechscope.heads import CoreferenceScores, QueryKey, SyntaxScores, Verification
    from mechscope.viz.heads import render_heads

    syntax = results.get("syntax")
    checks = [r for r in results.values() if isinstance(r, Verification)]
    page = render_heads(
        results[""],  # pyright: ignore[reportArgumentType]
        f"Heads of {cfg.model}",
        results["sample"],  # pyright: ignore[reportArgumentType]
        syntax if isinstance(syntax, SyntaxScores) else None,
        checks,
        neuron if isinstance(neuron := results.get("neuron"), QueryKey) else None,
    )
    coreference = results.get("coreference")
    if isinstance(coreference, CoreferenceScores):
        page.heading("Coreference heads")
        page.paragraph(
            f"{coreference.n_mentions} mentions with an antecedent in windows of "
            f"{coreference.window} sentences ({int(coreference.pronoun.sum())} pronouns): the "
            "share of them whose head word attends most to an antecedent's head word, among "
            "the head words of every earlier mention (Clark et al. 2019); 95 % intervals over "
            "documents. The full table is coreference/coreference.csv."
        )
        table = coreference.table()
        n_heads = coreference.correct.shape[2]
        order = sorted(range(len(table) - 2), key=lambda i: -table[i]["accuracy"])[:10]
        values = [coreference.correct[:, i // n_heads, i % n_heads] for i in order]
        values += [coreference.nearest, coreference.head_match]
        shown = [table[i] for i in order] + table[-2:]
        page.table(
            ["head", "accuracy [95 % CI over documents]", "pronoun accuracy"],
            [[r["head"], f"{r['accuracy']:.3f} [{low:.3f}, {high:.3f}]",
              f"{r['pronoun_accuracy']:.3f}"]
             for r, (low, high) in zip(shown, map(coreference.interval, values), strict=True)],
        )  # fmt: skip
    return page
