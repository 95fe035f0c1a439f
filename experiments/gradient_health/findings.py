"""The gradient-health findings page's numbers, read from a saved run (`docs/findings.py`)."""

from typing import Any

from experiments.gradient_health.analysis import GradientHealthResult

POST, PRE = "post-LN encoder (BERT style)", "pre-LN decoder"


def findings(result: GradientHealthResult) -> dict[str, str]:
    """Every number ``docs/findings/templates/gradient-health.md`` shows, formatted, by name."""
    config: dict[str, Any] = result.provenance.config or {}
    values: dict[str, str] = {
        "seeds": str(config.get("seeds", result.norms[PRE].shape[1])),
        "n_layers": str(config.get("n_layers", result.norms[PRE].shape[0])),
        "n_heads": str(config.get("n_heads", "?")),
        "d_model": str(config.get("d_model", "?")),
    }
    for key, name in (("post", POST), ("pre", PRE)):
        norms = result.norms[name]  # layer seed
        mean = norms.mean(-1)
        se = norms.std(-1) / norms.shape[-1] ** 0.5
        values[f"{key}_norms"] = ", ".join(
            f"{float(m):.2f} ± {float(s):.2f}" if i in (0, len(mean) - 1) else f"{float(m):.2f}"
            for i, (m, s) in enumerate(zip(mean, se, strict=True))
        )
        values[f"{key}_ratio"] = f"{float(mean[0] / mean[-1]):.1f}"
        values[f"{key}_spread"] = f"{float(mean.max() - mean.min()):.2f}"
        values[f"{key}_se_max"] = f"{float(se.max()):.2f}"
        values[f"{key}_flags"] = str(sum(len(f) for f in result.flags[name]))
    return values
