"""The head-classification report: ranked table, layer x head heatmaps, syntax, views."""

from collections.abc import Sequence

import plotly.graph_objects as go

from mechscope.heads.kinds import THRESHOLDS, HeadKind
from mechscope.heads.patterns import QueryKey, SentenceAttention
from mechscope.heads.scores import HeadScores
from mechscope.heads.syntax import SyntaxScores
from mechscope.heads.targets import PATTERN_KINDS
from mechscope.heads.verification import Verification
from mechscope.viz.attention import attention_heads_view, model_view, neuron_view
from mechscope.viz.figures import heatmap
from mechscope.viz.report import Report

FRACTION_KINDS = (*PATTERN_KINDS, HeadKind.MAX_WEIGHT)
"""Kinds in [0, 1], drawn on a fixed 0..1 scale so weak heads look weak."""
VIEW_HEADS = 4
"""Top heads shown per kind in the attention views."""


def render_heads(
    scores: HeadScores,
    title: str,
    sample: SentenceAttention | None = None,
    syntax: SyntaxScores | None = None,
    checks: Sequence[Verification] = (),
    neuron: QueryKey | None = None,
) -> Report:
    """The whole page for one model."""
    report = Report(title)
    report.paragraph(
        f"{scores.n_prompts} prompts; {len(scores.kinds)} kinds scored per head in one batched "
        "pass. Scores are means over prompts (± standard deviation in the table). Definitions "
        "and papers: mechscope.heads.kinds."
    )
    report.heading("Labelled heads")
    labels = {h: ks for h, ks in scores.classify().items() if ks}
    mean, std = scores.mean, scores.std
    rows = []
    for head, kinds in sorted(labels.items()):
        for kind in kinds:
            i = scores.kinds.index(kind)
            comparison, threshold = THRESHOLDS[kind]
            value = float(mean[i, head.layer, head.head])
            spread = float(std[i, head.layer, head.head])
            rows.append([str(head), kind.value, value, spread, f"{comparison.value} {threshold}"])
    rows.sort(key=lambda r: (r[1], -float(r[2])))
    if rows:
        report.table(["head", "kind", "mean", "std", "threshold"], rows)
    else:
        report.paragraph("No head passed any label threshold.", note=True)
    report.heading("Mean over heads, by layer")
    report.table(
        ["kind", *[f"L{layer}" for layer in range(scores.n_layers)]],
        [[kind, *values] for kind, values in by_layer_rows(scores)],
    )
    report.heading("Scores per kind (layer x head)")
    for i, kind in enumerate(scores.kinds):
        report.figure(head_heatmap(mean[i].tolist(), kind))
    if syntax is not None:
        _syntax_section(report, syntax)
    for check in checks:
        report.heading(f"Causal check of {check.head_kind.value} heads: each ablated alone")
        report.paragraph(
            f"Zero-ablating each top head and each control head (random heads of the same "
            f"layers outside the circuit under test); change in {check.metric}.",
            note=True,
        )
        report.paragraph(f"Verdict: {check.verdict()}")
        rows = check.rows()
        columns = list(rows[0])
        report.table(columns, [[r[c] for c in columns] for r in rows])
    if sample is not None:
        _views(report, scores, sample)
    if neuron is not None:
        report.heading(f"How head {neuron.layer}.{neuron.head} scores each key (neuron view)")
        report.paragraph(
            "BertViz's neuron view (Vig 2019): pick a query token; each key's vector, its "
            "elementwise product with the query, their scaled dot product (the score) and "
            "the softmax weight. The head is the first labelled kind's best head.",
            note=True,
        )
        report.html(neuron_view(neuron))
    return report


def head_heatmap(values: list[list[float]], kind: HeadKind) -> go.Figure:
    """One kind's mean score per head, layers down and heads across."""
    return heatmap(
        values,
        x_labels=[f"H{h}" for h in range(len(values[0]))],
        y_labels=[f"L{layer}" for layer in range(len(values))],
        title=f"{kind.value} score (mean over prompts)",
        x_title="head",
        y_title="layer",
        value_name=kind.value,
        zmin=0.0,
        zmax=1.0 if kind in FRACTION_KINDS else None,
    )


def by_layer_rows(scores: HeadScores) -> list[tuple[str, list[float]]]:
    """Per kind, the mean score over the heads of each layer (Clark et al. 2019, Fig. 2)."""
    means = scores.mean.nanmean(-1)
    return [(kind.value, means[i].tolist()) for i, kind in enumerate(scores.kinds)]


def _syntax_section(report: Report, syntax: SyntaxScores) -> None:
    report.heading("Syntactic heads (Clark et al. 2019)")
    skipped = ", ".join(f"{n} {why}" for why, n in syntax.skipped.items()) or "none"
    report.paragraph(
        f"{syntax.n_sentences} sentences scored; skipped: {skipped}. Best head per relation "
        "(most-attended word = gold head) against the best fixed offset."
    )
    table = syntax.table(min_count=20)
    report.table(
        ["relation", "count", "best head", "direction", "accuracy", "offset", "baseline"],
        [
            [r["relation"], r["count"], r["head"], r["direction"], r["accuracy"],
             r["baseline_offset"], r["baseline"]]
            for r in table
        ],
    )  # fmt: skip


def _views(report: Report, scores: HeadScores, sample: SentenceAttention) -> None:
    report.heading("Every head on the prompt (model view)")
    report.paragraph(
        "BertViz's model view (Vig 2019): one thumbnail per layer (rows) and head (columns); "
        "click one to enlarge it with the tokens, hover for each weight.",
        note=True,
    )
    report.html(model_view(sample))
    report.heading("Attention of the top heads of each kind")
    report.paragraph(f"Prompt: {''.join(sample.str_tokens)[:200]!r}", note=True)
    for kind in scores.kinds:
        if not kind.is_label:
            continue
        top = [h for h, _ in scores.top(kind, VIEW_HEADS)]
        report.heading(kind.value, level=3)
        report.view(
            attention_heads_view(
                sample.str_tokens,
                sample.patterns[[h.layer for h in top], [h.head for h in top]],
                [f"{h} ({float(scores.score(kind)[h]):.2f})" for h in top],
                causal=sample.causal,
            )
        )
