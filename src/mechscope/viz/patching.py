"""Patching and ablation reports: layer x position and layer x head heatmaps, offline."""

from collections.abc import Sequence

from jaxtyping import Float
from torch import Tensor

from mechscope.patching import PatchingResult
from mechscope.viz.report import Report
from mechscope.viz.svg import heatmap


def position_labels(tokens: Sequence[str], n: int) -> list[str]:
    """Column labels ``"3 'x'"``: position and token (hover shows both)."""
    labels = [f"{i} {tokens[i]!r}" if i < len(tokens) else str(i) for i in range(n)]
    return [label if len(label) <= 12 else label[:11] + "…" for label in labels]


def patching_figure(result: PatchingResult, title: str) -> str:
    """One heatmap of the normalised values: rows are layers, columns heads or positions."""
    grid = result.grid()
    rows = [f"L{layer}" for layer in range(grid.shape[0])]
    by_position = any(s.pos is not None for s in result.sites)
    if grid.ndim == 3:  # head and position: average over positions for the overview
        grid = grid.nanmean(-1)
        by_position = False
    columns = (
        position_labels(result.tokens, grid.shape[1])
        if by_position
        else [f"H{h}" for h in range(grid.shape[1])]
    )
    return heatmap(grid.tolist(), row_labels=rows, col_labels=columns, title=title, cell=38)


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
    change: Float[Tensor, "layer head"],
    rows: Sequence[Sequence[object]],
    title: str,
    note: str,
) -> Report:
    """The chosen heads' joint effect (table) and every single head's effect (heatmap)."""
    report = Report(title)
    report.paragraph(note)
    report.table(["ablated", "how", "loss", "change"], rows)
    report.heading("Each head ablated alone: change in loss (nats)")
    report.figure(
        heatmap(
            change.tolist(),
            row_labels=[f"L{layer}" for layer in range(change.shape[0])],
            col_labels=[f"H{h}" for h in range(change.shape[1])],
            title="loss change per head",
        )
    )
    return report
