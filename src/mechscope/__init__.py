"""mechscope: mechanistic-interpretability research on TransformerLens models.

The public API, re-exported. Importing mechscope changes no global state and is instant:
each name is imported from its module on first use (PEP 562), so ``mechscope --help`` does
not wait for torch and TransformerLens.
"""

from typing import TYPE_CHECKING

from mechscope.core.lazy import lazy_exports

if TYPE_CHECKING:
    from mechscope.core.axes import HeadId
    from mechscope.core.batch import Batch, PaddingSide, TokenBatch, pad_token_lists
    from mechscope.core.errors import (
        MechscopeError,
        ModelSpecError,
        ModelUnavailableError,
        PromptError,
        UnsupportedArchitectureError,
    )
    from mechscope.core.metrics import Metric
    from mechscope.core.results import Provenance, Result, load_result
    from mechscope.core.sites import Component, Site, every_site
    from mechscope.data.conllu import read_conllu
    from mechscope.heads import (
        DetectionSettings,
        HeadKind,
        HeadScores,
        attention_mass,
        attention_patterns,
        dependency_scores,
        detect_heads,
        verify,
    )
    from mechscope.interventions import (
        AblationEffects,
        AblationType,
        PairedRuns,
        PatchDirection,
        PatchingResult,
        TaskPairs,
        ablate,
        ablation_effects,
        activation_patching,
        attribution_patching,
        path_patching,
    )
    from mechscope.lens import Trajectory, logit_lens
    from mechscope.models import (
        DType,
        Model,
        TinyConfig,
        adapt,
        forward_kwargs,
        has_lm_head,
        is_encoder,
        load_checkpoint,
        load_model,
        save_checkpoint,
        tiny_model,
        tokenize,
    )

_CORE = {
    "HeadId": "mechscope.core.axes",
    "Batch": "mechscope.core.batch",
    "PaddingSide": "mechscope.core.batch",
    "TokenBatch": "mechscope.core.batch",
    "pad_token_lists": "mechscope.core.batch",
    "MechscopeError": "mechscope.core.errors",
    "ModelSpecError": "mechscope.core.errors",
    "ModelUnavailableError": "mechscope.core.errors",
    "PromptError": "mechscope.core.errors",
    "UnsupportedArchitectureError": "mechscope.core.errors",
    "Metric": "mechscope.core.metrics",
    "Provenance": "mechscope.core.results",
    "Result": "mechscope.core.results",
    "load_result": "mechscope.core.results",
    "Component": "mechscope.core.sites",
    "Site": "mechscope.core.sites",
    "every_site": "mechscope.core.sites",
    "read_conllu": "mechscope.data.conllu",
}
_PACKAGES = {
    "mechscope.heads": (
        "DetectionSettings HeadKind HeadScores attention_mass attention_patterns "
        "dependency_scores detect_heads verify"
    ),
    "mechscope.interventions": (
        "AblationEffects AblationType PairedRuns PatchDirection PatchingResult TaskPairs "
        "ablate ablation_effects activation_patching attribution_patching path_patching"
    ),
    "mechscope.lens": "Trajectory logit_lens",
    "mechscope.models": (
        "DType Model TinyConfig adapt forward_kwargs has_lm_head is_encoder load_checkpoint "
        "load_model save_checkpoint tiny_model tokenize"
    ),
}
_EXPORTS = _CORE | {name: pkg for pkg, names in _PACKAGES.items() for name in names.split()}
__all__ = [
    "AblationEffects",
    "AblationType",
    "Batch",
    "Component",
    "DType",
    "DetectionSettings",
    "HeadId",
    "HeadKind",
    "HeadScores",
    "MechscopeError",
    "Metric",
    "Model",
    "ModelSpecError",
    "ModelUnavailableError",
    "PaddingSide",
    "PairedRuns",
    "PatchDirection",
    "PatchingResult",
    "PromptError",
    "Provenance",
    "Result",
    "Site",
    "TaskPairs",
    "TinyConfig",
    "TokenBatch",
    "Trajectory",
    "UnsupportedArchitectureError",
    "ablate",
    "ablation_effects",
    "activation_patching",
    "adapt",
    "attention_mass",
    "attention_patterns",
    "attribution_patching",
    "dependency_scores",
    "detect_heads",
    "every_site",
    "forward_kwargs",
    "has_lm_head",
    "is_encoder",
    "load_checkpoint",
    "load_model",
    "load_result",
    "logit_lens",
    "pad_token_lists",
    "path_patching",
    "read_conllu",
    "save_checkpoint",
    "tiny_model",
    "tokenize",
    "verify",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
