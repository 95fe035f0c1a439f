"""The health report of `mechscope diagnose`: attention, rank, anisotropy, gradients."""

from typing import TYPE_CHECKING

from mechscope.viz.figures import heatmap, line_chart
from mechscope.viz.report import Report

if TYPE_CHECKING:
    from mechscope.diagnostics.anisotropy import Anisotropy, ClassGeometry
    from mechscope.diagnostics.attention import AttentionStats
    from mechscope.diagnostics.gradients import GradientNorms
    from mechscope.diagnostics.rank import RankStats


def render_diagnostics(
    attention: "AttentionStats",
    rank: "RankStats",
    spread: "Anisotropy",
    grads: "GradientNorms | None",
    title: str,
    *,
    geometry: "ClassGeometry | None" = None,
) -> Report:
    """One page: per-head attention statistics, rank and anisotropy by layer, gradients."""
    from mechscope.diagnostics.attention import ONE_HOT_BELOW, UNIFORM_ABOVE
    from mechscope.diagnostics.gradients import COMPONENTS, EXPLODING_ABOVE, VANISHING_BELOW

    report = Report(title)
    n_layers, n_heads = attention.entropy.shape
    heads, layers = [str(h) for h in range(n_heads)], [str(layer) for layer in range(n_layers)]
    flags = attention.flags()
    report.paragraph(
        f"Attention: {len(flags)} heads flagged (normalised entropy below {ONE_HOT_BELOW}: "
        f"collapsed to one-hot; above {UNIFORM_ABOVE}: uniform)."
        + (" " + ", ".join(f"{h.layer}.{h.head} {k}" for h, k in flags[:30]) if flags else "")
    )
    report.figure(heatmap(attention.normalised_entropy.tolist(), x_labels=heads, y_labels=layers,
                          title="Normalised attention entropy (0 one-hot, 1 uniform)",
                          x_title="head", y_title="layer", value_name="H / log n",
                          zmin=0.0, zmax=1.0))  # fmt: skip
    report.figure(heatmap(attention.sink_mass.tolist(), x_labels=heads, y_labels=layers,
                          title="Attention on the first token (sink mass)", x_title="head",
                          y_title="layer", value_name="mass", zmin=0.0, zmax=1.0))  # fmt: skip
    x_layers = list(range(n_layers))
    report.figure(line_chart({"effective heads": (x_layers, attention.effective_heads.tolist())},
                             title="Effective number of heads per layer (distinct patterns)",
                             x_title="layer", y_title="heads"))  # fmt: skip
    rows = rank.summary()
    boundaries = [int(r["boundary"]) for r in rows]
    report.figure(line_chart(
        {"effective rank": (boundaries, [r["effective_rank"] for r in rows])},
        title="Effective rank of each prompt's token representations (mean ± s.e.)",
        x_title="boundary (0 = embeddings)", y_title="effective rank",
        errors={"effective rank": [r["effective_rank_se"] for r in rows]},
    ))  # fmt: skip
    report.figure(line_chart(
        {"res(X)": (boundaries, [r["res"] for r in rows])},
        title="res(X): distance to the nearest equal-rows matrix (0 = rank collapse)",
        x_title="boundary (0 = embeddings)", y_title="res(X)",
        errors={"res(X)": [r["res_se"] for r in rows]}, log_y=True,
    ))  # fmt: skip
    x = list(range(len(spread.baseline)))
    adjusted = spread.adjusted()
    report.figure(line_chart(
        {"baseline (random pairs)": (x, spread.baseline.tolist()),
         "self-similarity, adjusted": (x, adjusted["self_similarity"]),
         "intra-sentence, adjusted": (x, adjusted["intra_sentence"])},
        title=f"Anisotropy (Ethayarajh 2019): {spread.n_pairs:,} pairs, {spread.n_words:,} words",
        x_title="boundary (0 = embeddings)", y_title="cosine",
    ))  # fmt: skip
    if grads is not None:
        report.paragraph(
            f"Gradients of the next-token loss ({grads.loss:.3f}): first/last block norm ratio "
            f"{grads.ratio():.3g} (vanishing below {VANISHING_BELOW:g}, exploding above "
            f"{EXPLODING_ABOVE:g}): {', '.join(grads.flags()) or 'healthy'}."
        )
        report.figure(heatmap(grads.norms.tolist(), x_labels=list(COMPONENTS), y_labels=layers,
                              title="Gradient norm per block and component", x_title="component",
                              y_title="layer", value_name="norm"))  # fmt: skip
        if grads.histogram is not None:
            from mechscope.diagnostics.gradients import HISTOGRAM_EDGES

            bins = [f"1e{int(e)}" for e in HISTOGRAM_EDGES[:-1]]
            report.figure(heatmap(grads.histogram.tolist(), x_labels=bins, y_labels=layers,
                                  title="Gradient entries per block by magnitude (share in "
                                        "[bin, 10 x bin); zeros in the first bin)",
                                  x_title="|gradient|", y_title="layer", value_name="share",
                                  zmin=0.0, zmax=1.0))  # fmt: skip
    if geometry is not None:
        x = list(range(len(geometry.ratio)))
        report.paragraph(
            f"Class geometry of {sum(geometry.counts)} words labelled by part of speech "
            f"({len(geometry.classes)} tags), each read at its last token: mean distance to "
            "the class centroid over mean distance between centroids (lower: the classes "
            "are better separated), and the effective rank of the words' representations."
        )
        report.figure(line_chart(
            {"intra / inter ratio": (x, geometry.ratio.tolist())},
            title="Part-of-speech class ratio by layer", x_title="boundary (0 = embeddings)",
            y_title="ratio",
        ))  # fmt: skip
        report.figure(line_chart(
            {"effective rank": (x, geometry.effective_rank.tolist())},
            title="Effective rank of the words' representations by layer",
            x_title="boundary (0 = embeddings)", y_title="effective rank",
        ))  # fmt: skip
    return report
