"""The training-health findings page's numbers, read from a saved run (`docs/findings.py`)."""

from typing import Any

import torch

from experiments.training_health.analysis import TrainingHealthResult
from mechscope.core import MechscopeError


def findings(result: TrainingHealthResult) -> dict[str, str]:
    """Every number ``docs/findings/templates/training-health.md`` shows, formatted, by name.

    Runs are found by their labels' starts (``healthy``, ``no LayerNorm``, ``lr x10``,
    ``lr x30``); the page needs all four (the experiment's default).
    """
    config: dict[str, Any] = result.provenance.config or {}
    collapse_nats = float(config.get("collapse_nats", 0.1))
    divergence_nats = float(config.get("divergence_nats", 0.1))
    prefixes = ("healthy", "no LayerNorm", "lr x10", "lr x30")
    index = {prefix: i for prefix in prefixes for i, name in enumerate(result.runs)
             if name.startswith(prefix)}  # fmt: skip
    missing = [prefix for prefix in prefixes if prefix not in index]
    if missing:
        raise MechscopeError(
            f"the findings page needs all four runs; this one lacks {', '.join(missing)} "
            "(run the experiment with its default --recipes)."
        )
    rows = result.summary(collapse_nats, divergence_nats)
    columns = list(rows[0])
    table = "\n".join([
        "| " + " | ".join(columns) + " |",
        "|---|" + "---|" * (len(columns) - 1),
        *("| " + " | ".join(row[c] for c in columns) + " |" for row in rows),
    ])  # fmt: skip
    high, x10 = index["lr x30"], index["lr x10"]
    healthy, no_ln = index["healthy"], index["no LayerNorm"]
    collapse = result.collapse_steps(collapse_nats)[high]
    divergence = result.divergence_steps(divergence_nats)[high]
    pairs = [(c, d) for c, d in zip(collapse, divergence, strict=True)
             if c is not None and d is not None]  # fmt: skip
    first = sum(c < d for c, d in pairs)
    n_seeds = len(collapse)
    if first == n_seeds:
        verdict = "comes before the loss goes up in every seed, as Zhai et al. report"
    else:
        verdict = (f"comes before the loss goes up in {first} of {n_seeds} seeds only "
                   "(Zhai et al. report it first)")  # fmt: skip
    end = result.grad_norms[:, :, -1].mean(1)  # run layer, mean over seeds at the last log
    ratio = result.ratio()[:, :, -5:].nanmean(-1).mean(-1)  # run
    entropy = result.entropy[:, :, -1].mean(1)  # run layer
    rise = (result.held_out[high, :, -1] - result.held_out[high].amin(-1)).mean()
    flags = result.flag_counts()[high]
    return {
        "n_layers": str(config.get("n_layers", result.grad_norms.shape[-1])),
        "d_model": str(config.get("d_model", "?")),
        "n_heads": str(config.get("n_heads", "?")),
        "n_ctx": str(config.get("n_ctx", "?")),
        "batch_size": str(config.get("batch_size", "?")),
        "steps": str(config.get("steps", int(result.steps[-1]))),
        "seeds": str(result.held_out.shape[1]),
        "eval_every": str(config.get("eval_every", "?")),
        "table": table,
        "collapse_nats": f"{collapse_nats:g}",
        "divergence_nats": f"{divergence_nats:g}",
        "collapse_steps": _range([c for c in collapse if c is not None]),
        "x30_lowest_end": f"{float(result.entropy[high, :, -1].amin(-1).mean()):.3f}",
        "collapse_verdict": verdict,
        "collapse_per_seed": ", ".join("never" if c is None else str(c) for c in collapse),
        "divergence_per_seed": ", ".join("never" if d is None else str(d) for d in divergence),
        "x30_rise": f"{float(rise):.2f}",
        "x10_lowest_end": f"{float(result.entropy[x10, :, -1].amin(-1).mean()):.2f}",
        "healthy_first": f"{float(end[healthy, 0]):.2f}",
        "healthy_last": f"{float(end[healthy, -1]):.2f}",
        "no_ln_blocks": ", ".join(f"{float(v):.2f}" for v in end[no_ln]),
        "no_ln_ratio": f"{float(ratio[no_ln]):.2f}",
        "x10_ratio": f"{float(ratio[x10]):.1f}",
        "x30_ratio": f"{float(ratio[high]):.0f}",
        "x30_exploding": str(flags.get("exploding", 0)),
        "no_ln_low_entropy": _range([float(v) for v in entropy[no_ln, :3]], ".2f"),
        "ln_low_entropy": _range([float(v) for v in entropy[healthy, :3]], ".2f"),
        "uniform": f"{float(torch.log(torch.tensor(float(config.get('n_ctx', 64))))):.2f}",
    }


def _range(values: list, fmt: str = "") -> str:
    if not values:
        return "never"
    low, high = format(min(values), fmt), format(max(values), fmt)
    return low if low == high else f"{low}-{high}"
