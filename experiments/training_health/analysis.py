"""Training the same model healthy and broken: measurement, Result, report."""

import math
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Protocol

import torch
from jaxtyping import Float, Int
from torch import Tensor

from experiments.mitigation import mean_se, seed_means, stack_runs, train_runs
from experiments.training_health.config import Config
from mechscope.core import MechscopeError, Result
from mechscope.diagnostics import gradient_flags
from mechscope.training import TrainConfig, TrainingRecord
from mechscope.viz import Report, line_chart


def recipes(cfg: Config) -> dict[str, dict[str, Any]]:
    """Each chosen run's label and its changes to the healthy recipe."""
    every = {
        "healthy": (f"healthy (lr {cfg.lr:g})", {}),
        "no-layernorm": ("no LayerNorm", {"layer_norm": False}),
        "lr-x10": (f"lr x10 ({10 * cfg.lr:g})", {"lr": 10 * cfg.lr}),
        "lr-x30": (f"lr x30 ({30 * cfg.lr:g})", {"lr": 30 * cfg.lr}),
    }
    unknown = sorted(set(cfg.recipes) - set(every))
    if unknown:
        raise MechscopeError(f"unknown recipe {unknown[0]!r}; choose from {', '.join(every)}")
    return {every[slug][0]: every[slug][1] | {"slug": slug} for slug in cfg.recipes}


class RecipeShape(Protocol):
    """The fields `recipe` reads (this experiment's Config, and the mitigation experiments')."""

    @property
    def n_layers(self) -> int: ...  # noqa: D102

    @property
    def n_heads(self) -> int: ...  # noqa: D102

    @property
    def d_model(self) -> int: ...  # noqa: D102

    @property
    def n_ctx(self) -> int: ...  # noqa: D102

    @property
    def batch_size(self) -> int: ...  # noqa: D102

    @property
    def lr(self) -> float: ...  # noqa: D102

    @property
    def steps(self) -> int: ...  # noqa: D102

    @property
    def eval_every(self) -> int: ...  # noqa: D102

    @property
    def corpus(self) -> tuple[str, ...]: ...  # noqa: D102


def recipe(cfg: RecipeShape, seed: int, **changes: Any) -> TrainConfig:  # noqa: ANN401
    """The TrainConfig of one run."""
    fields: dict[str, Any] = dict(
        n_layers=cfg.n_layers, n_heads=cfg.n_heads, d_model=cfg.d_model, n_ctx=cfg.n_ctx,
        attn_only=False, batch_size=cfg.batch_size, lr=cfg.lr, warmup_steps=50,
        steps=cfg.steps, repeat_fraction=0.0, eval_every=cfg.eval_every,
        checkpoint_every=cfg.steps - cfg.steps % cfg.eval_every or cfg.eval_every,
        eval_prompts=8, icl_windows=8, span_min=4, span_max=16, seed=seed, corpus=cfg.corpus,
    )  # fmt: skip
    fields.update(changes)
    return TrainConfig(**fields)


@dataclass(frozen=True)
class TrainingHealthResult(Result):
    """Per recipe and seed, the logged curves (NaN where a value is not logged)."""

    kind: ClassVar[str] = "training-health"
    runs: list[str]
    steps: Int[Tensor, " eval"]
    held_out: Float[Tensor, "run seed eval"]
    train_loss: Float[Tensor, "run seed eval"]
    entropy: Float[Tensor, "run seed eval layer"]
    """Mean attention entropy over each layer's heads (nats) on the held-out text."""
    grad_norms: Float[Tensor, "run seed eval layer"]
    """Each block's gradient norm at the step before the evaluation, before clipping."""

    def first_step(self, hit: Tensor) -> list[list[int | None]]:
        """Per run and seed, the first logged step where ``hit[run, seed, eval]`` holds."""
        out = []
        for run in hit:
            row = []
            for seed in run:
                where = seed.nonzero()
                row.append(int(self.steps[where[0, 0]]) if len(where) else None)
            out.append(row)
        return out

    def collapse_steps(self, nats: float) -> list[list[int | None]]:
        """When the lowest layer's mean entropy first falls below ``nats``."""
        return self.first_step(self.entropy.amin(-1) < nats)

    def divergence_steps(self, nats: float) -> list[list[int | None]]:
        """When held-out loss first rises ``nats`` above its best so far."""
        best = self.held_out.cummin(-1).values
        return self.first_step(self.held_out > best + nats)

    def ratio(self) -> Float[Tensor, "run seed eval"]:
        """First-block / last-block gradient norm at each evaluation."""
        return self.grad_norms[..., 0] / self.grad_norms[..., -1]

    def flag_counts(self) -> list[dict[str, int]]:
        """Per run, how many logged gradients (all seeds) got each flag."""
        counts = []
        for run in self.grad_norms:
            count = {"vanishing": 0, "exploding": 0, "none": 0}
            for per_layer in run.flatten(0, 1):
                if per_layer.isnan().all():
                    continue
                flags = gradient_flags(per_layer)
                count[flags[0] if flags else "none"] += 1
            counts.append(count)
        return counts

    def summary(self, collapse_nats: float, divergence_nats: float) -> list[dict[str, str]]:
        """One row per run: final loss, gradient ratio and flags, collapse and divergence."""
        rows = []
        last = slice(-5, None)  # the last five evaluations
        collapse = self.collapse_steps(collapse_nats)
        divergence = self.divergence_steps(divergence_nats)
        for i, name in enumerate(self.runs):
            final = self.held_out[i, :, -1]
            ratio = self.ratio()[i, :, last].nanmean(-1)
            lowest = self.entropy[i, :, -1].amin(-1)
            rows.append({
                "run": name,
                "final held-out loss": mean_se(final),
                "best held-out loss": mean_se(self.held_out[i].amin(-1)),
                "first/last block gradient (last 5 evals)": mean_se(ratio),
                "gradient flags": ", ".join(f"{k} {v}" for k, v in self.flag_counts()[i].items()),
                "lowest layer entropy at the end (nats)": mean_se(lowest),
                f"entropy < {collapse_nats:g} at step (per seed)": _steps(collapse[i]),
                f"loss > best + {divergence_nats:g} at step (per seed)": _steps(divergence[i]),
            })  # fmt: skip
        return rows

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per run, seed and evaluation."""
        import pandas as pd

        ratio, lowest = self.ratio(), self.entropy.amin(-1)
        return pd.DataFrame(
            [{"run": name, "seed": seed, "step": int(step),
              "held_out_loss": float(self.held_out[r, seed, e]),
              "train_loss": float(self.train_loss[r, seed, e]),
              "grad_ratio_first_last": float(ratio[r, seed, e]),
              "lowest_layer_entropy": float(lowest[r, seed, e])}
             for r, name in enumerate(self.runs) for seed in range(self.held_out.shape[1])
             for e, step in enumerate(self.steps.tolist())]
        )  # fmt: skip


def _steps(steps: list[int | None]) -> str:
    return ", ".join("never" if s is None else str(s) for s in steps)


def curves(records: list[TrainingRecord], n_layers: int) -> dict[str, Tensor]:
    """One run's curves, NaN where nothing was logged (training loss and gradients at step 0)."""
    nan_layers = torch.full((n_layers,), math.nan)
    health = [r.health for r in records if r.health is not None]
    if len(health) != len(records):
        raise ValueError("a run without health logs")
    return {
        "held_out": torch.tensor([r.evaluation.held_out_loss for r in records]),
        "train_loss": torch.tensor([math.nan if r.train_loss is None else r.train_loss
                                    for r in records]),
        "entropy": torch.stack([h.attention_entropy.mean(-1) for h in health]),
        "grad_norms": torch.stack([nan_layers if h.grad_norms is None
                                   else h.grad_norms.norm(dim=-1) for h in health]),
    }  # fmt: skip


def trained_curves(
    cfg: RecipeShape,
    runs: dict[str, dict[str, Any]],
    seeds: int,
    out: Path,
    workers: int,
    device: str = "cpu",
) -> tuple[Int[Tensor, " eval"], dict[str, Tensor]]:
    """The logged steps, and `curves` of every seed of every run stacked ``[run, seed, ...]``.

    Each run (label: changes to `recipe`, with a ``slug``) is trained, or read back from
    ``out/runs/SLUG/seed-N`` (`experiments.mitigation.train_runs`).
    """
    trained = train_runs(runs, seeds, out, partial(recipe, cfg), workers, device)
    tensors = stack_runs(list(runs), [(name, curves(records, cfg.n_layers))
                                      for name, _, _, records in trained])  # fmt: skip
    return torch.tensor([r.step for r in trained[-1][3]]), tensors


def run(cfg: Config) -> TrainingHealthResult:
    """Train (or read back) every run under ``cfg.out``, one at a time, then measure."""
    runs = recipes(cfg)
    steps, tensors = trained_curves(cfg, runs, cfg.seeds, cfg.out, workers=1)
    return TrainingHealthResult(
        list(runs),
        steps,
        tensors["held_out"],
        tensors["train_loss"],
        tensors["entropy"],
        tensors["grad_norms"],
    ).with_provenance(cfg, f"mechscope {cfg.n_layers}-block pre-LN transformers trained here")


def report(result: TrainingHealthResult, cfg: Config) -> Report:
    """The summary table, then losses, gradients and entropy over steps."""
    report = Report("Gradient health and attention-entropy collapse over training")
    report.paragraph(
        f"The same {cfg.n_layers}-block transformer (d_model {cfg.d_model}, {cfg.n_heads} heads, "
        f"MLPs, context {cfg.n_ctx}, batch {cfg.batch_size}) trained for {cfg.steps} steps on "
        f"Python source, {cfg.seeds} seeds per recipe; AdamW, warm-up 50 steps, gradients "
        "clipped at norm 1 (norms are logged before clipping). Curves are means over seeds. "
        "Gradient flags: first/last-block ratio below 1e-2 = vanishing, above 1e2 (or a norm "
        "above 1e3) = exploding."
    )
    rows = result.summary(cfg.collapse_nats, cfg.divergence_nats)
    report.table(list(rows[0]), [list(row.values()) for row in rows])
    x = result.steps.tolist()
    mean = {name: i for i, name in enumerate(result.runs)}
    report.figure(line_chart(
        seed_means(result.runs, x, result.held_out),
        title="Held-out loss", x_title="step", y_title="nats",
    ))  # fmt: skip
    report.figure(line_chart(
        seed_means(result.runs, x, result.entropy.amin(-1)),
        title="Attention entropy of the lowest layer (mean over its heads), held-out text",
        x_title="step", y_title="nats", log_y=True,
    ))  # fmt: skip
    report.figure(line_chart(
        seed_means(result.runs, x, result.ratio()),
        title="First-block / last-block gradient norm", x_title="step", y_title="ratio",
        log_y=True,
    ))  # fmt: skip
    blocks = list(range(cfg.n_layers))
    late = result.grad_norms[:, :, -5:].nanmean(2)  # run seed layer
    n = cfg.seeds
    report.figure(line_chart(
        seed_means(result.runs, blocks, late),
        title="Gradient norm per block, mean of the last five evaluations",
        x_title="block", y_title="norm", log_y=True,
        errors={name: (late[i].std(0) / n**0.5).tolist() for name, i in mean.items()}
        if n > 1 else None,
    ))  # fmt: skip
    for name, i in mean.items():
        report.figure(line_chart(
            {f"layer {layer}": (x, result.entropy[i, :, :, layer].mean(0).tolist())
             for layer in blocks},
            title=f"{name}: attention entropy per layer (mean over heads and seeds)",
            x_title="step", y_title="nats",
        ))  # fmt: skip
    return report
