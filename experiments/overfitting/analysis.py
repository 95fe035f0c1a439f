"""Over-fitting on a tiny corpus: measurement, Result, report."""

import math
import string
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from experiments.overfitting.config import Config
from experiments.runs import trained_records
from mechscope.core import Result
from mechscope.data import load_corpus
from mechscope.diagnostics import class_geometry
from mechscope.models import boundary_stream, load_model
from mechscope.training import TrainConfig, eval_text_batch, list_checkpoints
from mechscope.viz import Report, line_chart

CLASSES = ("letter", "digit", "white space", "punctuation")


def byte_class(token: int) -> int:
    """The `CLASSES` index of a byte token, -1 for anything else (BOS, non-ASCII, control)."""
    if token > 127:
        return -1
    char = chr(token)
    for i, chars in enumerate((string.ascii_letters, string.digits, " \t\n", string.punctuation)):
        if char in chars:
            return i
    return -1


def recipe(cfg: Config, seed: int) -> TrainConfig:
    """One run's recipe."""
    corpus = cfg.corpus or (textwrap.__file__,)
    return TrainConfig(
        attn_only=False, repeat_fraction=0.0, steps=cfg.steps, eval_every=cfg.eval_every,
        checkpoint_every=cfg.eval_every, early_stop_patience=cfg.patience, icl_windows=16,
        eval_prompts=cfg.windows, seed=seed, batch_size=cfg.batch_size, corpus=tuple(corpus),
    )  # fmt: skip


@torch.no_grad()
def geometry(run_dir: Path, tokens: Int[Tensor, "batch pos"]) -> dict[str, Tensor]:
    """Per checkpoint and boundary: the class-distance ratio and the effective rank."""
    labels = torch.tensor([[byte_class(t) for t in row] for row in tokens.tolist()])
    keep = labels >= 0
    ratio, rank = [], []
    for _, path in list_checkpoints(run_dir):
        model = load_model(path, device="cpu")
        stream = boundary_stream(model, tokens)  # boundary batch pos d_model
        stats = [class_geometry(layer[keep], labels[keep]) for layer in stream]
        ratio.append([s["ratio"] for s in stats])
        rank.append([s["effective_rank"] for s in stats])
    return {"ratio": torch.tensor(ratio), "rank": torch.tensor(rank)}


@dataclass(frozen=True)
class OverfittingResult(Result):
    """Per seed, the logged losses and the geometry at every checkpoint (NaN after a stop)."""

    kind: ClassVar[str] = "overfitting"
    steps: Int[Tensor, " eval"]
    held_out: Float[Tensor, "seed eval"]
    train_loss: Float[Tensor, "seed eval"]
    ratio: Float[Tensor, "seed eval boundary"]
    """Mean intra-class distance / mean distance between class centroids."""
    rank: Float[Tensor, "seed eval boundary"]
    """Effective rank (Roy & Vetterli) of the centred token representations."""
    stopped_at: list[int | None]
    """The step early stopping ended each seed's run at (None: it ran all its steps)."""

    def _summary(self) -> dict[str, Any]:
        return {"best_step": self.best_step()}

    def best_step(self) -> list[int]:
        """Per seed, the step of the lowest held-out loss."""
        return [int(self.steps[int(row.nan_to_num(math.inf).argmin())]) for row in self.held_out]

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per seed, evaluation and boundary."""
        import pandas as pd

        return pd.DataFrame(
            [{"seed": seed, "step": int(step), "boundary": b,
              "held_out_loss": float(self.held_out[seed, e]),
              "train_loss": float(self.train_loss[seed, e]),
              "class_ratio": float(self.ratio[seed, e, b]),
              "effective_rank": float(self.rank[seed, e, b])}
             for seed in range(self.held_out.shape[0])
             for e, step in enumerate(self.steps.tolist()) for b in range(self.ratio.shape[-1])]
        )  # fmt: skip


def _padded(rows: list[Tensor], length: int) -> Tensor:
    """Stack rows of different lengths (first dimension), padding with NaN."""
    out = torch.full((len(rows), length, *rows[0].shape[1:]), math.nan)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def run(cfg: Config) -> OverfittingResult:
    """Train (or read back) every seed, measure the checkpoints, save, write the report."""
    per_seed: dict[str, list[Tensor]] = {"held_out": [], "train_loss": [], "ratio": [], "rank": []}
    stopped: list[int | None] = []
    longest: list[int] = []
    for seed in tqdm(range(cfg.seeds), desc="seeds"):
        train_cfg = recipe(cfg, seed)
        run_dir = cfg.out / "runs" / f"seed-{seed}"
        records = trained_records(train_cfg, run_dir)
        steps = [r.step for r in records]
        longest = max(longest, steps, key=len)
        stopped.append(steps[-1] if steps[-1] < cfg.steps else None)
        corpus = load_corpus(list(train_cfg.corpus))
        measured = geometry(run_dir, eval_text_batch(train_cfg, corpus.held_out))
        # Checkpoints exist from the first evaluation on; step 0 has none.
        nan_row = torch.full((1, measured["ratio"].shape[1]), math.nan)
        per_seed["ratio"].append(torch.cat([nan_row, measured["ratio"]]))
        per_seed["rank"].append(torch.cat([nan_row, measured["rank"]]))
        per_seed["held_out"].append(torch.tensor([r.evaluation.held_out_loss for r in records]))
        per_seed["train_loss"].append(torch.tensor(
            [math.nan if r.train_loss is None else r.train_loss for r in records]
        ))  # fmt: skip
    n = len(longest)
    padded = {k: _padded(v, n) for k, v in per_seed.items()}
    return OverfittingResult(
        torch.tensor(longest), padded["held_out"], padded["train_loss"], padded["ratio"],
        padded["rank"], stopped,
    ).with_provenance(cfg, "2-block byte-level transformers trained here")  # fmt: skip


def report(result: OverfittingResult, cfg: Config) -> Report:
    """Losses with the stops, then class geometry and rank per boundary over steps."""
    report = Report("Over-fitting a tiny corpus: the early-stopping signal and the representations")
    report.paragraph(
        f"{cfg.seeds} runs (one seed each) of a 2-block transformer with MLPs on one small file, "
        f"its last 5% held out; early stopping after {cfg.patience} evaluations of rising "
        "held-out loss with falling training loss. At every checkpoint, the held-out tokens "
        f"({cfg.windows} windows) are labelled letter / digit / white space / punctuation and the "
        "stream at each boundary measured. Class ratio: mean distance to the class centroid over "
        "mean distance between centroids (lower = classes better separated)."
    )
    report.table(
        ["seed", "best held-out loss at step", "stopped at step", "best held-out loss",
         "last held-out loss", "last training loss"],
        [[seed, best, "never" if stop is None else stop,
          f"{float(result.held_out[seed].nan_to_num(math.inf).min()):.3f}",
          f"{float(_last(result.held_out[seed])):.3f}",
          f"{float(_last(result.train_loss[seed])):.3f}"]
         for seed, (best, stop) in enumerate(zip(result.best_step(), result.stopped_at,
                                                 strict=True))],
    )  # fmt: skip
    x = result.steps.tolist()
    series = {}
    for seed in range(result.held_out.shape[0]):
        series[f"seed {seed} held-out"] = (x, result.held_out[seed].tolist())
        series[f"seed {seed} training"] = (x, result.train_loss[seed].tolist())
    by_step: dict[int, list[str]] = {}
    for seed, stop in enumerate(result.stopped_at):
        if stop is not None:
            by_step.setdefault(stop, []).append(str(seed))
    markers = [(stop, f"stop (seeds {', '.join(seeds)})") for stop, seeds in by_step.items()]
    report.figure(line_chart(series, title="Loss", x_title="step", y_title="nats",
                             markers=markers))  # fmt: skip
    for field, title in (("ratio", "Class ratio (intra / inter distance)"),
                         ("rank", "Effective rank of the held-out tokens")):  # fmt: skip
        values = getattr(result, field)
        report.figure(line_chart(
            {f"boundary {b}": (x, values[:, :, b].nanmean(0).tolist())
             for b in range(values.shape[-1])},
            title=f"{title} per boundary, mean over seeds (boundary 0 = embeddings)",
            x_title="step", y_title=field, markers=markers,
        ))  # fmt: skip
    return report


def _last(row: Tensor) -> Tensor:
    return row[~row.isnan()][-1]
