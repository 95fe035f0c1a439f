"""The attribution graph page: nodes by layer and position, edges by weight, paths on click.

Offline (plotly inlined once by `Report`); hovering a node shows its activation, influence,
direct and total effects, the tokens its decoder promotes and, when a features reading is
given, its top contexts; clicking a node draws every path through it (its ancestors' edges
into it and its descendants' edges out of it) and dims the rest; clicking the background
clears it.
"""

import html
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import plotly.graph_objects as go

from mechscope.viz.figures import scatter
from mechscope.viz.report import Report

if TYPE_CHECKING:
    from mechscope.circuits.tracing import AttributionGraph, GraphValidation

COLOURS = {"f": "#4c78a8", "err": "#9d9d9d", "emb": "#54a24b", "target": "#e45756"}
GROUP_COLOUR = "#b279a2"
POSITIVE, NEGATIVE = "#f58518", "#72b7b2"
WIDTHS = (0.6, 1.2, 2.2, 3.5, 5.0)
"""Edge widths, one per fifth of the largest |weight|."""


def _kind(name: str, groups: Mapping[str, Sequence[str]]) -> str:
    if name in groups:
        return "group"
    for prefix in ("err", "emb", "target", "f"):
        if name.startswith(prefix):
            return prefix
    return "group"


def _places(graph: "AttributionGraph") -> list[tuple[float, float]]:
    """Each node's (x, y): its position, spread sideways among nodes at the same place."""
    shared: dict[tuple[int, int], list[int]] = {}
    for i, (layer, pos) in enumerate(zip(graph.layer.tolist(), graph.pos.tolist(), strict=True)):
        shared.setdefault((layer, pos), []).append(i)
    places: list[tuple[float, float]] = [(0.0, 0.0)] * len(graph.nodes)
    for (layer, pos), members in shared.items():
        members.sort(key=lambda i: -float(graph.influence[i]))
        for k, i in enumerate(members):
            offset = 0.0 if len(members) == 1 else -0.38 + 0.76 * k / (len(members) - 1)
            places[i] = (pos + offset, float(layer))
    return places


def graph_figure(
    graph: "AttributionGraph",
    contexts: Mapping[str, str] | None = None,
    title: str = "",
) -> go.Figure:
    """The graph as a plotly figure.

    One trace per edge width and sign, then the nodes, then a highlight trace (empty until a
    node is clicked).
    """
    places = _places(graph)
    figure = go.Figure()
    top = float(graph.adjacency.abs().max()) if graph.adjacency.numel() else 0.0
    buckets: dict[tuple[int, bool], tuple[list, list]] = {}
    for t, s in graph.adjacency.nonzero().tolist():
        weight = float(graph.adjacency[t, s])
        width = min(len(WIDTHS) - 1, int(abs(weight) / top * len(WIDTHS))) if top else 0
        xs, ys = buckets.setdefault((width, weight > 0), ([], []))
        xs += [places[s][0], places[t][0], None]
        ys += [places[s][1], places[t][1], None]
    for (width, positive), (xs, ys) in sorted(buckets.items()):
        figure.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines", hoverinfo="skip", showlegend=False,
            line={"width": WIDTHS[width], "color": POSITIVE if positive else NEGATIVE},
            opacity=0.55,
        ))  # fmt: skip
    contexts = contexts or {}
    texts, colours, sizes = [], [], []
    peak = float(graph.influence.max()) if len(graph.nodes) else 1.0
    for i, name in enumerate(graph.nodes):
        kind = _kind(name, graph.groups)
        colours.append(GROUP_COLOUR if kind == "group" else COLOURS[kind])
        share = float(graph.influence[i]) / peak if peak > 0 else 0.0
        sizes.append(16 if kind == "target" else 7 + 15 * share**0.5)
        lines = [f"<b>{html.escape(name)}</b>"]
        if graph.labels and graph.labels[i]:
            lines.append(html.escape(graph.labels[i]))
        lines.append(f"activation {float(graph.activation[i]):.3g}; influence "
                     f"{float(graph.influence[i]):.3g}")  # fmt: skip
        lines.append(f"direct effect {float(graph.direct[i]):+.3g}; total "
                     f"{float(graph.total[i]):+.3g}")  # fmt: skip
        if name in graph.groups:
            lines.append("members: " + html.escape(", ".join(graph.groups[name][:8])))
        if name in contexts:
            lines.append(contexts[name])
        texts.append("<br>".join(lines))
    figure.add_trace(go.Scatter(
        x=[p[0] for p in places], y=[p[1] for p in places], mode="markers", text=texts,
        hovertemplate="%{text}<extra></extra>", showlegend=False,
        marker={"size": sizes, "color": colours, "line": {"width": 1, "color": "#333"}},
    ))  # fmt: skip
    figure.add_trace(go.Scatter(
        x=[], y=[], mode="lines", hoverinfo="skip", showlegend=False,
        line={"width": 3, "color": "#d62728"},
    ))  # fmt: skip
    n_layers = int(graph.layer.max()) if len(graph.nodes) else 0
    figure.update_layout(
        title=title or f"{graph.target}: {len(graph.nodes)} nodes",
        width=max(700, 90 * len(graph.tokens)), height=max(500, 26 * (n_layers + 2)),
        plot_bgcolor="white", margin={"l": 70, "r": 20, "t": 50, "b": 90},
        xaxis={"tickmode": "array", "tickvals": list(range(len(graph.tokens))),
               "ticktext": [html.escape(repr(t)[1:-1]) for t in graph.tokens],
               "tickangle": -45, "showgrid": False, "zeroline": False},
        yaxis={"tickmode": "array", "tickvals": list(range(-1, n_layers + 1)),
               "ticktext": ["emb", *(str(k) for k in range(n_layers)), "out"],
               "title": "layer", "showgrid": True, "gridcolor": "#eee", "zeroline": False},
        hovermode="closest",
    )  # fmt: skip
    return figure


def _highlight_script(graph: "AttributionGraph", div: str, n_edge_traces: int) -> str:
    """Click a node: draw the edges of every path through it; click the background: clear."""
    places = _places(graph)
    edges = [[s, t] for t, s in graph.adjacency.nonzero().tolist()]
    data = json.dumps({"places": places, "edges": edges, "nodes": n_edge_traces,
                       "highlight": n_edge_traces + 1})  # fmt: skip
    return f"""<script>(function() {{
const g = {data};
const div = document.getElementById({json.dumps(div)});
if (!div || !div.on) return;
const parents = {{}}, children = {{}};
g.edges.forEach(([s, t]) => {{ (parents[t] = parents[t] || []).push(s);
                                 (children[s] = children[s] || []).push(t); }});
function reach(start, next) {{
  const seen = new Set([start]), todo = [start];
  while (todo.length) {{ (next[todo.pop()] || []).forEach(n => {{
    if (!seen.has(n)) {{ seen.add(n); todo.push(n); }} }}); }}
  return seen;
}}
div.on('plotly_click', ev => {{
  const p = ev.points[0];
  if (p.curveNumber !== g.nodes) return;
  const up = reach(p.pointNumber, parents), down = reach(p.pointNumber, children);
  const xs = [], ys = [];
  g.edges.forEach(([s, t]) => {{
    if ((up.has(s) && up.has(t)) || (down.has(s) && down.has(t))) {{
      xs.push(g.places[s][0], g.places[t][0], null); ys.push(g.places[s][1], g.places[t][1], null);
    }} }});
  const opacity = g.places.map((_, i) => (up.has(i) || down.has(i)) ? 1 : 0.15);
  Plotly.restyle(div, {{x: [xs], y: [ys]}}, [g.highlight]);
  Plotly.restyle(div, {{'marker.opacity': [opacity]}}, [g.nodes]);
}});
div.on('plotly_doubleclick', () => {{
  Plotly.restyle(div, {{x: [[]], y: [[]]}}, [g.highlight]);
  Plotly.restyle(div, {{'marker.opacity': [1]}}, [g.nodes]);
}});
}})();</script>"""


def add_graph(report: Report, graph: "AttributionGraph",
              contexts: Mapping[str, str] | None = None, title: str = "") -> None:  # fmt: skip
    """The interactive graph and its click-to-highlight script, added to ``report``."""
    figure = graph_figure(graph, contexts, title)
    n_edge_traces = len(figure.data) - 2  # pyright: ignore[reportArgumentType]
    div = report.figure(figure, "Orange edges raise their target, teal ones lower it; width "
                        "by |weight|. Hover a node for its numbers; click one to draw every "
                        "path through it; double-click to clear.")  # fmt: skip
    report.html(_highlight_script(graph, div, n_edge_traces))


def render_attribution_graph(
    graph: "AttributionGraph",
    *,
    validation: "GraphValidation | None" = None,
    contexts: Mapping[str, str] | None = None,
    title: str = "Attribution graph",
    note: str = "",
) -> Report:
    """The graph page: the scores, the interactive graph, the top nodes and the real checks."""
    report = Report(title)
    scores = graph.scores
    n_features = sum(name.startswith("f") for name in graph.nodes)
    members = sum(len(m) for m in graph.groups.values())
    grouped = f" and {len(graph.groups)} supernodes of {members} nodes" if graph.groups else ""
    report.paragraph(
        f"{note} Prompt: {''.join(graph.tokens)!r}; target {graph.target} = {graph.value:.3f}. "
        f"{graph.n_active} active features, {graph.n_explored} explored; kept {n_features} "
        f"features{grouped}, {len(graph.nodes)} nodes, {int((graph.adjacency != 0).sum())} edges. "
        f"Replacement score {scores.get('replacement_explored', float('nan')):.3f} (explored "
        f"graph), {scores.get('replacement_pruned', float('nan')):.3f} (pruned); completeness "
        f"{scores.get('completeness_explored', float('nan')):.3f} and "
        f"{scores.get('completeness_pruned', float('nan')):.3f}."
    )  # fmt: skip
    add_graph(report, graph, contexts)
    report.heading("The most influential features" + (" and supernodes" if graph.groups else ""))
    index = {name: i for i, name in enumerate(graph.nodes)}
    ranked = sorted([*graph.top(15), *[(name, float(graph.influence[index[name]]))
                                       for name in graph.groups if name in index]],
                    key=lambda item: -item[1])[:15]  # fmt: skip
    report.table(
        ["node", "label", "activation", "influence", "direct", "total"],
        [[name, graph.labels[index[name]] if graph.labels else "",
          f"{float(graph.activation[index[name]]):.3f}", f"{value:.4f}",
          f"{float(graph.direct[index[name]]):+.3f}", f"{float(graph.total[index[name]]):+.3f}"]
         for name, value in ranked],
    )  # fmt: skip
    if validation is not None and len(validation.features):
        report.heading("Checked in the real model")
        report.paragraph(
            f"Each of the {len(validation.features)} most influential features set to "
            f"{validation.scale:g} x its activation in the real model (transcoder splice, error "
            "term kept; attention and every other MLP recomputed), against the graph's "
            f"prediction. Pearson r: total effect {validation.correlation('total'):.3f}, direct "
            f"effect alone {validation.correlation('direct'):.3f}."
        )
        report.figure(scatter(
            {"total effect (graph)": (validation.predicted_total.tolist(),
                                      validation.measured.tolist()),
             "direct effect only": (validation.predicted_direct.tolist(),
                                    validation.measured.tolist())},
            title="Predicted against measured change of the target",
            x_title="predicted change", y_title="measured change (real model)",
        ))  # fmt: skip
    return report
