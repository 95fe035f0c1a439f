"""The rank-collapse findings page's numbers, read from a saved run (`docs/findings.py`)."""

import math
from typing import Any

from torch import Tensor

from experiments.rank_collapse.analysis import RankCollapseResult

RANDOM_COLUMNS = (0, 1, 3, 6, 9, 12)
TRAINED_COLUMNS = (0, 3, 6, 9, 12)


def findings(result: RankCollapseResult) -> dict[str, str]:
    """Every number ``docs/findings/templates/rank-collapse.md`` shows, formatted, by name."""
    config: dict[str, Any] = result.provenance.config or {}
    n_layers = result.with_skips.shape[0] - 1
    random_rows = {
        "causal, with skips": result.with_skips,
        "causal, without skips": result.without_skips,
        **{f"bidirectional, {k}": v for k, v in result.bidirectional.items()},
    }
    columns = [c for c in RANDOM_COLUMNS if c <= n_layers]
    header = " | ".join(_boundary(c, n_layers) for c in columns)
    random_table = "\n".join([
        f"| res(X), mean ± s.e. over {result.with_skips.shape[1]} seeds, by boundary | {header} |",
        "|---|" + "---|" * len(columns),
        *(f"| {name} | " + " | ".join(_cell(values[c]) for c in columns) + " |"
          for name, values in random_rows.items()),
    ])  # fmt: skip
    trained_columns = [c for c in TRAINED_COLUMNS if c <= n_layers]
    seeds = next(iter(result.after_training.values())).shape[1] if result.after_training else 0
    trained_table = "\n".join([
        f"| res(X), mean ± s.e. over {seeds} seeds | "
        + " | ".join("embeddings" if c == 0 else str(c) for c in trained_columns) + " |",
        "|---|" + "---|" * len(trained_columns),
        *(f"| {name} | " + " | ".join(_cell(values[c]) for c in trained_columns) + " |"
          for name, values in result.after_training.items()),
    ])  # fmt: skip
    bidirectional = result.bidirectional["without skips"].mean(-1)
    zero_from = next(
        (b for b in range(len(bidirectional)) if float(bidirectional[b:].abs().max()) == 0), None
    )  # noqa: E501
    causal_without = result.without_skips.mean(-1)
    trained = {k: v.mean(-1) for k, v in result.after_training.items()}
    middle = min(9, n_layers)
    return {
        "seeds": str(config.get("seeds", result.with_skips.shape[1])),
        "n_layers": str(n_layers),
        "d_model": str(config.get("d_model", "?")),
        "n_heads": str(config.get("n_heads", "?")),
        "n_prompts": str(config.get("n_prompts", "?")),
        "length": str(config.get("length", "?")),
        "train_steps": str(config.get("train_steps", "?")),
        "train_seeds": str(seeds),
        "random_table": random_table,
        "trained_table": trained_table,
        "bidi_one": f"{float(bidirectional[1]):.3g}",
        "bidi_two": f"{float(bidirectional[2]):.1g}",
        "bidi_zero_from": str(zero_from) if zero_from is not None else "never",
        "bidi_with_last": f"{float(result.bidirectional['with skips'].mean(-1)[-1]):.2f}",
        "causal_with_last": f"{float(result.with_skips.mean(-1)[-1]):.2f}",
        "factor_first": f"{float(causal_without[1] / causal_without[0]):.2f}",
        "factor_last": f"{float(causal_without[-1] / causal_without[-2]):.2f}",
        "middle": str(middle),
        "trained_middle": f"{float(trained['trained, with skips'][middle]):.2f}",
        "init_middle": f"{float(trained['initialisation, with skips'][middle]):.2f}",
        "deeper": f"{float(trained['initialisation, without skips'][-1] / trained['trained, without skips'][-1]):.0f}",  # noqa: E501
        "trained_last": f"{float(trained['trained, without skips'][-1]):.1g}",
        "init_last": f"{float(trained['initialisation, without skips'][-1]):.2g}",
        "shipped": ", ".join(
            f"{name} " + " / ".join(f"{v:.2f}" for v in values)
            for name, values in result.trained.items()
        ),
    }


def _boundary(b: int, n_layers: int) -> str:
    if b == 0:
        return "0 (embeddings)"
    if b == 1:
        return "1 (after block 0)"
    return f"{b} (after the last)" if b == n_layers else str(b)


def _cell(values: Tensor) -> str:
    """Mean ± standard error over seeds, to the standard error's first significant digit."""
    mean = float(values.mean())
    se = float(values.std() / values.numel() ** 0.5) if values.numel() > 1 else 0.0
    if mean == 0 and se == 0:
        return "0"
    if se == 0:
        return f"{mean:.3g}"
    decimals = min(6, max(2, -math.floor(math.log10(se))))
    return f"{mean:.{decimals}f} ± {se:.{decimals}f}"
