"""A ViT on a small subset of the shapes, with each over-fitting remedy: runs, Result, report."""

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import torch
from jaxtyping import Float, Int
from torch import Tensor

from experiments.mitigation import mean_se, seed_means, stack_runs, train_runs, versus
from experiments.vit_overfitting_mitigation.config import Config
from mechscope.core import ImageBatch, Result
from mechscope.data import load_image_set
from mechscope.diagnostics import class_geometry
from mechscope.models import boundary_stream, load_model
from mechscope.training import VitRecord, VitTrainConfig, list_checkpoints
from mechscope.viz import Report, line_chart

BASELINE = "no remedy"
"""The over-fitting recipe's label: every comparison is with it."""
GEOMETRY_IMAGES = 400
"""Held-out images whose [CLS] class ratio is measured at the end."""


def recipes(cfg: Config) -> dict[str, dict[str, Any]]:
    """Each chosen run's label and its changes to the no-augmentation recipe."""
    every: dict[str, tuple[str, dict[str, Any]]] = {
        "none": (BASELINE, {}),
        "shift-crop": (f"random shifts (up to {cfg.shift} px) and crops (up to {cfg.crop} px)",
                       {"shift": cfg.shift, "crop": cfg.crop}),
        "cutmix": (f"CutMix {cfg.cutmix:g}", {"cutmix": cfg.cutmix}),
        "dropout": (f"dropout {cfg.dropout:g} (attention, residual)",
                    {"attn_dropout": cfg.dropout, "resid_dropout": cfg.dropout}),
        "weight-decay": (f"weight decay {cfg.weight_decay:g}", {"weight_decay": cfg.weight_decay}),
        "redundancy": (f"redundancy regulariser {cfg.redundancy_weight:g} (last block)",
                       {"redundancy_weight": cfg.redundancy_weight}),
    }  # fmt: skip
    return {every[slug][0]: every[slug][1] | {"slug": slug} for slug in cfg.remedies}


def recipe(cfg: Config, seed: int, **changes: Any) -> VitTrainConfig:  # noqa: ANN401
    """One run's recipe: the shipped ViT's shape, the subset, no augmentation unless changed."""
    fields: dict[str, Any] = dict(
        dataset=cfg.dataset, train_images=cfg.train_images, steps=cfg.steps, shift=0,
        n_layers=cfg.n_layers, d_model=cfg.d_model, d_mlp=2 * cfg.d_model,
        batch_size=cfg.batch_size, eval_every=cfg.eval_every,
        checkpoint_every=cfg.steps - cfg.steps % cfg.eval_every or cfg.eval_every, seed=seed,
    )  # fmt: skip
    return VitTrainConfig(**(fields | changes))


@dataclass(frozen=True)
class VitOverfittingMitigationResult(Result):
    """Per run and seed: accuracy, loss and the last block's representation over training."""

    kind: ClassVar[str] = "vit-overfitting-mitigation"
    runs: list[str]
    steps: Int[Tensor, " eval"]
    held_out_accuracy: Float[Tensor, "run seed eval"]
    train_accuracy: Float[Tensor, "run seed eval"]
    held_out_loss: Float[Tensor, "run seed eval"]
    rank: Float[Tensor, "run seed eval"]
    """Effective rank after the last block, mean over the held-out health images."""
    correlation: Float[Tensor, "run seed eval"]
    """Mean absolute feature correlation after the last block over those images' tokens."""
    class_ratio: Float[Tensor, "run seed boundary"]
    """At the end, the [CLS] vectors' class ratio at each boundary (mean distance to the
    class centroid over mean distance between centroids; lower: better separated)."""

    def verdicts(self) -> list[dict[str, str]]:
        """One row per run: accuracies and losses, and the last block's representation."""
        base = self.runs.index(BASELINE)
        final = self.held_out_accuracy[..., -1]
        gap = self.train_accuracy[..., -1] - final
        rows = []
        for i, name in enumerate(self.runs):
            rows.append({
                "run": name,
                "final held-out accuracy": mean_se(final[i]),
                "minus no remedy": versus(final, i, base),
                "best held-out accuracy": mean_se(self.held_out_accuracy[i].amax(-1)),
                "final held-out loss": mean_se(self.held_out_loss[i, :, -1]),
                "training minus held-out accuracy (end)": mean_se(gap[i]),
                "effective rank, last block (end)": mean_se(self.rank[i, :, -1]),
                "feature correlation, last block (end)": mean_se(self.correlation[i, :, -1]),
                "[CLS] class ratio, last block (end)": mean_se(self.class_ratio[i, :, -1]),
            })  # fmt: skip
        return rows

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per run, seed and evaluation."""
        import pandas as pd

        return pd.DataFrame(
            [{"run": name, "seed": s, "step": int(step),
              "held_out_accuracy": float(self.held_out_accuracy[r, s, e]),
              "train_accuracy": float(self.train_accuracy[r, s, e]),
              "held_out_loss": float(self.held_out_loss[r, s, e]),
              "effective_rank": float(self.rank[r, s, e]),
              "feature_correlation": float(self.correlation[r, s, e])}
             for r, name in enumerate(self.runs) for s in range(self.rank.shape[1])
             for e, step in enumerate(self.steps.tolist())]
        )  # fmt: skip


def logged(records: list[VitRecord]) -> dict[str, Tensor]:
    """One run's curves (the last block's representation from the health records)."""
    health = [r.health for r in records]
    if any(h is None or h.feature_correlation is None for h in health):
        raise ValueError("a run logged without the feature-redundancy records")
    return {
        "held_out_accuracy": torch.tensor([r.held_out_accuracy for r in records]),
        "train_accuracy": torch.tensor([r.train_accuracy for r in records]),
        "held_out_loss": torch.tensor([r.held_out_loss for r in records]),
        "rank": torch.tensor([h.effective_rank[-1] for h in health if h is not None]),
        "correlation": torch.tensor([h.feature_correlation[-1] for h in health
                                     if h is not None and h.feature_correlation]),
    }  # fmt: skip


@torch.no_grad()
def cls_class_ratio(run_dir: Path, train_cfg: VitTrainConfig) -> Tensor:
    """Per boundary, the class ratio of the [CLS] vectors of held-out images at the end."""
    images = load_image_set(train_cfg.dataset, seed=train_cfg.seed).part(held_out=True)
    images = images.subset(slice(0, GEOMETRY_IMAGES))
    model = load_model(list_checkpoints(run_dir)[-1][1], device="cpu")
    stream = boundary_stream(model, ImageBatch(images.pixels, train_cfg.patch))
    return torch.tensor([class_geometry(layer[:, 0], images.labels)["ratio"]
                         for layer in stream])  # fmt: skip


def run(cfg: Config) -> VitOverfittingMitigationResult:
    """Train (or read back) every run under ``cfg.out``, then measure."""
    runs = recipes(cfg)
    trained = train_runs(runs, cfg.seeds, cfg.out, partial(recipe, cfg), cfg.workers, cfg.device)
    t = stack_runs(list(runs), [
        (name, logged(records) | {"class_ratio": cls_class_ratio(run_dir, train_cfg)})
        for name, train_cfg, run_dir, records in trained
        if isinstance(train_cfg, VitTrainConfig)
    ])  # fmt: skip
    steps = [r.step for r in trained[-1][3]]
    return VitOverfittingMitigationResult(
        list(runs),
        torch.tensor(steps),
        t["held_out_accuracy"],
        t["train_accuracy"],
        t["held_out_loss"],
        t["rank"],
        t["correlation"],
        t["class_ratio"],
    ).with_provenance(cfg, f"{cfg.n_layers}-block ViTs trained here on {cfg.dataset}")


def report(result: VitOverfittingMitigationResult, cfg: Config) -> Report:
    """The table, accuracy curves, then the last block's representation over training."""
    report = Report("A ViT over-fitting a small subset: which remedies help")
    report.paragraph(
        f"The ViT recipe ({cfg.n_layers} blocks, d_model {cfg.d_model}) trained for "
        f"{cfg.steps} steps of {cfg.batch_size} images on {cfg.train_images} of the "
        f"{cfg.dataset} training images, without augmentation, then with one remedy each; "
        f"{cfg.seeds} seeds per run, means ± standard errors over seeds. Accuracy on the "
        "whole held-out split; effective rank and feature correlation after the last block "
        f"on 128 held-out images at every evaluation; the [CLS] class ratio on "
        f"{GEOMETRY_IMAGES} held-out images at the end."
    )
    rows = result.verdicts()
    report.table(list(rows[0]), [list(row.values()) for row in rows])
    x = result.steps.tolist()
    for field, title, unit in (
        ("held_out_accuracy", "Held-out accuracy", "accuracy"),
        ("train_accuracy", "Training accuracy (a fixed sample, no augmentation)", "accuracy"),
        ("held_out_loss", "Held-out loss", "nats"),
        ("rank", "Effective rank after the last block", "rank"),
        ("correlation", "Feature correlation after the last block", "mean |r|"),
    ):
        values = getattr(result, field)
        report.figure(line_chart(
            seed_means(result.runs, x, values),
            title=f"{title} (mean over seeds)", x_title="step", y_title=unit,
        ))  # fmt: skip
    boundaries = list(range(result.class_ratio.shape[-1]))
    report.figure(line_chart(
        seed_means(result.runs, boundaries, result.class_ratio),
        title="[CLS] class ratio by boundary at the end (0: embeddings)", x_title="boundary",
        y_title="ratio",
    ))  # fmt: skip
    return report
