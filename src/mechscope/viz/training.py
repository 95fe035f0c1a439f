"""The report of a training run: losses and the health logs over steps."""

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mechscope.viz.figures import line_chart
from mechscope.viz.report import Report

if TYPE_CHECKING:
    from mechscope.training.evaluation import TrainingRecord
    from mechscope.training.health import TrainingHealth
    from mechscope.training.vision import VitRecord


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
    add_health(report, health, "held-out text")
    return report


def render_vit_training(records: Sequence["VitRecord"], title: str) -> Report:
    """A ViT run: loss, held-out and training accuracy, and the health logs by step."""
    report = Report(title)
    steps = [r.step for r in records]
    trained = [r for r in records if r.train_loss is not None]
    report.figure(line_chart(
        {"held-out loss": (steps, [r.held_out_loss for r in records]),
         "training loss": ([r.step for r in trained], [float(r.train_loss or 0) for r in trained])},
        title="Loss", x_title="step", y_title="nats",
    ))  # fmt: skip
    report.figure(line_chart(
        {"held-out": (steps, [r.held_out_accuracy for r in records]),
         "training (fixed sample)": (steps, [r.train_accuracy for r in records])},
        title="Accuracy (band: ±1 standard error)", x_title="step", y_title="accuracy",
        errors={"held-out": [r.held_out_accuracy_se for r in records]},
    ))  # fmt: skip
    add_health(report, [(r.step, r.health) for r in records if r.health is not None],
               "held-out images")  # fmt: skip
    return report


def add_health(report: Report, health: Sequence[tuple[int, "TrainingHealth"]], data: str) -> None:
    """Gradient norms, attention entropy and effective rank by step (measured on ``data``)."""
    if not health:
        return
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
    report.figure(line_chart(series, title=f"Attention entropy on {data} (nats)",
                             x_title="step", y_title="entropy"))  # fmt: skip
    ranks = [h.effective_rank for _, h in health]
    report.figure(line_chart(
        {f"boundary {b}": (x, [rank[b] for rank in ranks]) for b in range(len(ranks[0]))},
        title=f"Effective rank of the stream on {data} (boundary 0 = embeddings)",
        x_title="step", y_title="effective rank",
    ))  # fmt: skip
