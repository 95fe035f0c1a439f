"""Inline SVG charts: line charts over training steps and labelled heatmaps.

Plain SVG strings, no JavaScript and no plotting library, so reports stay self-contained
and small. Every cell and point carries a ``<title>``, shown on hover.
"""

import html
import math
from collections.abc import Mapping, Sequence

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
MARGIN = {"left": 60, "right": 150, "top": 30, "bottom": 45}


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        return [float(low)]
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = min((m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw), default=raw)
    first = math.ceil(low / step) * step
    return [float(first + i * step) for i in range(int((high - first) / step) + 1)]


def _fmt(value: float) -> str:
    if math.isfinite(value) and value == int(value) and abs(value) < 1e7:
        return str(int(value))  # steps and round ticks: 1500, not 1.5e+03
    return f"{value:.3g}"


def line_chart(
    series: Mapping[str, tuple[Sequence[int] | Sequence[float], Sequence[float]]],
    *,
    title: str,
    x_label: str,
    y_label: str,
    markers: Sequence[tuple[int | float, str]] = (),
    width: int = 720,
    height: int = 300,
) -> str:
    """Lines of (x, y) series with a legend; ``markers`` are labelled vertical lines."""
    series = {
        name: ([float(x) for x in xs], [float(y) for y in ys]) for name, (xs, ys) in series.items()
    }
    markers = [(float(x), label) for x, label in markers]
    points = [(x, y) for xs, ys in series.values() for x, y in zip(xs, ys, strict=True)]
    finite = [(x, y) for x, y in points if math.isfinite(y)]
    if not finite:
        raise ValueError("line_chart needs at least one finite point")
    x_lo, x_hi = min(p[0] for p in finite), max(p[0] for p in finite)
    y_lo, y_hi = min(p[1] for p in finite), max(p[1] for p in finite)
    y_pad = (y_hi - y_lo) * 0.05 or 0.5
    y_lo, y_hi = y_lo - y_pad, y_hi + y_pad
    x_hi = x_hi if x_hi > x_lo else x_lo + 1
    plot_w = width - MARGIN["left"] - MARGIN["right"]
    plot_h = height - MARGIN["top"] - MARGIN["bottom"]

    def sx(x: float) -> float:
        return MARGIN["left"] + (x - x_lo) / (x_hi - x_lo) * plot_w

    def sy(y: float) -> float:
        return MARGIN["top"] + (y_hi - y) / (y_hi - y_lo) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="11">',
        f'<text x="{width / 2}" y="16" text-anchor="middle" font-size="13">'
        f"{html.escape(title)}</text>",
        f'<rect x="{MARGIN["left"]}" y="{MARGIN["top"]}" width="{plot_w}" height="{plot_h}" '
        'fill="none" stroke="#999"/>',
    ]
    for tick in _nice_ticks(y_lo, y_hi):
        parts.append(
            f'<line x1="{MARGIN["left"]}" x2="{MARGIN["left"] + plot_w}" y1="{sy(tick):.1f}" '
            f'y2="{sy(tick):.1f}" stroke="#eee"/><text x="{MARGIN["left"] - 4}" '
            f'y="{sy(tick) + 4:.1f}" text-anchor="end">{_fmt(tick)}</text>'
        )
    for tick in _nice_ticks(x_lo, x_hi):
        parts.append(
            f'<text x="{sx(tick):.1f}" y="{MARGIN["top"] + plot_h + 14}" '
            f'text-anchor="middle">{_fmt(tick)}</text>'
        )
    for x, label in markers:
        parts.append(
            f'<line x1="{sx(x):.1f}" x2="{sx(x):.1f}" y1="{MARGIN["top"]}" '
            f'y2="{MARGIN["top"] + plot_h}" stroke="#555" stroke-dasharray="4,3"/>'
            f'<text x="{sx(x) + 3:.1f}" y="{MARGIN["top"] + 12}">{html.escape(label)}</text>'
        )
    for i, (name, (xs, ys)) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        coords = " ".join(
            f"{sx(x):.1f},{sy(y):.1f}" for x, y in zip(xs, ys, strict=True) if math.isfinite(y)
        )
        parts.append(
            f'<polyline fill="none" stroke="{color}" stroke-width="1.6" points="{coords}"/>'
        )
        for x, y in zip(xs, ys, strict=True):
            if math.isfinite(y):
                parts.append(
                    f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2" fill="{color}">'
                    f"<title>{html.escape(name)} @ {_fmt(x)}: {_fmt(y)}</title></circle>"
                )
        ly = MARGIN["top"] + 14 * i + 8
        lx = width - MARGIN["right"] + 10
        parts.append(
            f'<line x1="{lx}" x2="{lx + 16}" y1="{ly}" y2="{ly}" stroke="{color}" '
            'stroke-width="2"/>'
            f'<text x="{lx + 20}" y="{ly + 4}">{html.escape(name)}</text>'
        )
    parts.append(
        f'<text x="{MARGIN["left"] + plot_w / 2}" y="{height - 8}" text-anchor="middle">'
        f"{html.escape(x_label)}</text>"
        f'<text transform="translate(14,{MARGIN["top"] + plot_h / 2}) rotate(-90)" '
        f'text-anchor="middle">{html.escape(y_label)}</text></svg>'
    )
    return "".join(parts)


def heatmap(
    values: Sequence[Sequence[float]],
    *,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    title: str,
    vmin: float | None = None,
    vmax: float | None = None,
    cell: int = 34,
) -> str:
    """A labelled heatmap (white -> blue for positive, white -> red for negative values)."""
    flat = [v for row in values for v in row if math.isfinite(v)]
    lo = min(flat, default=0.0) if vmin is None else vmin
    hi = max(flat, default=1.0) if vmax is None else vmax
    scale = max(abs(lo), abs(hi)) or 1.0
    left, top = 70, 40
    width = max(left + cell * len(col_labels) + 20, 8 * len(title) + left)
    height = top + cell * len(row_labels) + 20
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="10">',
        f'<text x="{left}" y="14" font-size="13">{html.escape(title)}</text>',
    ]
    for j, label in enumerate(col_labels):
        parts.append(
            f'<text x="{left + cell * j + cell / 2}" y="{top - 6}" text-anchor="middle">'
            f"{html.escape(label)}</text>"
        )
    for i, (label, row) in enumerate(zip(row_labels, values, strict=True)):
        y = top + cell * i
        parts.append(
            f'<text x="{left - 6}" y="{y + cell / 2 + 4}" text-anchor="end">'
            f"{html.escape(label)}</text>"
        )
        for j, value in enumerate(row):
            strength = min(1.0, abs(value) / scale) if math.isfinite(value) else 0.0
            shade = round(255 * (1 - strength))
            color = f"rgb({shade},{shade},255)" if value >= 0 else f"rgb(255,{shade},{shade})"
            text_color = "#fff" if strength > 0.6 else "#000"
            integral = math.isfinite(value) and value == int(value) and abs(value) >= 1
            shown = f"{value:.0f}" if integral else f"{value:.2f}"
            x = left + cell * j
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{color}" '
                f'stroke="#fff"><title>{html.escape(label)}, {html.escape(col_labels[j])}: '
                f"{_fmt(value)}</title></rect>"
                f'<text x="{x + cell / 2}" y="{y + cell / 2 + 4}" text-anchor="middle" '
                f'fill="{text_color}">{shown}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
