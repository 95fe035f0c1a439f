"""The head atlas findings page's numbers, read from a saved run (`docs/findings.py`)."""

from typing import Any

from experiments.smollm_atlas.analysis import AtlasResult

THIRD_ROWS = (
    ("previous-token", "previous_token", 3), ("local-window", "local_window", 3),
    ("effective-span", "effective_span", 1), ("first-token", "first_token", 3),
    ("max-weight", "max_weight", 3), ("entropy", "entropy", 2), ("induction", "induction", 3),
)  # fmt: skip
"""(kind, field prefix, decimals) of the per-third table."""

RELATIONS = ("obj", "case", "det", "aux", "nsubj", "obl")


def findings(result: AtlasResult) -> dict[str, str]:
    """Every number ``docs/findings/templates/smollm-atlas.md`` shows, formatted, by name."""
    config: dict[str, Any] = result.provenance.config or {}
    values: dict[str, str] = {
        "sentences": str(result.scores.n_prompts),
        "seconds": f"{sum(result.seconds.values()):.0f}",
        "induction_rows": str(config.get("induction_rows", 16)),
    }
    thirds = result.thirds
    for kind, prefix, decimals in THIRD_ROWS:
        for name, row in zip(("early", "middle", "late"), thirds, strict=True):
            mean, se = row[kind], row[f"{kind} se"]
            values[f"{prefix}_{name}"] = f"{mean:.{decimals}f} ± {se:.{decimals}f}"
            values[f"{prefix}_{name}_mean"] = f"{mean:.{min(decimals, 2)}f}"
    for name, row in zip(("early", "middle", "late"), thirds, strict=True):
        values[f"syntax_{name}"] = f"{row['syntax (mean best accuracy)']:.3f}"
        values[f"syntax_{name}_mean"] = f"{row['syntax (mean best accuracy)']:.2f}"
        values[f"layers_{name}"] = row["layers"]
    early, _, late = thirds
    values["sink_lead_se"] = _lead(late, early, "first-token")
    values["sparsity_lead_se"] = _lead(late, early, "max-weight")
    table = {r["relation"]: r for r in result.syntax.table(min_count=50)}
    values["relations"] = "; ".join(
        f"{rel} {table[rel]['head']} {table[rel]['accuracy']:.2f} vs {table[rel]['baseline']:.2f}"
        + ("" if table[rel]["beats_baseline"] else " (below its baseline)")
        for rel in RELATIONS
        if rel in table
    )
    top = [r for r in result.check if r["group"] == "top"]
    controls: dict[str, list[str]] = {}
    for row in result.check:
        if row["group"] != "top":
            owner = row["group"].rsplit(" ", 1)[-1]
            controls.setdefault(owner, []).append(f"{row['head']} {row['change']:+.3f}")
    values["check_rows"] = "\n".join(
        f"| {r['head']} ({r['induction']:.2f}) | {r['change']:+.3f} ± {r['change_stderr']:.3f} | "
        f"{r['minus_controls']:+.3f} ± {r['minus_controls_stderr']:.3f} | "
        f"{', '.join(controls.get(r['head'], []))} |"
        for r in top
    )
    causal = [r for r in top if r["minus_controls"] > 3 * r["minus_controls_stderr"]]
    null = [r for r in top if abs(r["change"]) < 2 * r["change_stderr"]]
    values["n_causal"] = str(len(causal))
    values["n_top"] = str(len(top))
    values["causal_margins"] = " and ".join(
        f"{r['minus_controls'] / r['minus_controls_stderr']:.0f}" for r in causal
    )
    values["null_heads"] = (
        ", ".join(f"{r['head']} ({r['change']:+.2f} ± {r['change_stderr']:.2f})" for r in null)
        or "none"
    )
    values["largest_control"] = (
        f"{max(float(row['change']) for row in result.check if row['group'] != 'top'):.2f}"
    )
    return values


def _lead(late: dict[str, Any], early: dict[str, Any], kind: str) -> str:
    """The late third's lead over the early one in standard errors (the larger of the two)."""
    se = max(late[f"{kind} se"], early[f"{kind} se"])
    return f"{(late[kind] - early[kind]) / se:.0f}"
