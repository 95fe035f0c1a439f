"""Each over-fitting remedy alone on the tiny-corpus recipe: runs, Result, report."""

import math
import textwrap
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import torch
from jaxtyping import Float, Int
from torch import Tensor

from experiments.mitigation import difference, mean_se, seed_means, stack_runs, train_runs, versus
from experiments.overfitting.analysis import byte_class
from experiments.overfitting_mitigation.config import Config
from mechscope.core import Result
from mechscope.data import load_corpus
from mechscope.diagnostics import class_geometry
from mechscope.models import boundary_stream, load_model
from mechscope.training import TrainConfig, TrainingRecord, eval_text_batch, list_checkpoints
from mechscope.viz import Report, line_chart

BASELINE = "no remedy"
"""The over-fitting recipe's label: every comparison is with it."""


def recipes(cfg: Config) -> dict[str, dict[str, Any]]:
    """Each chosen run's label and its changes to the over-fitting recipe."""
    every: dict[str, tuple[str, dict[str, Any]]] = {
        "none": (BASELINE, {}),
        "early-stopping": (f"early stopping (patience {cfg.patience})",
                           {"early_stop_patience": cfg.patience}),
        "dropout": (f"dropout {cfg.dropout:g} (attention, residual)",
                    {"attn_dropout": cfg.dropout, "resid_dropout": cfg.dropout}),
        "weight-decay": (f"weight decay {cfg.weight_decay:g}", {"weight_decay": cfg.weight_decay}),
        "token-noise": (f"token noise {cfg.token_noise:g}", {"token_noise": cfg.token_noise}),
        "redundancy": (f"redundancy regulariser {cfg.redundancy_weight:g} (last block)",
                       {"redundancy_weight": cfg.redundancy_weight}),
    }  # fmt: skip
    return {every[slug][0]: every[slug][1] | {"slug": slug} for slug in cfg.remedies}


def recipe(cfg: Config, seed: int, **changes: Any) -> TrainConfig:  # noqa: ANN401
    """One run's recipe: the over-fitting experiment's, for a fixed number of steps."""
    fields: dict[str, Any] = dict(
        attn_only=False, repeat_fraction=0.0, steps=cfg.steps, eval_every=cfg.eval_every,
        checkpoint_every=cfg.steps - cfg.steps % cfg.eval_every or cfg.eval_every,
        icl_windows=16, eval_prompts=cfg.windows, seed=seed, batch_size=cfg.batch_size,
        d_model=cfg.d_model, corpus=tuple(cfg.corpus or (textwrap.__file__,)),
    )  # fmt: skip
    return TrainConfig(**(fields | changes))


@dataclass(frozen=True)
class OverfittingMitigationResult(Result):
    """Per run and seed, the logged curves (NaN after an early stop) and the final geometry."""

    kind: ClassVar[str] = "overfitting-mitigation"
    runs: list[str]
    steps: Int[Tensor, " eval"]
    held_out: Float[Tensor, "run seed eval"]
    train_loss: Float[Tensor, "run seed eval"]
    rank: Float[Tensor, "run seed eval boundary"]
    """Effective rank of each held-out window's stream, mean over the windows."""
    correlation: Float[Tensor, "run seed eval boundary"]
    """Mean absolute off-diagonal feature correlation over the held-out tokens."""
    components: Float[Tensor, "run seed eval boundary"]
    """Principal components holding 90 % of the held-out tokens' variance."""
    class_ratio: Float[Tensor, "run seed boundary"]
    """At the last checkpoint: mean distance to the byte-class centroid over mean distance
    between centroids (lower: classes better separated)."""

    def last(self, values: Tensor) -> Tensor:
        """``values[run, seed, eval, ...]`` at each run and seed's last logged evaluation."""
        logged = ~self.held_out.isnan()  # run seed eval
        index = logged.long().cumsum(-1).argmax(-1)  # the last True
        gather = index.reshape(*index.shape, 1, *([1] * (values.ndim - 3)))
        gather = gather.expand(*index.shape, 1, *values.shape[3:])
        return values.gather(2, gather).squeeze(2)

    def verdicts(self) -> list[dict[str, str]]:
        """One row per run: losses, and the last block's representation at the end."""
        base = self.runs.index(BASELINE)
        final = self.last(self.held_out)  # run seed
        gap = final - self.last(self.train_loss)
        rank, corr = self.last(self.rank)[..., -1], self.last(self.correlation)[..., -1]
        ratio = self.class_ratio[..., -1]
        rows = []
        for i, name in enumerate(self.runs):
            rows.append({
                "run": name,
                "best held-out loss": mean_se(self.held_out[i].nan_to_num(math.inf).amin(-1)),
                "final held-out loss": mean_se(final[i]),
                "final minus no remedy": versus(final, i, base),
                "held-out minus training loss (end)": mean_se(gap[i]),
                "effective rank, last block (end)": mean_se(rank[i]),
                "minus no remedy": versus(rank, i, base),
                "feature correlation, last block (end)": mean_se(corr[i]),
                "class ratio, last block (end)": mean_se(ratio[i]),
                "class ratio minus no remedy": versus(ratio, i, base),
            })  # fmt: skip
        return rows

    def differences(self) -> dict[str, dict[str, tuple[float, float]]]:
        """Per run, (mean difference from the baseline, its standard error) of the end values.

        Keys: ``loss`` (final held-out), ``gap`` (held-out minus training), ``rank``,
        ``correlation`` (last block, at the last evaluation) and ``class_ratio`` (last block,
        last checkpoint).
        """
        base = self.runs.index(BASELINE)
        final = self.last(self.held_out)
        values = {
            "loss": final,
            "gap": final - self.last(self.train_loss),
            "rank": self.last(self.rank)[..., -1],
            "correlation": self.last(self.correlation)[..., -1],
            "class_ratio": self.class_ratio[..., -1],
        }
        out: dict[str, dict[str, tuple[float, float]]] = {}
        for i, name in enumerate(self.runs):
            out[name] = {}
            for key, v in values.items():
                out[name][key] = difference(v, i, base)
        return out

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per run, seed, evaluation and boundary."""
        import pandas as pd

        return pd.DataFrame(
            [{"run": name, "seed": s, "step": int(step), "boundary": b,
              "held_out_loss": float(self.held_out[r, s, e]),
              "train_loss": float(self.train_loss[r, s, e]),
              "effective_rank": float(self.rank[r, s, e, b]),
              "feature_correlation": float(self.correlation[r, s, e, b]),
              "components_90": float(self.components[r, s, e, b])}
             for r, name in enumerate(self.runs) for s in range(self.held_out.shape[1])
             for e, step in enumerate(self.steps.tolist())
             for b in range(self.rank.shape[-1])]
        )  # fmt: skip


def logged(records: list[TrainingRecord], n_evals: int, n_boundaries: int) -> dict[str, Tensor]:
    """One run's curves, NaN-padded to ``n_evals`` evaluations (a run that stopped early)."""
    out = {key: torch.full((n_evals,), math.nan) for key in ("held_out", "train_loss")}
    out |= {key: torch.full((n_evals, n_boundaries), math.nan)
            for key in ("rank", "correlation", "components")}  # fmt: skip
    for e, record in enumerate(records):
        health = record.health
        if health is None or health.feature_correlation is None or health.components_90 is None:
            raise ValueError("a run logged without the feature-redundancy records")
        out["held_out"][e] = record.evaluation.held_out_loss
        out["train_loss"][e] = math.nan if record.train_loss is None else record.train_loss
        out["rank"][e] = torch.tensor(health.effective_rank)
        out["correlation"][e] = torch.tensor(health.feature_correlation)
        out["components"][e] = torch.tensor(health.components_90, dtype=torch.float)
    return out


@torch.no_grad()
def final_class_ratio(run_dir: Path, tokens: Int[Tensor, "batch pos"]) -> Tensor:
    """Per boundary, the byte-class distance ratio of the run's last checkpoint."""
    labels = torch.tensor([[byte_class(t) for t in row] for row in tokens.tolist()])
    keep = labels >= 0
    model = load_model(list_checkpoints(run_dir)[-1][1], device="cpu")
    stream = boundary_stream(model, tokens)
    return torch.tensor([class_geometry(layer[keep], labels[keep])["ratio"] for layer in stream])


def run(cfg: Config) -> OverfittingMitigationResult:
    """Train (or read back) every run under ``cfg.out``, then measure."""
    runs = recipes(cfg)
    trained = train_runs(runs, cfg.seeds, cfg.out, partial(recipe, cfg), cfg.workers, cfg.device)
    n_evals = cfg.steps // cfg.eval_every + 1
    train_cfg = trained[0][1]
    assert isinstance(train_cfg, TrainConfig)
    n_boundaries = train_cfg.n_layers + 1
    tokens = eval_text_batch(train_cfg, load_corpus(list(train_cfg.corpus)).held_out)
    tensors = stack_runs(list(runs), [
        (name, logged(records, n_evals, n_boundaries)
         | {"class_ratio": final_class_ratio(run_dir, tokens)})
        for name, _, run_dir, records in trained
    ])  # fmt: skip
    steps = torch.arange(n_evals) * cfg.eval_every
    return OverfittingMitigationResult(
        list(runs), steps, tensors["held_out"], tensors["train_loss"], tensors["rank"],
        tensors["correlation"], tensors["components"], tensors["class_ratio"],
    ).with_provenance(cfg, "2-block byte-level transformers trained here")  # fmt: skip


def report(result: OverfittingMitigationResult, cfg: Config) -> Report:
    """The table, the loss curves, then the representations over training and by layer."""
    report = Report("Over-fitting a tiny corpus: which remedies help, and the representations")
    report.paragraph(
        f"A 2-block transformer with MLPs (d_model {cfg.d_model}) trained for {cfg.steps} steps "
        "on one small file (its last 5 % held out), as is and with one remedy each; "
        f"{cfg.seeds} seeds per run, means ± standard errors over seeds. The stream is "
        f"measured on {cfg.windows} held-out windows at every evaluation (effective rank, "
        "feature correlation, components for 90 % of the variance) and at the last checkpoint "
        "(class ratio: mean distance to the byte-class centroid over mean distance between "
        "centroids, letter / digit / white space / punctuation). Early stopping ends at its "
        "stop; its values are at that step."
    )
    rows = result.verdicts()
    report.table(list(rows[0]), [list(row.values()) for row in rows])
    x = result.steps.tolist()
    report.figure(line_chart(
        seed_means(result.runs, x, result.held_out),
        title="Held-out loss (mean over seeds)", x_title="step", y_title="nats",
    ))  # fmt: skip
    report.figure(line_chart(
        seed_means(result.runs, x, result.train_loss),
        title="Training loss (mean over seeds)", x_title="step", y_title="nats",
    ))  # fmt: skip
    for field, title in (
        ("rank", "Effective rank after the last block"),
        ("correlation", "Feature correlation after the last block"),
        ("components", "Components for 90 % of the variance, last block"),
    ):
        values = getattr(result, field)[..., -1]  # run seed eval
        report.figure(line_chart(
            seed_means(result.runs, x, values),
            title=f"{title} (held-out windows, mean over seeds)", x_title="step", y_title=field,
        ))  # fmt: skip
    boundaries = list(range(result.class_ratio.shape[-1]))
    report.figure(line_chart(
        seed_means(result.runs, boundaries, result.class_ratio),
        title="Class ratio by boundary at the end (0: embeddings)", x_title="boundary",
        y_title="ratio",
    ))  # fmt: skip
    report.figure(line_chart(
        seed_means(result.runs, boundaries, result.last(result.rank)),
        title="Effective rank by boundary at the end", x_title="boundary", y_title="rank",
    ))  # fmt: skip
    return report
