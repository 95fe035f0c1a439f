"""Figures and reports of representation analyses.

Probes, the structural probe, projections and similarity matrices, as plotly figures.
"""

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from mechscope.representations.choices import boundary_numbers
from mechscope.viz.figures import PALETTE, finite_or_none, heatmap, line_chart
from mechscope.viz.report import Report

if TYPE_CHECKING:
    from mechscope.representations.probes import ProbeResult
    from mechscope.representations.projections import Projection
    from mechscope.representations.similarities import Similarity
    from mechscope.representations.structural import StructuralResult

HOVER_CHARS = 110
SELECTIVITY_NOTE = (
    "Selectivity = accuracy - control-task accuracy (Hewitt & Liang 2019); "
    "the band resamples eval sentences."
)

BOUNDARY_AXIS = "boundary (0 = embeddings, b = after block b - 1)"
"""The x axis of every by-boundary figure here."""


def probe_figure(result: "ProbeResult") -> go.Figure:
    """Accuracy by boundary with its 95 % interval, the control, selectivity and baselines."""
    layers = boundary_numbers(result.boundaries)
    figure = go.Figure()
    figure.add_trace(go.Scatter(
        x=layers + layers[::-1],
        y=finite_or_none(result.ci_high.tolist()) + finite_or_none(result.ci_low.tolist())[::-1],
        fill="toself", fillcolor="rgba(31,119,180,0.18)", line={"width": 0},
        hoverinfo="skip", name="95 % interval (by sentence)",
    ))  # fmt: skip
    series = {"accuracy": result.accuracy, "control task": result.control,
              "selectivity": result.selectivity,
              "random-init model": result.random_init}  # fmt: skip
    for i, (name, values) in enumerate(series.items()):
        ys = finite_or_none(values.tolist())
        if all(y is None for y in ys):
            continue
        figure.add_trace(go.Scatter(
            x=layers, y=ys, name=name, mode="lines+markers",
            line={"color": PALETTE[i], "dash": "dot" if name == "random-init model" else None},
            text=list(result.boundaries),
            hovertemplate=f"{name}<br>%{{text}}<br>%{{y:.3f}}<extra></extra>",
        ))  # fmt: skip
    figure.add_hline(y=result.majority, line_dash="dash", line_color="#777",
                     annotation_text=f"majority class {result.majority:.2f}",
                     annotation_position="bottom right")  # fmt: skip
    figure.update_layout(
        title={"text": f"{result.task}: {result.probe} probe accuracy by boundary "
                       f"({result.n_eval} eval units)"},
        xaxis={"title": {"text": BOUNDARY_AXIS}, "tickvals": layers},
        yaxis={"title": {"text": "accuracy"}}, width=820, height=400,
        margin={"l": 70, "r": 20, "t": 50, "b": 55}, modebar={"orientation": "v"},
    )  # fmt: skip
    return figure


def structural_figure(result: "StructuralResult") -> go.Figure:
    """UUAS, DSpr., root accuracy and NSpr. by layer; random-init dotted; the chain's UUAS."""
    from mechscope.representations.structural import METRICS

    layers = boundary_numbers(result.boundaries)
    names = {"uuas": "UUAS", "dspr": "DSpr.", "root_accuracy": "root accuracy", "nspr": "NSpr."}
    series = {names[m]: (layers, result.scores[i].tolist()) for i, m in enumerate(METRICS)}
    if result.random_init.isfinite().any():
        series |= {f"{names[m]} (random-init)": (layers, result.random_init[i].tolist())
                   for i, m in enumerate(METRICS)}  # fmt: skip
    figure = line_chart(series, title=f"Structural probe by boundary (rank {result.rank}, "
                        f"{result.n_eval} eval sentences)", x_title=BOUNDARY_AXIS,
                        y_title="score")  # fmt: skip
    figure.add_hline(y=result.right_branching, line_dash="dash", line_color="#777",
                     annotation_text=f"right-branching UUAS {result.right_branching:.2f}",
                     annotation_position="bottom right")  # fmt: skip
    return figure


def projection_figure(projection: "Projection", title: str = "") -> go.Figure:
    """Small multiples, one panel per boundary, points coloured by label.

    Hovering a point shows its unit and sentence.
    """
    n = len(projection.boundaries)
    columns = min(n, 3)
    rows = math.ceil(n / columns)
    figure = make_subplots(rows=rows, cols=columns, subplot_titles=list(projection.boundaries),
                           horizontal_spacing=0.05, vertical_spacing=0.1)  # fmt: skip
    labels = sorted(set(projection.labels))
    colours = PALETTE if len(labels) <= len(PALETTE) else qualitative.Alphabet  # 26 colours
    context = [c if len(c) <= HOVER_CHARS else c[: HOVER_CHARS - 1] + "…"
               for c in projection.context]  # fmt: skip
    for b in range(n):
        for i, label in enumerate(labels):
            points = [p for p, lab in enumerate(projection.labels) if lab == label]
            figure.add_trace(go.Scatter(
                x=projection.coordinates[b, points, 0].tolist(),
                y=projection.coordinates[b, points, 1].tolist(),
                mode="markers", name=label or "unlabelled", legendgroup=label,
                showlegend=b == 0, marker={"size": 4, "color": colours[i % len(colours)]},
                customdata=[[projection.units[p], context[p]] for p in points],
                hovertemplate="<b>%{customdata[0]}</b> (" + (label or "-")
                + ")<br>%{customdata[1]}<extra></extra>",
            ), row=b // columns + 1, col=b % columns + 1)  # fmt: skip
    figure.update_layout(
        title={"text": title or f"{projection.method.upper()} of {len(projection.units)} units, "
                                "coloured by label"},
        width=min(1100, 360 * columns + 160), height=330 * rows + 80,
        margin={"l": 40, "r": 20, "t": 70, "b": 30}, modebar={"orientation": "v"},
        legend={"itemsizing": "constant"},
    )  # fmt: skip
    return figure


def similarity_figure(result: "Similarity", title: str = "") -> go.Figure:
    """The boundary x boundary matrix as a heatmap (0 to 1)."""
    across = result.row_model != result.column_model
    return heatmap(
        result.matrix.tolist(), x_labels=list(result.columns), y_labels=list(result.rows),
        title=title or f"{result.method.upper()} between layers ({result.n_units} units)",
        x_title=result.column_model if across else "layer", y_title=result.row_model
        if across else "layer", value_name=result.method, zmin=0.0, zmax=1.0,
    )  # fmt: skip


def render_probes(
    probes: Sequence["ProbeResult"],
    title: str,
    *,
    structural: "StructuralResult | None" = None,
    projections: Sequence[tuple[str, "Projection"]] = (),
    notes: Sequence[str] = (),
) -> Report:
    """One page: a summary table, each task's accuracy by layer, the structural probe.

    Then the projections, each under its caption.
    """
    report = Report(title)
    for note in notes:
        report.paragraph(note, note=True)
    if probes:
        report.heading("Summary")
        report.table(
            ["task", "best boundary", "accuracy", "expected boundary", "max selectivity (boundary)",
             "majority", "train units", "eval units", "eval labels unseen in training"],
            [[p.task, p.best_boundary, float(p.accuracy[p.best_index]), p.expected_layer,
              f"{float(p.selectivity.nan_to_num(-1).max()):.3f} "
              f"({p.layers[int(p.selectivity.nan_to_num(-1).argmax())]})",
              p.majority, p.n_train, p.n_eval, p.n_unseen] for p in probes],
        )  # fmt: skip
        report.heading("Accuracy by boundary")
        for probe in probes:
            report.figure(probe_figure(probe), caption=SELECTIVITY_NOTE)
    if structural is not None:
        report.heading("Structural probe (Hewitt & Manning 2019)")
        report.figure(structural_figure(structural))
    for caption, projection in projections:
        report.heading(caption)
        report.figure(projection_figure(projection))
    return report


def render_similarity(results: Sequence["Similarity"], title: str) -> Report:
    """One page of similarity heatmaps."""
    report = Report(title)
    for result in results:
        report.figure(similarity_figure(result))
    return report


def depth_figure(
    rows: Sequence[dict[str, Any]], *, title: str = "Where each kind of information peaks"
) -> go.Figure:
    """Each kind of information's peak depth per model, with the layers tied with it.

    ``rows``: dicts with ``what`` (the kind, one row of the figure), ``model``, ``peak``,
    ``low``, ``high`` (relative depths 0..1: the peak and the range of layers statistically
    tied with it) and optionally ``expected`` (a probe's expected layer, also relative) with
    ``expected_low`` / ``expected_high``. The x axis is relative depth (0 = embeddings,
    1 = after the last block), so models of different depths share it.
    """
    kinds = list(dict.fromkeys(r["what"] for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows))
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    figure = go.Figure()
    for m, model in enumerate(models):
        offset = (m - (len(models) - 1) / 2) * 0.22
        mine = [r for r in rows if r["model"] == model]
        y = [kinds.index(r["what"]) + offset for r in mine]
        figure.add_trace(go.Scatter(
            x=[r["peak"] for r in mine], y=y, mode="markers", name=f"{model}: peak",
            marker={"color": colours[m % 4], "size": 10, "symbol": "circle"},
            error_x={"type": "data", "symmetric": False,
                     "array": [r["high"] - r["peak"] for r in mine],
                     "arrayminus": [r["peak"] - r["low"] for r in mine]},
            text=[f"{r['what']} ({r.get('source', '')}): peak {r['peak']:.2f}, tied "
                  f"{r['low']:.2f}-{r['high']:.2f}" for r in mine],
            hoverinfo="text",
        ))  # fmt: skip
        expected = [r for r in mine if r.get("expected") is not None]
        if expected:
            figure.add_trace(go.Scatter(
                x=[r["expected"] for r in expected],
                y=[kinds.index(r["what"]) + offset for r in expected], mode="markers",
                name=f"{model}: expected layer", marker={"color": colours[m % 4], "size": 9,
                                                         "symbol": "diamond-open"},
                error_x={"type": "data", "symmetric": False,
                         "array": [r["expected_high"] - r["expected"] for r in expected],
                         "arrayminus": [r["expected"] - r["expected_low"] for r in expected]},
                hoverinfo="x+name",
            ))  # fmt: skip
    for edge in (1 / 3, 2 / 3):
        figure.add_vline(x=edge, line_dash="dot", line_color="#bbb")
    figure.update_layout(
        title=title, height=90 + 38 * len(kinds), width=900,
        xaxis={"title": "relative depth (0 = embeddings, 1 = after the last block)",
               "range": [-0.03, 1.03]},
        yaxis={"tickvals": list(range(len(kinds))), "ticktext": kinds, "autorange": "reversed"},
        legend={"orientation": "h", "y": -0.18}, margin={"l": 230},
    )  # fmt: skip
    return figure
