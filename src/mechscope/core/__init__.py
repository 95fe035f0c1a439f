"""The vocabulary every layer may import: axes, sites, batches, metrics, results, errors.

Imports no TransformerLens (the layer contract in ``pyproject.toml`` checks it).
"""

from typing import TYPE_CHECKING

from mechscope.core.lazy import lazy_exports

if TYPE_CHECKING:
    from mechscope.core.axes import HeadId
    from mechscope.core.batch import Batch, ImageBatch, PaddingSide, TokenBatch, pad_token_lists
    from mechscope.core.errors import (
        CheckFailed,
        Interrupted,
        MechscopeError,
        ModelSpecError,
        ModelUnavailableError,
        PromptError,
        UnsupportedArchitectureError,
    )
    from mechscope.core.jobs import Job, Outcome, experiment_jobs, results_by_directory
    from mechscope.core.lazy import lazy_exports
    from mechscope.core.metrics import (
        Metric,
        answer_loss,
        at_columns,
        at_positions,
        bootstrap_interval,
        column_difference,
        first_copy_metric,
        group_bootstrap_interval,
        logit_diffs,
        loss_per_position,
        mean_and_sem,
        next_token_loss,
        repeated_half_losses,
        second_copy_metric,
    )
    from mechscope.core.results import Provenance, Result, load_result, registered_kinds, regroup_v1
    from mechscope.core.sites import Component, Site, every_site, hook_name, hook_names

_EXPORTS = {
    "Batch": "mechscope.core.batch",
    "CheckFailed": "mechscope.core.errors",
    "Component": "mechscope.core.sites",
    "every_site": "mechscope.core.sites",
    "experiment_jobs": "mechscope.core.jobs",
    "first_copy_metric": "mechscope.core.metrics",
    "HeadId": "mechscope.core.axes",
    "hook_name": "mechscope.core.sites",
    "hook_names": "mechscope.core.sites",
    "ImageBatch": "mechscope.core.batch",
    "Interrupted": "mechscope.core.errors",
    "Job": "mechscope.core.jobs",
    "lazy_exports": "mechscope.core.lazy",
    "load_result": "mechscope.core.results",
    "logit_diffs": "mechscope.core.metrics",
    "loss_per_position": "mechscope.core.metrics",
    "bootstrap_interval": "mechscope.core.metrics",
    "group_bootstrap_interval": "mechscope.core.metrics",
    "mean_and_sem": "mechscope.core.metrics",
    "MechscopeError": "mechscope.core.errors",
    "Metric": "mechscope.core.metrics",
    "ModelSpecError": "mechscope.core.errors",
    "ModelUnavailableError": "mechscope.core.errors",
    "next_token_loss": "mechscope.core.metrics",
    "answer_loss": "mechscope.core.metrics",
    "at_columns": "mechscope.core.metrics",
    "at_positions": "mechscope.core.metrics",
    "column_difference": "mechscope.core.metrics",
    "Outcome": "mechscope.core.jobs",
    "pad_token_lists": "mechscope.core.batch",
    "PaddingSide": "mechscope.core.batch",
    "PromptError": "mechscope.core.errors",
    "Provenance": "mechscope.core.results",
    "registered_kinds": "mechscope.core.results",
    "regroup_v1": "mechscope.core.results",
    "repeated_half_losses": "mechscope.core.metrics",
    "Result": "mechscope.core.results",
    "results_by_directory": "mechscope.core.jobs",
    "second_copy_metric": "mechscope.core.metrics",
    "Site": "mechscope.core.sites",
    "TokenBatch": "mechscope.core.batch",
    "UnsupportedArchitectureError": "mechscope.core.errors",
}
"""Each public name and the module that defines it (imported on first use)."""
__all__ = [
    "Batch",
    "CheckFailed",
    "Component",
    "HeadId",
    "ImageBatch",
    "Interrupted",
    "Job",
    "MechscopeError",
    "Metric",
    "ModelSpecError",
    "ModelUnavailableError",
    "Outcome",
    "PaddingSide",
    "PromptError",
    "Provenance",
    "Result",
    "Site",
    "TokenBatch",
    "UnsupportedArchitectureError",
    "every_site",
    "experiment_jobs",
    "first_copy_metric",
    "hook_name",
    "hook_names",
    "lazy_exports",
    "load_result",
    "logit_diffs",
    "loss_per_position",
    "bootstrap_interval",
    "group_bootstrap_interval",
    "mean_and_sem",
    "next_token_loss",
    "answer_loss",
    "at_columns",
    "at_positions",
    "column_difference",
    "pad_token_lists",
    "registered_kinds",
    "regroup_v1",
    "repeated_half_losses",
    "results_by_directory",
    "second_copy_metric",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
