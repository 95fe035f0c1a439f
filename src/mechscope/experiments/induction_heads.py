"""Reproduce the induction-head findings (Elhage et al. 2021; Olsson et al. 2022).

A 2-layer and a 1-layer attention-only byte-level model, trained with the same recipe
(`mechscope.training`), show:

1. the phase change: in the 2-layer model the loss on the second copy of repeated random
   tokens drops suddenly, at the step where the induction scores jump and the ICL score
   falls, with a visible bump in the training loss curve;
2. the 1-layer model never forms induction heads;
3. the mechanism: a layer-0 previous-token head and a layer-1 induction head, joined by
   K-composition well above the random-matrix baseline;
4. ablating the induction heads (zero and mean) puts the repeated-half loss back near the
   first-half loss and removes most of the ICL score; ablating other heads does not;
5. their attention patterns on a repeated sequence (circuitsvis).

The models come from the checkpoints shipped in the package (default), from a directory of
saved runs (``from_checkpoints``), or are retrained from scratch (``train``).
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jaxtyping import Float
from torch import Tensor

from mechscope.axes import HeadId
from mechscope.errors import MechscopeError
from mechscope.models.bundled import INDUCTION_1L, INDUCTION_2L
from mechscope.results import load_result, save_result

MODELS = (INDUCTION_2L, INDUCTION_1L)


@dataclass(frozen=True, kw_only=True)
class Config:
    """Where the models come from and where the report goes."""

    train: bool = False
    """Retrain both models from scratch (into ``out_dir/runs``) instead of loading them."""
    steps: int | None = None
    """Training steps when ``train`` (default: the recipe's)."""
    from_checkpoints: Path | None = None
    """A directory holding ``induction-2l/`` and ``induction-1l/`` runs to rebuild from."""
    out_dir: Path = Path("results/induction")
    """Where result.json, tensors.safetensors and report.html go."""
    eval_prompts: int = 64
    """Prompts in each analysis batch (held-out text; repeated random tokens)."""
    threshold: float = 0.4
    """A head is called an induction head when its induction score is at least this."""
    previous_token_threshold: float = 0.3
    """A layer-0 head is called a previous-token head when its previous-token score (on
    repeated random tokens) is at least this; lower than ``threshold`` because small models
    spread that job over heads (the shipped model's strongest scores 0.385)."""


@dataclass(frozen=True)
class PhaseChange:
    """Where the 2-layer model's phase change happened, and what changed across it."""

    loss_drop_step: int
    """Step ending the steepest drop of the repeated second-half loss between evaluations."""
    induction_jump_step: int
    """Step ending the steepest rise of the best induction score."""
    before: dict[str, float]
    """Metrics at the evaluation ``window`` evaluations before the loss drop."""
    after: dict[str, float]
    """Metrics at the evaluation ``window`` evaluations after it."""


@dataclass(frozen=True)
class Result:
    """Everything the report shows, as JSON-able values and tensors."""

    metrics: dict[str, list[dict[str, Any]]]
    """Per model, every logged evaluation of its training run."""
    train_configs: dict[str, dict[str, Any]]
    phase_change: PhaseChange
    head_scores: dict[str, dict[str, list[list[float]]]]
    """Per model, per score kind, [layer][head] on fresh analysis prompts: induction and
    previous_token on repeated random tokens, previous_token_text and prefix_matching on
    held-out text."""
    losses: dict[str, dict[str, float]]
    """Per model: held-out loss, ICL score, repeated first/second-half loss."""
    induction_heads: list[HeadId]
    previous_token_heads: list[HeadId]
    k_composition: Float[Tensor, "head later_head"]
    """Layer-0 head -> layer-1 head K-composition scores of the 2-layer model."""
    k_composition_baseline: float
    ablations: list[dict[str, Any]]
    """One row per ablation: heads, how, and the metrics with those heads ablated."""
    view_tokens: list[str]
    view_patterns: Float[Tensor, "layer head dest_pos src_pos"]
    """The 2-layer model's attention on a repeated sequence of letters."""

    def __post_init__(self) -> None:
        n = len(self.view_tokens)
        if self.view_patterns.shape[-2:] != (n, n):
            raise ValueError(f"view patterns {tuple(self.view_patterns.shape)} vs {n} tokens")
        if self.k_composition.ndim != 2:
            raise ValueError("k_composition must be [layer-0 head, layer-1 head]")

    def save(self, directory: str | Path) -> Path:
        """result.json (every figure's data) + tensors.safetensors."""
        meta = {
            "metrics": self.metrics,
            "train_configs": self.train_configs,
            "phase_change": vars(self.phase_change),
            "head_scores": self.head_scores,
            "losses": self.losses,
            "induction_heads": [str(h) for h in self.induction_heads],
            "previous_token_heads": [str(h) for h in self.previous_token_heads],
            "k_composition": self.k_composition.tolist(),
            "k_composition_baseline": self.k_composition_baseline,
            "ablations": self.ablations,
            "view_tokens": self.view_tokens,
        }
        tensors = {"k_composition": self.k_composition, "view_patterns": self.view_patterns}
        return save_result(directory, tensors, meta)

    @classmethod
    def load(cls, directory: str | Path) -> "Result":
        """Read back what `save` wrote."""
        tensors, meta = load_result(directory)
        return cls(
            metrics=meta["metrics"],
            train_configs=meta["train_configs"],
            phase_change=PhaseChange(**meta["phase_change"]),
            head_scores=meta["head_scores"],
            losses=meta["losses"],
            induction_heads=[HeadId.parse(h) for h in meta["induction_heads"]],
            previous_token_heads=[HeadId.parse(h) for h in meta["previous_token_heads"]],
            k_composition=tensors["k_composition"],
            k_composition_baseline=meta["k_composition_baseline"],
            ablations=meta["ablations"],
            view_tokens=meta["view_tokens"],
            view_patterns=tensors["view_patterns"],
        )


def run(cfg: Config) -> Result:
    """Get the two models, analyse them, save the result and write ``report.html``."""
    from mechscope.experiments.induction_analysis import analyse, run_dirs
    from mechscope.viz.induction import render

    dirs = run_dirs(cfg)
    result = analyse(dirs, cfg)
    result.save(cfg.out_dir)
    render(result).save(cfg.out_dir / "report.html")
    return result


def heads_above(scores: list[list[float]], threshold: float) -> list[HeadId]:
    """Heads whose score is at least ``threshold``, in (layer, head) order."""
    return [
        HeadId(layer, head)
        for layer, row in enumerate(scores)
        for head, value in enumerate(row)
        if value >= threshold
    ]


def find_phase_change(metrics: list[dict[str, Any]], window: int = 5) -> PhaseChange:
    """Locate the steepest drop of the repeated second-half loss and of the induction jump."""
    if len(metrics) < 3:
        raise MechscopeError("a run needs at least 3 logged evaluations to locate a phase change.")
    second = [r["repeat_second_half_loss"] for r in metrics]
    best = [max(max(row) for row in r["induction_score"]) for r in metrics]
    drop = max(range(1, len(metrics)), key=lambda i: second[i - 1] - second[i])
    jump = max(range(1, len(metrics)), key=lambda i: best[i] - best[i - 1])
    keys = ("train_loss", "held_out_loss", "icl_score", "repeat_first_half_loss")
    keys += ("repeat_second_half_loss",)

    def snapshot(i: int) -> dict[str, float]:
        record = metrics[min(max(i, 0), len(metrics) - 1)]
        out = {k: record[k] for k in keys if record.get(k) is not None}
        return out | {"step": record["step"], "best_induction_score": best[metrics.index(record)]}

    return PhaseChange(
        loss_drop_step=metrics[drop]["step"],
        induction_jump_step=metrics[jump]["step"],
        before=snapshot(drop - window),
        after=snapshot(drop + window),
    )
