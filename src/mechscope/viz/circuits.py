"""Pages for the residual stream and the weights: attribution, the conveyor belt, circuits."""

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch

from mechscope.core.axes import HeadId
from mechscope.viz.figures import heatmap, line_chart, scatter
from mechscope.viz.report import Report

if TYPE_CHECKING:
    from mechscope.circuits.direct import DirectAttribution
    from mechscope.circuits.discovery import AcdcResult, CircuitDiscovery, EdgeEffects
    from mechscope.circuits.edges import EdgeScores
    from mechscope.circuits.weights import WeightCircuits


def _grid_shape(labels: Sequence[str]) -> tuple[int, int]:
    heads = [HeadId.parse(label) for label in labels if label[0].isdigit()]
    return max(h.layer for h in heads) + 1, max(h.head for h in heads) + 1


def conveyor_belt(result: "DirectAttribution", prompt: int = 0) -> tuple[list[str], list[float]]:
    """Running total of the direct logit, part by part, at the prompt's last position.

    After the embeddings, then each layer's attention and MLP; the final total is the logit
    minus its bias.
    """
    labels, grouped = result.grouped()
    last = int(result.attention_mask[prompt].sum()) - 1
    values = grouped[:, prompt, last].tolist()
    running, totals = 0.0, []
    for value in values:
        running += value
        totals.append(running)
    return labels, totals


def attribution_figures(
    report: Report,
    result: "DirectAttribution",
    token_text: Callable[[int], str],
    *,
    prompt: int = 0,
) -> None:
    """Add the layer x head grid, the part x position grid and the conveyor belt."""
    n_layers, n_heads = _grid_shape(result.labels)
    grid = result.by_head(n_layers, n_heads)
    report.figure(heatmap(
        grid.tolist(), x_labels=[str(h) for h in range(n_heads)],
        y_labels=[str(layer) for layer in range(n_layers)],
        title="Direct logit attribution by head (last position, mean over prompts)",
        x_title="head", y_title="layer", value_name="logit", diverging=True,
    ))  # fmt: skip
    labels, grouped = result.grouped()
    n_real = int(result.attention_mask[prompt].sum())
    tokens = [f"{i}:{token_text(int(t))}" for i, t in enumerate(result.tokens[prompt, :n_real])]
    report.figure(heatmap(
        grouped[:, prompt, :n_real].tolist(), x_labels=tokens, y_labels=labels,
        title="Direct logit attribution by part and position (prompt 0)",
        x_title="position", y_title="part", value_name="logit", diverging=True,
    ))  # fmt: skip
    belt_labels, totals = conveyor_belt(result, prompt)
    report.figure(line_chart(
        {"running direct logit": (list(range(len(totals))), totals)},
        title="The conveyor belt: the answer's logit as each part adds to the stream",
        x_title="part (" + ", ".join(belt_labels[:3]) + ", ...)", y_title="logit",
    ))  # fmt: skip


def render_attribution(
    result: "DirectAttribution", token_text: Callable[[int], str], title: str, top: int = 12
) -> Report:
    """A page: the largest parts, the grids and the conveyor belt."""
    report = Report(title)
    report.paragraph(
        f"Each part of the final residual stream read through the final normalisation with its "
        f"scale frozen at this run's value, along the answer's unembedding direction. The parts "
        f"sum to the logit minus the unembedding bias (largest gap {result.error():.2e})."
    )
    report.table(["part", "direct logit (mean)", "s.e."],
                 [[part, f"{mean:.3f}", f"{sem:.3f}"]
                  for part, mean, sem in result.ranked(top)])  # fmt: skip
    attribution_figures(report, result, token_text)
    return report


def render_circuits(result: "WeightCircuits", heads: Sequence[HeadId], title: str) -> Report:
    """A page: copying scores, OV spectra of ``heads``, positional QK, K-composition."""
    n_layers, n_heads = result.copying.shape
    report = Report(title)
    baseline = result.baseline
    report.paragraph(
        "From the weights alone, LayerNorm folded in. Copying score: sum of the eigenvalues of "
        "W_E W_OV W_U over the sum of their magnitudes (+1: the head copies the token it "
        "attends to). "
        + (f"Composition: Elhage et al.'s scores, against random matrices of the same shapes "
           f"(Q {baseline['Q']:.3f}, K {baseline['K']:.3f}, V {baseline['V']:.3f})."
           if baseline else "Composition scores were not computed (see weight_circuits).")
    )  # fmt: skip
    report.figure(heatmap(
        result.copying.tolist(), x_labels=[str(h) for h in range(n_heads)],
        y_labels=[str(layer) for layer in range(n_layers)], title="OV copying score",
        x_title="head", y_title="layer", value_name="copying", diverging=True, zmin=-1.0, zmax=1.0,
    ))  # fmt: skip
    report.figure(scatter(
        {f"{h.layer}.{h.head}": (result.eigen_real[h].tolist(), result.eigen_imag[h].tolist())
         for h in heads},
        title="OV circuit eigenvalues (complex plane)", x_title="real", y_title="imaginary",
        equal_axes=True,
    ))  # fmt: skip
    if result.positional is not None:
        offsets = list(range(min(16, result.positional.shape[-1])))
        report.figure(line_chart(
            {f"{h.layer}.{h.head}": (offsets, result.positional[h][: len(offsets)].tolist())
             for h in heads},
            title="Positional QK: attention by offset back from positional embeddings alone",
            x_title="offset back", y_title="mean attention",
        ))  # fmt: skip
    names = [f"{layer}.{head}" for layer in range(n_layers) for head in range(n_heads)]
    k_scores = result.composition.get("K")
    if k_scores is not None:
        k_scores = k_scores.reshape(len(names), len(names))
        report.figure(heatmap(
            k_scores.tolist(), x_labels=names, y_labels=names,
            title="K-composition: earlier head (row) -> later head (column); 0 where not later",
            x_title="later head", y_title="earlier head", value_name="K-composition",
            annotate=False,
        ))  # fmt: skip
    rows = [[f"{h.layer}.{h.head}", f"{float(result.copying[h]):.3f}",
             f"{float(result.ov_singular[h][0]):.3g}", f"{float(result.qk_singular[h][0]):.3g}",
             "-" if result.positional is None else int(result.positional[h].argmax())]
            for h in heads]  # fmt: skip
    report.table(["head", "copying", "top OV singular value", "top QK singular value",
                  "preferred offset back"], rows)  # fmt: skip
    return report


def _node_grid(scores: "EdgeScores") -> tuple[list[str], list[str], list[list[float]]]:
    """Edge scores summed over each head's q/k/v inputs: upstream x downstream component."""
    nodes = [name.split("<")[0] for name in scores.downstream]
    columns = list(dict.fromkeys(nodes))
    merge = torch.zeros(len(nodes), len(columns))
    merge[range(len(nodes)), [columns.index(n) for n in nodes]] = 1.0
    summed = scores.scores.nan_to_num(0.0) @ merge
    exists = (~scores.scores.isnan()).float() @ merge > 0
    return list(scores.upstream), columns, summed.masked_fill(~exists, float("nan")).tolist()


def render_circuit_discovery(results: dict, title: str, note: str, top: int = 20) -> Report:
    """Faithfulness against size, the top edges, the circuit, ACDC's and the exact effects."""
    scores: EdgeScores = results["edges"]
    found: CircuitDiscovery = results["circuit"]
    report = Report(title)
    report.paragraph(
        f"{note} Metric {scores.metric}: clean {scores.clean_value:.3f}, corrupted "
        f"{scores.corrupted_value:.3f}. Edge scores by {scores.method}"
        + (f" ({scores.steps} steps)" if scores.method == "eap-ig" else "")
        + ": the first-order change of the metric when the edge carries the corrupted "
        "activation. Faithfulness: (M(circuit) - M(nothing)) / (M(full) - M(nothing)), the "
        f"other edges ablated ({found.ablation})."
    )
    sizes = found.sizes.tolist()
    report.figure(line_chart(
        {"top edges kept": (sizes, found.faithfulness.tolist())},
        title=f"Faithfulness against circuit size ({found.n_edges} edges in the model)",
        x_title="edges kept (by |score|)", y_title="faithfulness",
        markers=[(found.chosen, f"target {found.target}")] if found.chosen else (),
    ))  # fmt: skip
    report.heading("The circuit")
    if found.chosen:
        report.paragraph(
            f"The smallest measured circuit reaching faithfulness {found.target}: "
            f"{found.chosen} edges ({found.faithfulness_at(found.chosen):.3f}); components "
            f"{', '.join(found.nodes()) or '-'}."
        )
    else:
        report.paragraph(f"No measured size reaches faithfulness {found.target}.")
    report.table(["edge", "score"], [[name, f"{value:+.4f}"] for name, value in scores.top(top)])
    n_columns = len({name.split("<")[0] for name in scores.downstream})
    if len(scores.upstream) * n_columns <= 6400:
        upstream, columns, grid = _node_grid(scores)
        report.figure(heatmap(
            grid, x_labels=columns, y_labels=upstream, diverging=True, annotate=len(columns) <= 12,
            title="Edge scores, a head's query, key and value inputs summed",
            x_title="downstream (reads)", y_title="upstream (writes)", value_name="score",
        ))  # fmt: skip
    if "acdc" in results:
        a: AcdcResult = results["acdc"]
        report.heading("ACDC")
        report.paragraph(
            f"tau {a.tau}: {len(a.edges)} of {a.n_edges} edges kept, faithfulness "
            f"{a.faithfulness:.3f}, {a.forward_passes} forward passes. Edges: "
            f"{', '.join(a.edges[:40])}{' ...' if len(a.edges) > 40 else ''}"
        )
    if "exact" in results:
        e: EdgeEffects = results["exact"]
        report.heading("Scores against exact single-edge ablation")
        report.figure(scatter(
            {"edge": (e.estimates.tolist(), e.effects.tolist())},
            title=f"{len(e.edges)} top edges: Spearman {e.spearman():.3f}",
            x_title="attribution score", y_title="exact change of the metric",
        ))  # fmt: skip
    return report
