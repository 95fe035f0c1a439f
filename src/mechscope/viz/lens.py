"""Rendering lens trajectories: circuitsvis token views per boundary and plotly heatmaps."""

from collections.abc import Callable

import plotly.graph_objects as go
from circuitsvis.utils.render import RenderedHTML, render

from mechscope.lens.logit import LensStat, Trajectory
from mechscope.viz.figures import heatmap
from mechscope.viz.report import Report

SHOWN = {
    LensStat.RANK: "rank of the target (1 = top)",
    LensStat.LOG_PROB: "log-prob of the target",
    LensStat.KL_TO_FINAL: "KL(final || lens), nats",
}


def boundary_view(
    trajectory: Trajectory, boundary: int, to_string: Callable[[int], str]
) -> RenderedHTML:
    """Circuitsvis TokenLogProbs for prompt 0 read at one boundary.

    Each token is coloured by the log-prob the lens gave it; hovering shows the top-k.
    """
    real = trajectory.attention_mask[0].bool()
    tokens = trajectory.tokens[0][real].tolist()
    n = len(tokens) - 1  # predictions for tokens 1..n; scored on the next token
    top_ids = trajectory.top_k_ids[boundary, 0][real][:n]
    return render(
        "TokenLogProbs",
        prompt=[to_string(t) for t in tokens],
        topKLogProbs=trajectory.top_k_log_probs[boundary, 0][real][:n],
        topKTokens=[[to_string(t) for t in row] for row in top_ids.tolist()],
        correctTokenRank=(trajectory.rank[boundary, 0][real][:n] - 1),
        correctTokenLogProb=trajectory.log_prob[boundary, 0][real][:n],
    )


def trajectory_heatmap(trajectory: Trajectory, stat: LensStat, str_tokens: list[str]) -> go.Figure:
    """Boundary x position heatmap of ``stat`` for prompt 0 (hover shows value and token)."""
    real = trajectory.attention_mask[0].bool()
    values = trajectory.values(stat)[:, 0][:, real].float().tolist()
    return heatmap(
        values,
        x_labels=[f"{i}:{t!r}" for i, t in enumerate(str_tokens)],
        y_labels=trajectory.labels,
        title=SHOWN[stat],
        x_title="position: token",
        y_title="boundary",
        value_name=stat.value,
        annotate=len(str_tokens) <= 24,
    )


def render_lens(trajectory: Trajectory, to_string: Callable[[int], str], title: str) -> Report:
    """The lens report of prompt 0: heatmaps of rank, log-prob and KL, then token views."""
    real = trajectory.attention_mask[0].bool()
    str_tokens = [to_string(t) for t in trajectory.tokens[0][real].tolist()]
    report = Report(title)
    report.paragraph(
        "Each boundary's residual stream read through the model's final LayerNorm and "
        "unembedding (statistics recomputed per boundary). Position i is scored on the token "
        "it should predict (the next token, or the given target)."
    )
    for stat in SHOWN:
        report.figure(trajectory_heatmap(trajectory, stat, str_tokens))
    for boundary, label in enumerate(trajectory.labels):
        report.heading(f"Read {label}", level=3)
        report.view(boundary_view(trajectory, boundary, to_string))
    return report
