"""The over-fitting mitigation page's numbers, read from a saved run (`docs/findings.py`)."""

from typing import Any

from experiments.findings_tables import markdown_table
from experiments.overfitting_mitigation.analysis import OverfittingMitigationResult


def findings(result: OverfittingMitigationResult) -> dict[str, str]:
    """Every number ``docs/findings/templates/overfitting-mitigation.md`` shows, by name."""
    config: dict[str, Any] = result.provenance.config or {}
    return {
        "steps": str(config.get("steps", int(result.steps[-1]))),
        "eval_every": str(config.get("eval_every", "?")),
        "d_model": str(config.get("d_model", "?")),
        "windows": str(config.get("windows", "?")),
        "seeds": str(result.held_out.shape[1]),
        "table": markdown_table(result.verdicts()),
    }
