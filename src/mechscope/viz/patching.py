"""Patching and ablation reports: layer x position and layer x head heatmaps, offline."""

from collections.abc import Sequence

import plotly.graph_objects as go

from mechscope.interventions.ablation import AblationEffects
from mechscope.interventions.activation import PatchingResult
from mechscope.viz.figures import heatmap
from mechscope.viz.report import Report


def position_labels(tokens: Sequence[str], n: int) -> list[str]:
    """Column labels ``"3 'x'"``: position and token (hover shows both)."""
    labels = [f"{i} {tokens[i]!r}" if i < len(tokens) else str(i) for i in range(n)]
    return [label if len(label) <= 14 else label[:13] + "…" for label in labels]


def patching_figure(result: PatchingResult, title: str) -> go.Figure:
    """The normalised values: layer x head, or layer x position (0 = corrupted, 1 = clean)."""
    if result.has_heads:
        grid = result.by_layer_head()
        columns = [f"H{h}" for h in range(grid.shape[1])]
        x_title = "head" + (" (mean over positions)" if result.by_position else "")
    else:
        grid = result.by_layer_pos()
        columns = position_labels(result.tokens, grid.shape[1])
        x_title = "position and token (first prompt)"
    return heatmap(
        grid.tolist(),
        x_labels=columns,
        y_labels=[f"L{layer}" for layer in range(grid.shape[0])],
        title=title,
        x_title=x_title,
        y_title="layer",
        value_name="normalised",
        diverging=True,
    )


def render_patching(results: dict[str, PatchingResult], title: str, note: str = "") -> Report:
    """One section per component, each with its heatmap and the baselines."""
    report = Report(title)
    if note:
        report.paragraph(note)
    for name, result in results.items():
        report.heading(name)
        report.paragraph(
            f"{result.direction.value}; metric {result.metric}: clean {result.clean:.3f}, "
            f"corrupted {result.corrupted:.3f}. Cells are normalised: 0 = corrupted, 1 = clean; "
            "hover for the value.",
            note=True,
        )
        report.figure(patching_figure(result, f"{name} ({result.direction.value})"))
    return report


def render_ablation(
    effects: AblationEffects, n_layers: int, n_heads: int, title: str, note: str
) -> Report:
    """The first group and any group of several heads (table); single heads (heatmap)."""
    report = Report(title)
    report.paragraph(note)
    rows: list[list[object]] = [["nothing", "-", effects.clean, 0.0]]
    rows += [
        [r["head"], effects.how.value, r["ablated"], r["change"]]
        for i, (group, r) in enumerate(zip(effects.groups, effects.to_rows(), strict=True))
        if i == 0 or len(group) > 1
    ]
    report.table(["ablated", "how", effects.metric, "change"], rows)
    report.heading(f"Each head ablated alone: change in {effects.metric}")
    report.figure(
        heatmap(
            effects.as_grid(n_layers, n_heads).tolist(),
            x_labels=[f"H{h}" for h in range(n_heads)],
            y_labels=[f"L{layer}" for layer in range(n_layers)],
            title=f"{effects.how.value}-ablating one head: change in {effects.metric}",
            x_title="head",
            y_title="layer",
            value_name="change",
            diverging=True,
        )
    )
    return report
