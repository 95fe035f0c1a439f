"""The induction reproduction's report: curves, tables, heatmaps, attention views."""

from typing import Any

from experiments.induction_heads.result import (
    INDUCTION_1L,
    INDUCTION_2L,
    InductionResult,
    best_induction,
)
from mechscope.viz import Report, attention_heads_view, heatmap, line_chart

Series = tuple[list[float], list[float]]


def _series(metrics: list[dict[str, Any]], key: str) -> Series:
    rows = [r for r in metrics if r.get(key) is not None]
    return [float(r["step"]) for r in rows], [float(r[key]) for r in rows]


def _best_induction(metrics: list[dict[str, Any]]) -> Series:
    return [float(r["step"]) for r in metrics], [best_induction(r) for r in metrics]


def render(result: InductionResult) -> Report:
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
    step = "training step"
    report.figure(
        line_chart(
            {
                "2-layer, 1st copy": _series(m2, "repeat_first_half_loss"),
                "2-layer, 2nd copy": _series(m2, "repeat_second_half_loss"),
                "1-layer, 1st copy": _series(m1, "repeat_first_half_loss"),
                "1-layer, 2nd copy": _series(m1, "repeat_second_half_loss"),
            },
            title="Loss on repeated random tokens (BOS + r + r)",
            x_title=step,
            y_title="loss (nats)",
            markers=marker,
        )
    )
    report.figure(
        line_chart(
            {"2-layer": _best_induction(m2), "1-layer": _best_induction(m1)},
            title="Best induction score of any head",
            x_title=step,
            y_title="induction score",
            markers=marker,
        )
    )
    icl_logged = all("icl_score_se" in r for r in m2 + m1)
    report.figure(
        line_chart(
            {"2-layer": _series(m2, "icl_score"), "1-layer": _series(m1, "icl_score")},
            title="ICL score (late minus early band loss) ± 1 s.e.",
            x_title=step,
            y_title="ICL score (nats)",
            errors={
                "2-layer": _series(m2, "icl_score_se")[1],
                "1-layer": _series(m1, "icl_score_se")[1],
            }
            if icl_logged
            else None,
            markers=marker,
        )
    )
    report.figure(
        line_chart(
            {"2-layer": _series(m2, "train_loss"), "1-layer": _series(m1, "train_loss")},
            title="Training loss (the bump at the phase change)",
            x_title=step,
            y_title="loss (nats)",
            markers=marker,
        )
    )
    windows = result.icl_ablations[0]["n_windows"] if result.icl_ablations else 0
    report.paragraph(
        "ICL score: per held-out window, mean loss over the last quarter of predictions "
        "(96-126) minus mean loss over predictions 16-31 (past the local context), averaged "
        "over windows (Olsson et al. 2022 compare tokens 500 and 50 of 512). Logged at every "
        f"evaluation on 1,024 windows; the analysis below uses {windows:,}.",
        note=True,
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
    final_scores = result.head_scores
    report.table(
        ["model", "best induction score, final", "best over training", "ICL score", "± s.e."],
        [
            [
                name,
                max(max(r) for r in final_scores[name]["induction"]),
                max(_best_induction(result.metrics[name])[1]),
                result.losses[name]["icl_score"],
                result.losses[name]["icl_score_se"],
            ]
            for name in (INDUCTION_2L, INDUCTION_1L)
        ],
    )

    report.heading("3. The mechanism in the 2-layer model")
    scores = final_scores[INDUCTION_2L]
    n_layers, n_heads = len(scores["induction"]), len(scores["induction"][0])
    titles = {
        "previous_token": "previous-token score (repeated random tokens)",
        "induction": "induction score (repeated random tokens)",
        "previous_token_text": "previous-token score (held-out text)",
        "prefix_matching": "prefix-matching score (held-out text)",
    }
    for kind, title in titles.items():
        report.figure(
            heatmap(
                scores[kind],
                x_labels=[f"H{h}" for h in range(n_heads)],
                y_labels=[f"L{layer}" for layer in range(n_layers)],
                title=title,
                x_title="head",
                y_title="layer",
                value_name="score",
                zmin=0.0,
                zmax=1.0,
            )
        )
    previous = ", ".join(map(str, result.previous_token_heads)) or "none"
    induction = ", ".join(map(str, result.induction_heads)) or "none"
    report.paragraph(f"Previous-token heads (layer 0): {previous}; induction heads: {induction}.")
    report.figure(
        heatmap(
            result.k_composition.tolist(),
            x_labels=[f"L1H{h}" for h in range(n_heads)],
            y_labels=[f"L0H{h}" for h in range(n_heads)],
            title="K-composition: layer-0 head -> layer-1 head's keys",
            x_title="layer-1 head (keys)",
            y_title="layer-0 head (output)",
            value_name="K-composition",
            zmin=0.0,
        ),
        caption=f"Random matrices of the same shapes score {result.k_composition_baseline:.3f} "
        "on average.",
    )

    report.heading("4. Ablations")
    report.table(
        ["ablated", "how", "1st-copy loss", "2nd-copy loss", "held-out loss"],
        [
            [
                r["label"],
                r["how"],
                r["repeat_first_half_loss"],
                r["repeat_second_half_loss"],
                r["held_out_loss"],
            ]
            for r in result.ablations
        ],
    )
    report.heading("What carries the ICL score", level=3)
    report.table(
        ["ablated", "how", "ICL score", "± s.e.", "change", "± s.e. (paired)"],
        [
            [r["label"], r["how"], r["icl_score"], r["icl_score_se"], r["change"], r["change_se"]]
            for r in result.icl_ablations
        ],
    )
    report.paragraph(
        "Each window's ICL score with and without the ablation; the change is the mean paired "
        "difference, its standard error over windows.",
        note=True,
    )

    report.heading("5. Attention on a repeated sequence")
    for layer in range(result.view_patterns.shape[0]):
        report.heading(f"Layer {layer}", level=3)
        names = [f"{layer}.{h}" for h in range(result.view_patterns.shape[1])]
        report.view(
            attention_heads_view(
                result.view_tokens, result.view_patterns[layer], names, causal=True
            )
        )
    return report
