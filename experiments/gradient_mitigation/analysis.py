"""Unstable deep recipes beside their remedies: runs, Result, report."""

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import torch
from jaxtyping import Float
from torch import Tensor

from experiments.gradient_mitigation.config import Config
from experiments.mitigation import mean_se, seed_means, stack_runs, train_runs, versus
from experiments.training_health.analysis import TrainingHealthResult, curves, recipe
from mechscope.core import TokenBatch
from mechscope.data import load_corpus
from mechscope.diagnostics import HISTOGRAM_EDGES, gradient_norms
from mechscope.models import load_model
from mechscope.training import TrainConfig, eval_text_batch, list_checkpoints
from mechscope.viz import Report, heatmap, line_chart


def recipes(cfg: Config) -> dict[str, dict[str, Any]]:
    """Each chosen run's label and its changes to the healthy recipe."""
    high, depth = 30 * cfg.lr, {"depth_scaled_init": True}
    every: dict[str, tuple[str, dict[str, Any]]] = {
        "healthy": (f"healthy (lr {cfg.lr:g})", {}),
        "no-layernorm": ("no LayerNorm", {"layer_norm": False}),
        "no-layernorm+depth-init": ("no LayerNorm + depth-scaled init",
                                    {"layer_norm": False} | depth),
        "lr-x30": (f"lr x30 ({high:g})", {"lr": high}),
        "lr-x30+warmup-cosine": (f"lr x30 + warm-up {cfg.warmup} and cosine",
                                 {"lr": high, "warmup_steps": cfg.warmup, "schedule": "cosine"}),
        "init-x4": (f"init x{cfg.init_scale:g}", {"init_scale": cfg.init_scale}),
        "init-x4+depth-init": (f"init x{cfg.init_scale:g} + depth-scaled init",
                               {"init_scale": cfg.init_scale} | depth),
    }  # fmt: skip
    return {every[slug][0]: every[slug][1] | {"slug": slug} for slug in cfg.recipes}


PAIRS = {"no-layernorm+depth-init": "no-layernorm", "lr-x30+warmup-cosine": "lr-x30",
         "init-x4+depth-init": "init-x4"}  # fmt: skip
"""Each remedied recipe and the unstable one it is compared with."""


@dataclass(frozen=True)
class GradientMitigationResult(TrainingHealthResult):
    """`TrainingHealthResult`'s curves, and each block's gradient histogram at the end."""

    kind: ClassVar[str] = "gradient-mitigation"
    histogram: Float[Tensor, "run seed layer bin"]
    """Share of each block's gradient entries per log10 |g| bin (`HISTOGRAM_EDGES`), on the
    held-out text at the last checkpoint."""
    pairs: dict[str, str]
    """Each remedied run's label and the unstable run's it is compared with."""

    def verdicts(self) -> list[dict[str, str]]:
        """One row per run: final loss, the first/last ratio, its spread; remedy vs unremedied."""
        final = self.held_out[:, :, -1]
        late = self.ratio()[:, :, -5:].nanmean(-1)  # run seed
        norms = self.grad_norms[:, :, -5:].nanmean(2)  # run seed layer
        rows = []
        for i, name in enumerate(self.runs):
            against = self.pairs.get(name)
            j = self.runs.index(against) if against in self.runs else None
            rows.append({
                "run": name,
                "final held-out loss": mean_se(final[i]),
                "remedy minus unremedied": versus(final, i, j),
                "first/last block gradient (last 5 evals)": mean_se(late[i]),
                "largest / smallest block norm": mean_se(
                    norms[i].amax(-1) / norms[i].amin(-1)),
                "gradient flags": ", ".join(f"{k} {v}"
                                            for k, v in self.flag_counts()[i].items()),
            })  # fmt: skip
        return rows


def final_histogram(run_dir: Path, tokens: Tensor) -> Tensor:
    """Per block, the log10 |gradient| histogram of the run's last checkpoint on ``tokens``."""
    model = load_model(list_checkpoints(run_dir)[-1][1], device="cpu")
    histogram = gradient_norms(model, TokenBatch.full(tokens)).histogram
    assert histogram is not None
    return histogram


def run(cfg: Config) -> GradientMitigationResult:
    """Train (or read back) every run under ``cfg.out``, then measure."""
    runs = recipes(cfg)
    trained = train_runs(runs, cfg.seeds, cfg.out, partial(recipe, cfg), cfg.workers, cfg.device)
    train_cfg = trained[0][1]
    assert isinstance(train_cfg, TrainConfig)
    tokens = eval_text_batch(train_cfg, load_corpus(list(train_cfg.corpus) or None).held_out)
    tensors = stack_runs(list(runs), [
        (name, curves(records, cfg.n_layers) | {"histogram": final_histogram(run_dir, tokens)})
        for name, _, run_dir, records in trained
    ])  # fmt: skip
    steps = [r.step for r in trained[-1][3]]
    slugs = {changes["slug"]: name for name, changes in runs.items()}
    pairs = {slugs[fixed]: slugs[broken] for fixed, broken in PAIRS.items()
             if fixed in slugs and broken in slugs}  # fmt: skip
    return GradientMitigationResult(
        list(runs), torch.tensor(steps), tensors["held_out"], tensors["train_loss"],
        tensors["entropy"], tensors["grad_norms"], tensors["histogram"], pairs,
    ).with_provenance(cfg, f"mechscope {cfg.n_layers}-block transformers trained here")  # fmt: skip


def report(result: GradientMitigationResult, cfg: Config) -> Report:
    """The table, gradient norms per block and over steps, histograms, the loss."""
    report = Report("Unstable deep recipes and their remedies: gradients by block")
    report.paragraph(
        f"A transformer of {cfg.n_layers} blocks with MLPs (d_model {cfg.d_model}, {cfg.n_heads} "
        f"heads, context {cfg.n_ctx}, batch {cfg.batch_size}) trained for {cfg.steps} steps "
        f"on Python source, {cfg.seeds} seeds per recipe; AdamW, warm-up 50 steps unless "
        "stated, gradients clipped at norm 1 (norms logged before clipping). Each unstable "
        "recipe is followed by the same recipe with its remedy. Means ± standard errors over "
        "seeds; gradient flags: first/last ratio below 1e-2 vanishing, above 1e2 (or a norm "
        "above 1e3) exploding."
    )
    rows = result.verdicts()
    report.table(list(rows[0]), [list(row.values()) for row in rows])
    x = result.steps.tolist()
    mean = {name: i for i, name in enumerate(result.runs)}
    report.figure(line_chart(
        seed_means(result.runs, x, result.held_out),
        title="Held-out loss (mean over seeds)", x_title="step", y_title="nats",
    ))  # fmt: skip
    report.figure(line_chart(
        seed_means(result.runs, x, result.ratio()),
        title="First-block / last-block gradient norm", x_title="step", y_title="ratio",
        log_y=True,
    ))  # fmt: skip
    blocks = list(range(cfg.n_layers))
    late = result.grad_norms[:, :, -5:].nanmean(2)  # run seed layer
    report.figure(line_chart(
        seed_means(result.runs, blocks, late),
        title="Gradient norm per block, mean of the last five evaluations",
        x_title="block", y_title="norm", log_y=True,
    ))  # fmt: skip
    edges = [f"1e{int(e)}" for e in HISTOGRAM_EDGES[:-1]]
    for name, i in mean.items():
        report.figure(heatmap(
            result.histogram[i].mean(0).tolist(), x_labels=edges,
            y_labels=[f"block {b}" for b in blocks],
            title=f"{name}: share of gradient entries per |g| bin at the end",
            x_title="|gradient| from", y_title="block", value_name="share", zmin=0.0,
            annotate=False,
        ))  # fmt: skip
    return report
