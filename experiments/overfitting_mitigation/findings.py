"""The over-fitting mitigation page's numbers, read from a saved run (`docs/findings.py`)."""

import math
from typing import Any

from experiments.findings_tables import markdown_table
from experiments.overfitting_mitigation.analysis import BASELINE, OverfittingMitigationResult


def findings(result: OverfittingMitigationResult) -> dict[str, str]:
    """Every number ``docs/findings/templates/overfitting-mitigation.md`` shows, by name."""
    config: dict[str, Any] = result.provenance.config or {}
    differences = result.differences()

    def runs_where(key: str, sign: int) -> list[str]:
        """Runs whose end value differs from the baseline's by over 2 standard errors."""
        return [name for name, d in differences.items() if name != BASELINE
                and sign * d[key][0] > 2 * d[key][1]]  # fmt: skip

    helps = runs_where("loss", -1)

    def say(names: list[str]) -> str:
        return ", ".join(names) if names else "none"

    best = result.held_out[result.runs.index(BASELINE)].nan_to_num(math.inf).argmin(-1)

    def diff(name: str, key: str) -> str:
        d = differences.get(name)
        return "not run" if d is None else f"{d[key][0]:+.3g} ± {d[key][1]:.2g}"

    redundancy = next((n for n in result.runs if n.startswith("redundancy")), "")
    stopping = next((n for n in result.runs if n.startswith("early stopping")), None)
    stops = []
    if stopping is not None:
        logged = ~result.held_out[result.runs.index(stopping)].isnan()  # seed eval
        last = [int(result.steps[int(row.nonzero().max())]) for row in logged]
        stops = [step for step in last if step < int(result.steps[-1])]
    no_effect = [n for n, d in differences.items()
                 if n != BASELINE and abs(d["loss"][0]) <= 2 * d["loss"][1]]  # fmt: skip
    return {
        "no_effect": say(no_effect),
        "redundancy_correlation": diff(redundancy, "correlation"),
        "redundancy_rank": diff(redundancy, "rank"),
        "redundancy_ratio": diff(redundancy, "class_ratio"),
        "redundancy_loss": diff(redundancy, "loss"),
        "stopped": f"{len(stops)} of {result.held_out.shape[1]}",
        "stop_steps": ", ".join(map(str, stops)) or "none",
        "stopping_loss": diff(stopping or "", "loss"),
        "helps": say(helps),
        "hurts": say(runs_where("loss", 1)),
        "helps_lower_rank": say([n for n in helps if n in runs_where("rank", -1)]),
        "helps_higher_rank": say([n for n in helps if n in runs_where("rank", 1)]),
        "helps_lower_ratio": say([n for n in helps if n in runs_where("class_ratio", -1)]),
        "helps_higher_ratio": say([n for n in helps if n in runs_where("class_ratio", 1)]),
        "lower_rank": say(runs_where("rank", -1)),
        "lower_ratio": say(runs_where("class_ratio", -1)),
        "lower_correlation": say(runs_where("correlation", -1)),
        "best_steps": ", ".join(str(int(result.steps[int(i)])) for i in best),
        "steps": str(config.get("steps", int(result.steps[-1]))),
        "eval_every": str(config.get("eval_every", "?")),
        "d_model": str(config.get("d_model", "?")),
        "windows": str(config.get("windows", "?")),
        "seeds": str(result.held_out.shape[1]),
        "table": markdown_table(result.verdicts()),
    }
