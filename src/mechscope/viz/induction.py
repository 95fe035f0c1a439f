"""The induction-head reproduction's report: curves, tables, heatmaps, attention views."""

from typing import Any

from mechscope.experiments.induction_heads import INDUCTION_1L, INDUCTION_2L, Result
from mechscope.viz.attention import attention_heads_view
from mechscope.viz.report import Report
from mechscope.viz.svg import heatmap, line_chart


def _series(metrics: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    rows = [r for r in metrics if r.get(key) is not None]
    return [r["step"] for r in rows], [r[key] for r in rows]


def _best_induction(metrics: list[dict[str, Any]]) -> tuple[list[int], list[float]]:
    return [r["step"] for r in metrics], [
        max(max(row) for row in r["induction_score"]) for r in metrics
    ]


def render(result: Result) -> Report:
    """The whole page."""
    m2, m1 = result.metrics[INDUCTION_2L], result.metrics[INDUCTION_1L]
    pc = result.phase_change
    marker = [(float(pc.loss_drop_step), f"phase change (step {pc.loss_drop_step})")]
    report = Report("Induction heads: the phase change, the mechanism, the ablations")
    report.paragraph(
        "A 2-layer and a 1-layer attention-only byte-level transformer trained with the same "
        "recipe (Elhage et al. 2021; Olsson et al. 2022). All numbers below are measured on "
        "prompts the models never saw in training."
    )

    report.heading("1. The phase change")
    curves = [
        (
            {
                "2-layer, 1st copy": _series(m2, "repeat_first_half_loss"),
                "2-layer, 2nd copy": _series(m2, "repeat_second_half_loss"),
                "1-layer, 1st copy": _series(m1, "repeat_first_half_loss"),
                "1-layer, 2nd copy": _series(m1, "repeat_second_half_loss"),
            },
            "Loss on repeated random tokens (BOS + r + r)",
            "loss (nats)",
        ),
        (
            {"2-layer": _best_induction(m2), "1-layer": _best_induction(m1)},
            "Best induction score of any head",
            "induction score",
        ),
        (
            {"2-layer": _series(m2, "icl_score"), "1-layer": _series(m1, "icl_score")},
            "In-context-learning score (late-token minus early-token loss; lower is better)",
            "ICL score (nats)",
        ),
        (
            {"2-layer": _series(m2, "train_loss"), "1-layer": _series(m1, "train_loss")},
            "Training loss (the bump at the phase change)",
            "loss (nats)",
        ),
    ]
    for series, title, y_label in curves:
        report.figure(
            line_chart(
                series, title=title, x_label="training step", y_label=y_label, markers=marker
            )
        )
    keys = [k for k in pc.before if k != "step"]
    report.table(
        ["metric (2-layer)", f"step {pc.before['step']}", f"step {pc.after['step']}"],
        [[k, pc.before[k], pc.after.get(k, float("nan"))] for k in keys],
    )
    report.paragraph(
        f"Steepest drop of the second-copy loss: step {pc.loss_drop_step}; steepest rise of "
        f"the best induction score: step {pc.induction_jump_step}.",
        note=True,
    )

    report.heading("2. The 1-layer model never forms induction heads")
    best_1l = max(_best_induction(m1)[1])
    final_scores = result.head_scores
    report.table(
        ["model", "best induction score, final", "best over training"],
        [
            [
                name,
                max(max(r) for r in final_scores[name]["induction"]),
                max(_best_induction(result.metrics[name])[1]),
            ]
            for name in (INDUCTION_2L, INDUCTION_1L)
        ],
    )
    report.paragraph(f"The 1-layer model's best head never exceeds {best_1l:.3f}.", note=True)

    report.heading("3. The mechanism in the 2-layer model")
    scores = final_scores[INDUCTION_2L]
    n_layers, n_heads = len(scores["induction"]), len(scores["induction"][0])
    rows = [f"layer {layer}" for layer in range(n_layers)]
    cols = [f"head {h}" for h in range(n_heads)]
    titles = {
        "previous_token": "previous-token (repeated random tokens)",
        "induction": "induction (repeated random tokens)",
        "previous_token_text": "previous-token (held-out text)",
        "prefix_matching": "prefix-matching (held-out text)",
    }
    for kind, title in titles.items():
        report.figure(
            heatmap(
                scores[kind],
                row_labels=rows,
                col_labels=cols,
                title=title,
                vmin=0.0,
                vmax=1.0,
            )
        )
    previous = ", ".join(map(str, result.previous_token_heads)) or "none"
    induction = ", ".join(map(str, result.induction_heads)) or "none"
    report.paragraph(f"Previous-token heads (layer 0): {previous}; induction heads: {induction}.")
    report.figure(
        heatmap(
            result.k_composition.tolist(),
            row_labels=[f"L0H{h}" for h in range(n_heads)],
            col_labels=[f"L1H{h}" for h in range(n_heads)],
            title="K-composition: layer-0 head (row) -> layer-1 head's keys (column)",
            vmin=0.0,
        ),
        caption=f"Random matrices of the same shapes score {result.k_composition_baseline:.3f} "
        "on average.",
    )

    report.heading("4. Ablations")
    report.table(
        ["ablated", "how", "1st-copy loss", "2nd-copy loss", "held-out loss", "ICL score"],
        [
            [
                r["label"],
                r["how"],
                r["repeat_first_half_loss"],
                r["repeat_second_half_loss"],
                r["held_out_loss"],
                r["icl_score"],
            ]
            for r in result.ablations
        ],
    )

    report.heading("5. Attention on a repeated sequence")
    for layer in range(result.view_patterns.shape[0]):
        report.heading(f"Layer {layer}", level=3)
        names = [f"L{layer}H{h}" for h in range(result.view_patterns.shape[1])]
        report.view(
            attention_heads_view(
                result.view_tokens, result.view_patterns[layer], names, causal=True
            )
        )
    return report
