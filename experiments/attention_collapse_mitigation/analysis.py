"""Each attention remedy alone at a learning rate that collapses attention: runs, Result, report."""

import statistics
from dataclasses import dataclass
from typing import Any, ClassVar

from experiments.attention_collapse_mitigation.config import Config
from experiments.mitigation import mean_se, seed_means, versus
from experiments.training_health.analysis import TrainingHealthResult, trained_curves
from mechscope.viz import Report, line_chart

BASELINE = "no remedy"
"""The collapsing recipe's label: every verdict compares a remedy with it."""
REFERENCE = "healthy lr"
"""The start of the healthy run's label (the reference, not a remedy)."""


def recipes(cfg: Config) -> dict[str, dict[str, Any]]:
    """Each chosen run's label and its changes to the collapsing recipe (lr x multiplier)."""
    high = cfg.lr * cfg.lr_multiplier
    every: dict[str, tuple[str, dict[str, Any]]] = {
        "healthy": (f"{REFERENCE} {cfg.lr:g} (reference)", {"lr": cfg.lr}),
        "none": (BASELINE, {}),
        "temperature": (f"temperature {cfg.temperature:g}",
                        {"attn_temperature": cfg.temperature}),
        "learned-temperature": ("learned temperature per head", {"learned_temperature": True}),
        "entropy-regulariser": (
            f"entropy floor {cfg.entropy_floor:g} nats (weight {cfg.entropy_weight:g})",
            {"entropy_floor": cfg.entropy_floor, "entropy_weight": cfg.entropy_weight}),
        "alibi": ("ALiBi positions", {"positions": "alibi"}),
        "local-window": (f"local window {cfg.window}", {"attn_window": cfg.window}),
        "qk-norm": ("QK-norm", {"qk_norm": True}),
        "sigma-reparam": ("sigma-reparam of W_Q, W_K", {"sigma_reparam": True}),
    }  # fmt: skip
    return {every[slug][0]: {"lr": high} | every[slug][1] | {"slug": slug}
            for slug in cfg.remedies}  # fmt: skip


@dataclass(frozen=True)
class CollapseMitigationResult(TrainingHealthResult):
    """Per run (the reference, the collapsing recipe, each remedy) and seed, the logged curves."""

    kind: ClassVar[str] = "attention-collapse-mitigation"

    def verdicts(self, collapse_nats: float) -> list[dict[str, str]]:
        """One row per run: collapse per seed, the verdict against `BASELINE`, the losses.

        Prevents: no seed collapses where the unremedied recipe did; prevents in k of n
        seeds: the others collapse; delays: every seed collapses, but the median first
        collapse is later than the unremedied recipe's; otherwise: does not prevent it. The
        healthy learning rate is the reference, not a remedy.
        """
        collapse = self.collapse_steps(collapse_nats)
        base = self.runs.index(BASELINE)
        after_end = int(self.steps[-1]) + 1
        base_median = statistics.median(after_end if s is None else s for s in collapse[base])
        rows = []
        for i, name in enumerate(self.runs):
            steps = collapse[i]
            collapsed = sum(s is not None for s in steps)
            median = statistics.median(after_end if s is None else s for s in steps)
            if i == base:
                verdict = "—"
            elif name.startswith(REFERENCE):
                verdict = "reference"
            elif all(s is None for s in collapse[base]):
                verdict = "no collapse to prevent"
            elif collapsed == 0:
                verdict = "prevents"
            elif collapsed < len(steps):
                verdict = f"prevents in {len(steps) - collapsed} of {len(steps)} seeds"
            elif median > base_median:
                verdict = f"delays (median step {median:g} vs {base_median:g})"
            else:
                verdict = "does not prevent it"
            final = self.held_out[i, :, -1]
            rows.append({
                "run": name,
                "seeds collapsed": f"{collapsed} of {len(steps)}",
                f"entropy < {collapse_nats:g} at step (per seed)": ", ".join(
                    "never" if s is None else str(s) for s in steps),
                "verdict": verdict,
                "lowest layer entropy at the end (nats)": mean_se(self.entropy[i, :, -1].amin(-1)),
                "best held-out loss": mean_se(self.held_out[i].amin(-1)),
                "final held-out loss": mean_se(final),
                "final minus no remedy": versus(self.held_out[:, :, -1], i, base),
            })  # fmt: skip
        return rows


def run(cfg: Config) -> CollapseMitigationResult:
    """Train (or read back) every run under ``cfg.out``, then measure."""
    runs = recipes(cfg)
    steps, tensors = trained_curves(cfg, runs, cfg.seeds, cfg.out, cfg.workers, cfg.device)
    return CollapseMitigationResult(
        list(runs),
        steps,
        tensors["held_out"],
        tensors["train_loss"],
        tensors["entropy"],
        tensors["grad_norms"],
    ).with_provenance(cfg, f"mechscope {cfg.n_layers}-block pre-LN transformers trained here")


def report(result: CollapseMitigationResult, cfg: Config) -> Report:
    """The verdict table, then held-out loss and the lowest layer's entropy over steps."""
    report = Report("Attention-entropy collapse: which remedies prevent it")
    report.paragraph(
        f"The same {cfg.n_layers}-block pre-LN transformer (d_model {cfg.d_model}, "
        f"{cfg.n_heads} heads, MLPs, context {cfg.n_ctx}, batch {cfg.batch_size}) trained for "
        f"{cfg.steps} steps of next-byte prediction on Python source, {cfg.seeds} seeds per "
        f"run, at {cfg.lr_multiplier:g}x the healthy learning rate ({cfg.lr:g}), which "
        "collapses attention; each remedy alone at that rate, beside the healthy rate as the "
        "reference. AdamW, warm-up 50 steps, gradients clipped at norm 1. Collapse: the "
        f"lowest layer's mean attention entropy on held-out text below {cfg.collapse_nats:g} "
        f"nats (logged every {cfg.eval_every} steps). Losses are means ± standard errors over "
        "seeds; the last column compares the final held-out loss with the unremedied run's."
    )
    rows = result.verdicts(cfg.collapse_nats)
    report.table(list(rows[0]), [list(row.values()) for row in rows])
    x = result.steps.tolist()
    report.figure(line_chart(
        seed_means(result.runs, x, result.held_out),
        title="Held-out loss (mean over seeds)", x_title="step", y_title="nats",
    ))  # fmt: skip
    report.figure(line_chart(
        seed_means(result.runs, x, result.entropy.amin(-1)),
        title="Attention entropy of the lowest layer (mean over its heads and the seeds)",
        x_title="step", y_title="nats", log_y=True,
    ))  # fmt: skip
    layers = list(range(cfg.n_layers))
    report.figure(line_chart(
        seed_means(result.runs, layers, result.entropy[:, :, -1]),
        title="Attention entropy per layer at the end (mean over heads and seeds)",
        x_title="layer", y_title="nats", log_y=True,
    ))  # fmt: skip
    return report
