"""The figure types every report draws, as plotly figures (native in a notebook).

Every heatmap has a colour bar, axis titles and hover values; line charts have a legend,
axis titles, optional error bands and labelled vertical markers. Reports embed the figures
with plotly.js inlined once (`mechscope.viz.report`), so pages work offline.
"""

import math
from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

DIVERGING = "RdBu"
SEQUENTIAL = "Blues"
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def finite_or_none(values: Sequence[float]) -> list[float | None]:
    """Non-finite values as None (plotly leaves them blank)."""
    return [float(v) if math.isfinite(float(v)) else None for v in values]


def _clean(values: Sequence[Sequence[float]]) -> list[list[float | None]]:
    """NaN cells as None (plotly leaves them blank)."""
    return [finite_or_none(row) for row in values]


def heatmap(
    values: Sequence[Sequence[float]],
    *,
    x_labels: Sequence[str],
    y_labels: Sequence[str],
    title: str,
    x_title: str,
    y_title: str,
    value_name: str = "value",
    zmin: float | None = None,
    zmax: float | None = None,
    diverging: bool = False,
    annotate: bool = True,
) -> go.Figure:
    """A labelled heatmap with a colour bar; hovering a cell shows its row, column and value.

    ``diverging``: a red-white-blue scale centred on 0 (signed effects); otherwise white ->
    blue from ``zmin`` to ``zmax``. ``annotate`` writes each value in its cell (small grids).
    """
    z = _clean(values)
    n_rows, n_cols = len(y_labels), len(x_labels)
    if len(z) != n_rows or any(len(row) != n_cols for row in z):
        raise ValueError(f"values are not {n_rows} x {n_cols} like the labels")
    finite = [v for row in z for v in row if v is not None]
    if diverging:
        bound = max((abs(v) for v in finite), default=1.0) or 1.0
        scale: dict[str, object] = {"colorscale": DIVERGING, "zmid": 0.0, "reversescale": False}
        zmin = -bound if zmin is None else zmin
        zmax = bound if zmax is None else zmax
    else:
        scale = {"colorscale": SEQUENTIAL}
    trace = go.Heatmap(
        z=z,
        x=list(x_labels),
        y=list(y_labels),
        zmin=zmin,
        zmax=zmax,
        colorbar={"title": {"text": value_name}},
        hovertemplate=f"{y_title} %{{y}}<br>{x_title} %{{x}}<br>{value_name} %{{z:.4g}}"
        "<extra></extra>",
        texttemplate="%{z:.2f}" if annotate and n_rows * n_cols <= 400 else None,
        **scale,  # pyright: ignore[reportArgumentType]
    )
    figure = go.Figure(trace)
    figure.update_layout(
        title={"text": title},
        xaxis={"title": {"text": x_title}, "type": "category"},
        yaxis={"title": {"text": y_title}, "type": "category", "autorange": "reversed"},
        width=max(460, min(1060, 190 + 44 * n_cols)),
        height=max(260, min(900, 140 + 36 * n_rows)),
        margin={"l": 80, "r": 60, "t": 50, "b": 60},
        modebar={"orientation": "v"},
    )
    return figure


def line_chart(
    series: Mapping[str, tuple[Sequence[int | float], Sequence[float]]],
    *,
    title: str,
    x_title: str,
    y_title: str,
    errors: Mapping[str, Sequence[float]] | None = None,
    markers: Sequence[tuple[int | float, str]] = (),
    log_y: bool = False,
) -> go.Figure:
    """Lines of (x, y) series with a legend; ``errors`` draw ±1 standard-error bands.

    ``markers`` are labelled vertical dashed lines (e.g. the phase change).
    """
    errors = errors or {}
    figure = go.Figure()
    for i, (name, (xs, ys)) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        ys_clean = finite_or_none(ys)
        error = errors.get(name)
        figure.add_trace(
            go.Scatter(
                x=list(xs),
                y=ys_clean,
                name=name,
                mode="lines+markers",
                line={"color": color},
                marker={"size": 4},
                error_y={"type": "data", "array": list(error), "visible": True, "thickness": 1}
                if error is not None
                else None,
                hovertemplate=f"{name}<br>{x_title} %{{x}}<br>{y_title} %{{y:.4g}}<extra></extra>",
            )
        )
    for x, label in markers:
        figure.add_vline(
            x=x, line_dash="dash", line_color="#555", annotation_text=label,
            annotation_position="top left",
        )  # fmt: skip
    figure.update_layout(
        title={"text": title},
        xaxis={"title": {"text": x_title}},
        yaxis={"title": {"text": y_title}, "type": "log" if log_y else "linear"},
        width=820,
        height=380,
        margin={"l": 70, "r": 20, "t": 50, "b": 55},
        legend={"orientation": "v"},
        modebar={"orientation": "v"},
    )
    return figure


def scatter(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    title: str,
    x_title: str,
    y_title: str,
    equal_axes: bool = False,
) -> go.Figure:
    """Points of (x, y) series with a legend (e.g. eigenvalues in the complex plane)."""
    figure = go.Figure()
    for i, (name, (xs, ys)) in enumerate(series.items()):
        figure.add_trace(
            go.Scatter(
                x=[float(x) for x in xs], y=[float(y) for y in ys], name=name, mode="markers",
                marker={"color": PALETTE[i % len(PALETTE)], "size": 6},
                hovertemplate=f"{name}<br>{x_title} %{{x:.4g}}<br>{y_title} %{{y:.4g}}"
                "<extra></extra>",
            )
        )  # fmt: skip
    yaxis: dict[str, object] = {"title": {"text": y_title}}
    if equal_axes:
        yaxis |= {"scaleanchor": "x", "scaleratio": 1}
    figure.update_layout(
        title={"text": title}, xaxis={"title": {"text": x_title}}, yaxis=yaxis,
        width=620, height=460, margin={"l": 70, "r": 20, "t": 50, "b": 55},
        modebar={"orientation": "v"},
    )  # fmt: skip
    return figure
