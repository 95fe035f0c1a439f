"""The vocabulary every layer may import: axes, sites, batches, metrics, results, errors.

Imports no TransformerLens (the layer contract in ``pyproject.toml`` checks it).
"""

from typing import TYPE_CHECKING

from mechscope.core.lazy import lazy_exports

if TYPE_CHECKING:
    from mechscope.core.axes import HeadId
    from mechscope.core.batch import ImageBatch, TokenBatch, pad_token_lists
    from mechscope.core.errors import MechscopeError, PromptError
    from mechscope.core.jobs import Job, Outcome
    from mechscope.core.lazy import lazy_exports
    from mechscope.core.metrics import (
        Metric,
        first_copy_metric,
        logit_diffs,
        loss_per_position,
        mean_and_sem,
        next_token_loss,
        repeated_half_losses,
        second_copy_metric,
    )
    from mechscope.core.results import Result, regroup_v1
    from mechscope.core.sites import Component, Site, every_site

_EXPORTS = {
    "Component": "mechscope.core.sites",
    "every_site": "mechscope.core.sites",
    "first_copy_metric": "mechscope.core.metrics",
    "HeadId": "mechscope.core.axes",
    "ImageBatch": "mechscope.core.batch",
    "Job": "mechscope.core.jobs",
    "lazy_exports": "mechscope.core.lazy",
    "logit_diffs": "mechscope.core.metrics",
    "loss_per_position": "mechscope.core.metrics",
    "mean_and_sem": "mechscope.core.metrics",
    "MechscopeError": "mechscope.core.errors",
    "Metric": "mechscope.core.metrics",
    "next_token_loss": "mechscope.core.metrics",
    "Outcome": "mechscope.core.jobs",
    "pad_token_lists": "mechscope.core.batch",
    "PromptError": "mechscope.core.errors",
    "regroup_v1": "mechscope.core.results",
    "repeated_half_losses": "mechscope.core.metrics",
    "Result": "mechscope.core.results",
    "second_copy_metric": "mechscope.core.metrics",
    "Site": "mechscope.core.sites",
    "TokenBatch": "mechscope.core.batch",
}
"""Each public name and the module that defines it (imported on first use)."""
__all__ = [
    "Component",
    "HeadId",
    "ImageBatch",
    "Job",
    "MechscopeError",
    "Metric",
    "Outcome",
    "PromptError",
    "Result",
    "Site",
    "TokenBatch",
    "every_site",
    "first_copy_metric",
    "lazy_exports",
    "logit_diffs",
    "loss_per_position",
    "mean_and_sem",
    "next_token_loss",
    "pad_token_lists",
    "regroup_v1",
    "repeated_half_losses",
    "second_copy_metric",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
