"""The tuned-lens findings page's numbers, read from a saved run (`docs/findings.py`)."""

import statistics
from typing import Any

from experiments.smollm_tuned_lens.analysis import TunedLensResult

LOGIT, LEAST_SQUARES, TUNED = "logit lens", "least squares", "tuned (KL)"
SHOWN = (0, 10, 20, 28)
"""The blocks after which the page's table reads each lens."""


def _span(values: list[float], fmt: str) -> str:
    low, high = format(min(values), fmt), format(max(values), fmt)
    return low if low == high else f"{low}-{high}"


def findings(result: TunedLensResult) -> dict[str, str]:
    """Every number ``docs/findings/templates/smollm-tuned-lens.md`` shows, by name."""
    config: dict[str, Any] = result.provenance.config or {}
    labels = result.labels
    at = {block: labels.index(f"after block {block}") for block in SHOWN}
    last_block = len(labels) - 2  # labels: embeddings, after block 0 .. after block n-1
    means = {d: {lens: result.comparison(d).mean(lens) for lens in result.lenses}
             for d in result.domains}  # fmt: skip
    sems = {d: {lens: result.comparison(d).sem(lens) for lens in result.lenses}
            for d in result.domains}  # fmt: skip

    def cells(domain: str, lens: str, fmt: str = ".3g") -> str:
        return " / ".join(format(means[domain][lens][at[b]], fmt) for b in SHOWN)

    def fold(lo: int, hi: int) -> str:
        ratios = [means[d][LOGIT][i] / means[d][LEAST_SQUARES][i]
                  for d in result.domains for i in range(at[lo], at[hi] + 1)]  # fmt: skip
        return _span(ratios, ".1f")

    pre_output = range(at[0], last_block + 1)  # every block's output but the model's own
    gains = [means[d][LEAST_SQUARES][i] - means[d][TUNED][i]
             for d in result.domains for i in pre_output]  # fmt: skip
    below = sum(g > 0 for g in gains)
    se_all = [s for d in result.domains for lens in result.lenses for s in sems[d][lens][:-1]]
    seconds = result.seconds
    per_step = config.get("batch_size", 0) * (config.get("positions") or config.get("n_ctx", 0))
    trained = per_step * config.get("steps", 1)
    firsts = {lens: result.first_top1(lens) for lens in result.lenses}
    median_first = {lens: statistics.median(v) for lens, v in firsts.items()}
    late = labels.index(f"after block {last_block - 6}") if last_block >= 6 else 0
    ranks = result.fact_rank[:, late]  # lens fact

    def where(boundary: float) -> str:
        b = round(boundary)
        return "the output" if b == len(labels) - 1 else labels[b].replace("after ", "")

    return {
        "total_s": f"{sum(seconds.values()):.0f}",
        "regression_windows": str(config.get("regression_windows", "?")),
        "least_squares_s": f"{seconds['least squares']:.0f}",
        "steps": str(config.get("steps", "?")),
        "batch_size": str(config.get("batch_size", "?")),
        "positions": str(config.get("positions", "?")),
        "kl_s": f"{seconds['KL steps']:.0f}",
        "step_s": f"{seconds['KL steps'] / max(config.get('steps', 1), 1):.1f}",
        "eval_s": f"{seconds['evaluation']:.0f}",
        "eval_windows": str(config.get("eval_windows", "?")),
        "eval_positions": str(config.get("eval_positions", "?")),
        "position_ms": f"{1000 * seconds['KL steps'] / max(trained, 1):.0f}",
        "code_logit": cells("code", LOGIT),
        "code_ls": cells("code", LEAST_SQUARES),
        "code_tuned": cells("code", TUNED),
        "english_logit": cells("english", LOGIT),
        "english_ls": cells("english", LEAST_SQUARES),
        "english_tuned": cells("english", TUNED),
        "embed": " | ".join(
            " / ".join(f"{means[d][lens][0]:.3g}" for d in ("code", "english"))
            for lens in result.lenses
        ),
        "embed_logit": " / ".join(f"{means[d][LOGIT][0]:.0f}" for d in ("code", "english")),
        "se_range": _span(se_all, ".2g"),
        "logit_range": _span(
            [
                means[d][LOGIT][i]
                for d in result.domains
                for i in range(at[0], labels.index("after block 22") + 1)
            ],
            ".0f",
        ),  # fmt: skip
        "fold_first": fold(0, 0),
        "fold_middle": fold(10, 20),
        "fold_last": fold(28, 28),
        "tuned_gain": _span(gains, ".2f"),
        "tuned_below": f"{below} of {len(gains)}",
        "n_facts": str(result.fact_rank.shape[-1]),
        "first_tuned": where(median_first[TUNED]),
        "first_ls": where(median_first[LEAST_SQUARES]),
        "first_logit": where(median_first[LOGIT]),
        "rank_block": str(last_block - 6),
        "rank_tuned": f"{float(ranks[result.lenses.index(TUNED)].median()):.0f}",
        "rank_logit": f"{float(ranks[result.lenses.index(LOGIT)].median()):.0f}",
    }
