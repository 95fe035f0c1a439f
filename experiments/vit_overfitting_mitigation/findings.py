"""The ViT over-fitting mitigation page's numbers, read from a saved run (`docs/findings.py`)."""

from typing import Any

from torch import Tensor

from experiments.findings_tables import markdown_table
from experiments.mitigation import difference
from experiments.vit_overfitting_mitigation.analysis import (
    BASELINE,
    VitOverfittingMitigationResult,
)


def findings(result: VitOverfittingMitigationResult) -> dict[str, str]:
    """Every number ``docs/findings/templates/vit-overfitting-mitigation.md`` shows, by name."""
    config: dict[str, Any] = result.provenance.config or {}
    base = result.runs.index(BASELINE)

    def beyond(values: Tensor, sign: int) -> list[str]:
        """Runs whose mean differs from the baseline's by over 2 standard errors, by ``sign``."""
        out = []
        for i, name in enumerate(result.runs):
            diff, se = difference(values, i, base)
            if i != base and sign * diff > 2 * se:
                out.append(name)
        return out

    def say(names: list[str]) -> str:
        return ", ".join(names) if names else "none"

    final = result.held_out_accuracy[..., -1]
    gap = result.train_accuracy[..., -1] - final
    helps = beyond(final, 1)
    changed = set(helps) | set(beyond(final, -1))
    no_effect = [n for n in result.runs if n != BASELINE and n not in changed]
    return {
        "dataset": str(config.get("dataset", "shapes")),
        "train_images": str(config.get("train_images", "?")),
        "steps": str(config.get("steps", int(result.steps[-1]))),
        "batch_size": str(config.get("batch_size", "?")),
        "seeds": str(result.rank.shape[1]),
        "table": markdown_table(result.verdicts()),
        "base_accuracy": f"{float(final[base].mean()):.3f}",
        "base_train": f"{float(result.train_accuracy[base, :, -1].mean()):.3f}",
        "helps": say(helps),
        "hurts": say(beyond(final, -1)),
        "no_effect": say(no_effect),
        "smaller_gap": say(beyond(gap, -1)),
        "helps_lower_ratio": say(
            [n for n in helps if n in beyond(result.class_ratio[..., -1], -1)]
        ),
        "helps_lower_rank": say([n for n in helps if n in beyond(result.rank[..., -1], -1)]),
        "helps_higher_rank": say([n for n in helps if n in beyond(result.rank[..., -1], 1)]),
        "lower_correlation": say(beyond(result.correlation[..., -1], -1)),
    }
