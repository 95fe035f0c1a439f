"""The over-fitting findings page's numbers, read from a saved run (`docs/findings.py`)."""

import math
import textwrap
from pathlib import Path
from typing import Any

from torch import Tensor

from experiments.overfitting.analysis import OverfittingResult


def findings(result: OverfittingResult) -> dict[str, str]:
    """Every number ``docs/findings/templates/overfitting.md`` shows, formatted, by name."""
    config: dict[str, Any] = result.provenance.config or {}
    corpus = [Path(p) for p in config.get("corpus") or [textwrap.__file__]]
    steps = result.steps.tolist()
    seeds = result.held_out.shape[0]
    best = result.best_step()
    stops = result.stopped_at
    at = {"best": [steps.index(b) for b in best],
          "stop": [steps.index(s) if s is not None else _last(result.held_out[i])
                   for i, s in enumerate(stops)],
          "early": [steps.index(50)] * seeds}  # fmt: skip

    def span(values: list[float], fmt: str) -> str:
        low, high = min(values), max(values)
        return (
            format(low, fmt) if f"{low:{fmt}}" == f"{high:{fmt}}" else f"{low:{fmt}}-{high:{fmt}}"
        )

    stop = list(enumerate(at["stop"]))

    def measure(field: Tensor, when: str, boundary: int, fmt: str) -> str:
        return span([float(field[s, e, boundary]) for s, e in enumerate(at[when])], fmt)

    return {
        "seeds": str(seeds),
        "corpus": ", ".join(p.name for p in corpus),
        "corpus_kb": f"{sum(p.stat().st_size for p in corpus if p.exists()) / 1000:.1f}",
        "eval_every": str(config.get("eval_every", "?")),
        "patience": str(config.get("patience", "?")),
        "windows": str(config.get("windows", "?")),
        "best_steps": _same(best),
        "best_losses": " / ".join(
            f"{float(result.held_out[s, e]):.3f}" for s, e in enumerate(at["best"])
        ),  # fmt: skip
        "stops": _same(["never" if s is None else s for s in stops]),
        "stop_held_out": span([float(result.held_out[s, e]) for s, e in stop], ".2f"),
        "stop_train": span([float(result.train_loss[s, e]) for s, e in stop], ".2f"),
        "ratio_early": measure(result.ratio, "early", -1, ".2f"),
        "ratio_best": measure(result.ratio, "best", -1, ".2f"),
        "ratio_stop": measure(result.ratio, "stop", -1, ".2f"),
        "rank_early": measure(result.rank, "early", -1, ".0f"),
        "rank_best": measure(result.rank, "best", -1, ".0f"),
        "rank_stop": measure(result.rank, "stop", -1, ".0f"),
        "embed_ratio_early": measure(result.ratio, "early", 0, ".2f"),
        "embed_ratio_stop": measure(result.ratio, "stop", 0, ".2f"),
        "embed_rank_early": measure(result.rank, "early", 0, ".0f"),
        "embed_rank_stop": measure(result.rank, "stop", 0, ".0f"),
    }


def _same(values: list) -> str:
    """'250 in every seed' when all agree, else 'a / b / c'."""
    if len(set(values)) == 1:
        return f"{values[0]} in every seed"
    return " / ".join(str(v) for v in values)


def _last(row: Tensor) -> int:
    """The index of a row's last logged (non-NaN) evaluation."""
    finite = [i for i, v in enumerate(row.tolist()) if not math.isnan(v)]
    return finite[-1]
