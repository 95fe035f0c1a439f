"""The ViT over-fitting mitigation page's numbers, read from a saved run (`docs/findings.py`)."""

from typing import Any

from experiments.findings_tables import markdown_table
from experiments.vit_overfitting_mitigation.analysis import VitOverfittingMitigationResult


def findings(result: VitOverfittingMitigationResult) -> dict[str, str]:
    """Every number ``docs/findings/templates/vit-overfitting-mitigation.md`` shows, by name."""
    config: dict[str, Any] = result.provenance.config or {}
    return {
        "dataset": str(config.get("dataset", "shapes")),
        "train_images": str(config.get("train_images", "?")),
        "steps": str(config.get("steps", int(result.steps[-1]))),
        "batch_size": str(config.get("batch_size", "?")),
        "seeds": str(result.rank.shape[1]),
        "table": markdown_table(result.verdicts()),
    }
