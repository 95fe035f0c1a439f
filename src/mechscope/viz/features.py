"""Figures of sparse autoencoders: feature density, and sparsity against reconstruction."""

import html
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go
import torch
from jaxtyping import Float
from torch import Tensor

from mechscope.viz.figures import line_chart, scatter

if TYPE_CHECKING:
    from mechscope.features.labels import FeatureLabels
    from mechscope.features.reading import FeatureReading


def density_figure(densities: Mapping[str, Float[Tensor, " feature"]], bins: int = 30) -> go.Figure:
    """Per SAE, how many features fire on each share of the tokens (log10), dead ones apart.

    Features that never fired are counted in the legend (they have no logarithm).
    """
    alive = [d[d > 0] for d in densities.values()]
    low = min((float(a.min().log10()) for a in alive if a.numel()), default=-6.0)
    edges = torch.linspace(math.floor(low), 0.0, bins + 1)
    centres = ((edges[1:] + edges[:-1]) / 2).tolist()
    series = {}
    for (name, density), live in zip(densities.items(), alive, strict=True):
        counts = torch.histc(live.log10(), bins=bins, min=float(edges[0]), max=0.0).tolist()
        dead = int((density == 0).sum())
        series[f"{name} ({dead} dead of {density.numel()})"] = (centres, counts)
    return line_chart(series, title="Feature density on held-out tokens",
                      x_title="log10 share of tokens the feature fires on",
                      y_title="features")  # fmt: skip


def sparsity_figure(metrics: Mapping[str, Mapping[str, float]]) -> go.Figure:
    """Each SAE as a point: L0 against explained variance (the reconstruction-sparsity trade)."""
    return scatter(
        {name: ([m["l0"]], [m["explained_variance"]]) for name, m in metrics.items()},
        title="Sparsity against reconstruction", x_title="L0 (active features per token)",
        y_title="explained variance",
    )  # fmt: skip


def _visible(token: str) -> str:
    """A token as one line: newlines and tabs drawn as arrows."""
    return token.replace("\n", "\u21b5").replace("\t", "\u2192").replace("\r", "\u240d")


def _mini_histogram(counts: list[float], width: int = 120, height: int = 28) -> str:
    """An inline SVG bar chart of one feature's activation histogram."""
    top = max(counts) or 1.0
    bar = width / len(counts)
    rects = "".join(
        f'<rect x="{i * bar:.1f}" y="{height - height * c / top:.1f}" width="{bar - 0.5:.1f}" '
        f'height="{height * c / top:.1f}"/>'
        for i, c in enumerate(counts)
    )
    return (f'<svg class="hist" width="{width}" height="{height}" fill="#4c72b0">'
            f"{rects}</svg>")  # fmt: skip


def feature_browser(
    reading: "FeatureReading",
    *,
    contexts: int = 5,
    limit: int | None = None,
    labels: "FeatureLabels | None" = None,
) -> str:
    """A searchable table of an SAE's features, self-contained HTML (no network).

    One row per feature that fired (densest first, at most ``limit``): its density, largest
    activation and histogram, the tokens its decoder promotes and suppresses, its nearest
    feature, and its top contexts with each token shaded by the feature's activation there
    (the token itself outlined); with ``labels``, its best annotation and the scores behind
    it. The search box keeps the rows whose text contains it (a feature number, a token, a
    label).
    """
    order = [int(f) for f in reading.density.argsort(descending=True) if reading.density[f] > 0]
    order = order[:limit] if limit is not None else order
    rows = []
    for f in order:
        top = float(reading.top_values[f, 0])
        shown = []
        for rank in range(min(contexts, reading.top_values.shape[1])):
            value = float(reading.top_values[f, rank])
            if value <= 0:
                break
            spans = "".join(
                f'<span class="{"hit" if hit else ""}" style="background: rgba(221,132,82,'
                f'{value / top if hit else 0:.2f})">{html.escape(_visible(token))}</span>'
                for token, hit in reading.context(f, rank)
            )
            shown.append(f'<div class="ctx"><b>{value:.2f}</b> {spans}</div>')
        promoted = suppressed = ""
        if reading.promoted is not None and reading.suppressed is not None:
            promoted = " ".join(
                html.escape(repr(reading.text(int(i)))) for i in reading.promoted[f, :5]
            )
            suppressed = " ".join(
                html.escape(repr(reading.text(int(i)))) for i in reading.suppressed[f, :5]
            )
        label = ""
        if labels is not None:
            best = labels.best(f)
            label = (f"<td>{html.escape(repr(best['label']))} ({best['family']})<br>P "
                     f"{best['precision']:.2f} R {best['recall']:.2f} F1 {best['f1']:.2f}"
                     f"{'' if best['clears'] else '<br>(no label clears)'}</td>")  # fmt: skip
        rows.append(
            f"<tr><td>{f}</td>{label}<td>{float(reading.density[f]):.4f}</td><td>{top:.2f}<br>"
            f"{_mini_histogram(reading.histogram[f].tolist())}</td><td>{promoted}</td>"
            f"<td>{suppressed}</td><td>{int(reading.neighbours[f, 0])} "
            f"({float(reading.neighbour_cosine[f, 0]):.2f})</td><td>{''.join(shown)}</td></tr>"
        )
    dead = reading.n_features - len(
        [f for f in range(reading.n_features) if reading.density[f] > 0]
    )
    label_header = "<th>label</th>" if labels is not None else ""
    return f"""<div class="feature-browser">
<p>{len(order)} features shown ({dead} of {reading.n_features} never fired on these tokens).
<input id="feature-search" placeholder="search features (a number, a token)" size="40"></p>
<style>.feature-browser .ctx {{font-family: monospace; white-space: pre; margin: 2px 0;}}
.feature-browser .hit {{outline: 1px solid #c44e52;}}
.feature-browser td {{vertical-align: top; text-align: left;}}
.feature-browser td:last-child {{min-width: 30em;}}
</style>
<table id="feature-table"><thead><tr><th>feature</th>{label_header}
<th>density</th><th>max activation</th>
<th>promotes</th><th>suppresses</th><th>nearest (cosine)</th><th>top contexts</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>
<script>
document.getElementById("feature-search").addEventListener("input", function (event) {{
  const query = event.target.value.toLowerCase();
  for (const row of document.querySelectorAll("#feature-table tbody tr")) {{
    row.style.display = row.textContent.toLowerCase().includes(query) ? "" : "none";
  }}
}});
</script></div>"""


def abstraction_figure(
    shares: Mapping[int, Mapping[Any, tuple[float, float, float]]], title: str
) -> go.Figure:
    """Per layer, the share of live features at each level of abstraction (stacked bars).

    ``shares``: layer -> `Abstraction` level -> (share, low, high), as `FeatureLabels.shares`
    gives; the
    hover shows each share's 95 % interval.
    """
    from mechscope.features.annotations import Abstraction

    layers = sorted(shares)
    figure = go.Figure()
    for level in Abstraction:
        values = [shares[layer][level] for layer in layers]
        figure.add_bar(
            name=level.value, x=[str(layer) for layer in layers], y=[v[0] for v in values],
            customdata=[[v[1], v[2]] for v in values],
            hovertemplate=(f"{level.value}<br>layer %{{x}}: %{{y:.3f}} "
                           "[%{customdata[0]:.3f}, %{customdata[1]:.3f}]<extra></extra>"),
        )  # fmt: skip
    figure.update_layout(
        barmode="stack", title=title, xaxis_title="layer (resid_post)",
        yaxis_title="share of live features", legend_title="best explained by",
    )  # fmt: skip
    return figure
