"""The gradient mitigation page's numbers, read from a saved run (`docs/findings.py`)."""

from typing import Any

from experiments.findings_tables import markdown_table
from experiments.gradient_mitigation.analysis import GradientMitigationResult


def findings(result: GradientMitigationResult) -> dict[str, str]:
    """Every number ``docs/findings/templates/gradient-mitigation.md`` shows, by name."""
    config: dict[str, Any] = result.provenance.config or {}
    late = result.grad_norms[:, :, -5:].nanmean(2).mean(1)  # run layer
    per_block = "\n".join(
        f"| {name} | " + " | ".join(f"{float(v):.3g}" for v in late[i]) + " |"
        for i, name in enumerate(result.runs)
    )
    header = "| run | " + " | ".join(f"block {b}" for b in range(late.shape[-1])) + " |"
    blocks = f"{header}\n|---|" + "---|" * late.shape[-1] + f"\n{per_block}"
    rows = {row["run"].split(" (")[0]: row for row in result.verdicts()}

    def cell(run: str, column: str) -> str:
        return rows[run][column] if run in rows else "not run"

    return {
        "healthy_loss": cell("healthy", "final held-out loss"),
        "no_ln_loss": cell("no LayerNorm", "final held-out loss"),
        "no_ln_fix": cell("no LayerNorm + depth-scaled init", "remedy minus unremedied"),
        "no_ln_ratio": cell("no LayerNorm", "first/last block gradient (last 5 evals)"),
        "healthy_ratio": cell("healthy", "first/last block gradient (last 5 evals)"),
        "lr_loss": cell("lr x30", "final held-out loss"),
        "lr_ratio": cell("lr x30", "first/last block gradient (last 5 evals)"),
        "lr_fix": cell(
            f"lr x30 + warm-up {config.get('warmup', 200)} and cosine", "remedy minus unremedied"
        ),
        "lr_fixed_ratio": cell(
            f"lr x30 + warm-up {config.get('warmup', 200)} and cosine",
            "first/last block gradient (last 5 evals)",
        ),
        "init_loss": cell(f"init x{float(config.get('init_scale', 4.0)):g}", "final held-out loss"),
        "init_fix": cell(
            f"init x{float(config.get('init_scale', 4.0)):g} + depth-scaled init",
            "remedy minus unremedied",
        ),
        "n_layers": str(config.get("n_layers", late.shape[-1])),
        "d_model": str(config.get("d_model", "?")),
        "n_heads": str(config.get("n_heads", "?")),
        "steps": str(config.get("steps", int(result.steps[-1]))),
        "eval_every": str(config.get("eval_every", "?")),
        "warmup": str(config.get("warmup", "?")),
        "init_scale": f"{float(config.get('init_scale', 4.0)):g}",
        "seeds": str(result.held_out.shape[1]),
        "table": markdown_table(result.verdicts()),
        "blocks": blocks,
    }
