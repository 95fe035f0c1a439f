"""The attention-collapse mitigation page's numbers, read from a saved run (`docs/findings.py`)."""

from typing import Any

from experiments.attention_collapse_mitigation.analysis import BASELINE, CollapseMitigationResult
from experiments.findings_tables import markdown_table
from mechscope.core import MechscopeError


def findings(result: CollapseMitigationResult) -> dict[str, str]:
    """Every number ``docs/findings/templates/attention-collapse-mitigation.md`` shows, by name."""
    config: dict[str, Any] = result.provenance.config or {}
    collapse_nats = float(config.get("collapse_nats", 0.1))
    if BASELINE not in result.runs:
        raise MechscopeError(f"the findings page needs the {BASELINE!r} run (remedy 'none').")
    rows = result.verdicts(collapse_nats)
    table = markdown_table(rows)

    def named(verdict: str) -> str:
        names = [
            row["run"]
            for row in rows
            if row["verdict"] == verdict or row["verdict"].startswith(verdict + " (")
        ]
        partly = [
            f"{row['run']} ({row['verdict'].removeprefix('prevents ')})"
            for row in rows
            if verdict == "partly" and row["verdict"].startswith("prevents in")
        ]
        return ", ".join(names + partly) or "none"

    base = result.runs.index(BASELINE)
    collapse = result.collapse_steps(collapse_nats)[base]
    return {
        "n_layers": str(config.get("n_layers", result.entropy.shape[-1])),
        "d_model": str(config.get("d_model", "?")),
        "n_heads": str(config.get("n_heads", "?")),
        "n_ctx": str(config.get("n_ctx", "?")),
        "batch_size": str(config.get("batch_size", "?")),
        "steps": str(config.get("steps", int(result.steps[-1]))),
        "eval_every": str(config.get("eval_every", "?")),
        "lr": f"{float(config.get('lr', 1e-3)):g}",
        "multiplier": f"{float(config.get('lr_multiplier', 30)):g}",
        "seeds": str(result.held_out.shape[1]),
        "collapse_nats": f"{collapse_nats:g}",
        "table": table,
        "baseline_steps": ", ".join("never" if s is None else str(s) for s in collapse),
        "prevents": named("prevents"),
        "partly": named("partly"),
        "delays": named("delays"),
        "fails": named("does not prevent it"),
    }
