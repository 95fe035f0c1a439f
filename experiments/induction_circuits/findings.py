"""The induction-circuit findings page's numbers, read from a saved run (`docs/findings.py`)."""

from typing import Any

from experiments.induction_circuits.analysis import InductionCircuitsResult


def findings(result: InductionCircuitsResult) -> dict[str, str]:
    """Every number ``docs/findings/templates/induction-circuits.md`` shows, by name.

    The claims table is the run's own claims, each with the measurement its verdict was
    computed from; layer 0's copying scores are added for contrast with the induction heads.
    """
    config: dict[str, Any] = result.provenance.config or {}
    layer0 = result.copying[0]
    rows = "\n".join(
        f"| {c['claim']} | {c['measured'].replace('|', '/')} | {c['verdict']} |"
        for c in result.claims
    )
    return {
        "model": str(config.get("model", "induction-2l")),
        "n_prompts": str(config.get("n_prompts", result.share.numel())),
        "half": str(config.get("half", "?")),
        "claims": rows,
        "layer0_copying": f"{float(layer0.min()):.2f} to {float(layer0.max()):.2f}",
        "n_agree": str(sum(c["verdict"] == "agrees" for c in result.claims)),
        "n_claims": str(len(result.claims)),
    }
