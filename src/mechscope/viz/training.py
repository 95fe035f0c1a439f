"""The report of a training run: losses and the health logs over steps."""

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mechscope.viz.figures import line_chart
from mechscope.viz.report import Report

if TYPE_CHECKING:
    from mechscope.training.evaluation import TrainingRecord


def render_training(records: Sequence["TrainingRecord"], title: str) -> Report:
    """Losses, the loss gap, gradient norms, attention entropy and effective rank by step."""
    report = Report(title)
    steps = [r.step for r in records]
    trained = [r for r in records if r.train_loss is not None]
    report.figure(line_chart(
        {"held-out loss": (steps, [r.evaluation.held_out_loss for r in records]),
         "training loss": ([r.step for r in trained], [float(r.train_loss or 0) for r in trained])},
        title="Loss", x_title="step", y_title="nats",
    ))  # fmt: skip
    report.figure(line_chart(
        {"held-out - training": ([r.step for r in trained],
                                 [float(r.loss_gap or 0) for r in trained])},
        title="Loss gap (grows when the model over-fits)", x_title="step", y_title="nats",
    ))  # fmt: skip
    health = [(r.step, r.health) for r in records if r.health is not None]
    if not health:
        report.paragraph("This run's log has no health records (written before they existed).")
        return report
    grads = [(step, h.grad_norms) for step, h in health if h.grad_norms is not None]
    if grads:
        report.figure(line_chart(
            {f"block {layer}": ([step for step, _ in grads],
                                [float(norms[layer].norm()) for _, norms in grads])
             for layer in range(grads[0][1].shape[0])},
            title="Gradient norm per block (the training step before each evaluation, "
                  "before clipping)",
            x_title="step", y_title="norm", log_y=True,
        ))  # fmt: skip
    x = [step for step, _ in health]
    entropy = [h.attention_entropy for _, h in health]
    series = {}
    for layer in range(entropy[0].shape[0]):
        series[f"layer {layer} mean"] = (x, [float(e[layer].mean()) for e in entropy])
        series[f"layer {layer} lowest head"] = (x, [float(e[layer].min()) for e in entropy])
    report.figure(line_chart(series, title="Attention entropy on held-out text (nats)",
                             x_title="step", y_title="entropy"))  # fmt: skip
    ranks = [h.effective_rank for _, h in health]
    report.figure(line_chart(
        {f"boundary {b}": (x, [rank[b] for rank in ranks]) for b in range(len(ranks[0]))},
        title="Effective rank of the stream on held-out text (boundary 0 = embeddings)",
        x_title="step", y_title="effective rank",
    ))  # fmt: skip
    return report
