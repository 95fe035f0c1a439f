"""mechscope: mechanistic-interpretability research on TransformerLens models.

The public API, re-exported. Importing mechscope changes no global state and is instant:
each name is imported from its module on first use (PEP 562), so ``mechscope --help`` does
not wait for torch and TransformerLens.
"""

from typing import TYPE_CHECKING

from mechscope.lazy import lazy_exports

if TYPE_CHECKING:
    from mechscope.ablation import AblationType, ablate, ablation_effects
    from mechscope.attention import attention_mass, attention_patterns
    from mechscope.attribution import attribution_patching
    from mechscope.axes import HeadId
    from mechscope.errors import (
        MechscopeError,
        ModelSpecError,
        ModelUnavailableError,
        PromptError,
        UnsupportedArchitectureError,
    )
    from mechscope.heads import DetectionSettings, HeadKind, HeadScores, detect_heads
    from mechscope.models import (
        DType,
        Model,
        TinyConfig,
        has_lm_head,
        is_encoder,
        load_checkpoint,
        load_model,
        save_checkpoint,
        tiny_model,
    )
    from mechscope.patching import PatchDirection, PatchingResult, activation_patching
    from mechscope.path_patching import path_patching
    from mechscope.sites import Component, Site, every_site
    from mechscope.syntax import dependency_scores, read_conllu
    from mechscope.tokens import PaddingSide, TokenBatch, forward_kwargs, pad_token_lists, tokenize

_EXPORTS = {
    "AblationType": "mechscope.ablation",
    "ablate": "mechscope.ablation",
    "ablation_effects": "mechscope.ablation",
    "attribution_patching": "mechscope.attribution",
    "DetectionSettings": "mechscope.heads",
    "HeadKind": "mechscope.heads",
    "HeadScores": "mechscope.heads",
    "detect_heads": "mechscope.heads",
    "PatchDirection": "mechscope.patching",
    "PatchingResult": "mechscope.patching",
    "activation_patching": "mechscope.patching",
    "path_patching": "mechscope.path_patching",
    "every_site": "mechscope.sites",
    "dependency_scores": "mechscope.syntax",
    "read_conllu": "mechscope.syntax",
    "attention_mass": "mechscope.attention",
    "attention_patterns": "mechscope.attention",
    "HeadId": "mechscope.axes",
    "MechscopeError": "mechscope.errors",
    "ModelSpecError": "mechscope.errors",
    "ModelUnavailableError": "mechscope.errors",
    "PromptError": "mechscope.errors",
    "UnsupportedArchitectureError": "mechscope.errors",
    "DType": "mechscope.models",
    "Model": "mechscope.models",
    "TinyConfig": "mechscope.models",
    "has_lm_head": "mechscope.models",
    "is_encoder": "mechscope.models",
    "load_checkpoint": "mechscope.models",
    "load_model": "mechscope.models",
    "save_checkpoint": "mechscope.models",
    "tiny_model": "mechscope.models",
    "Component": "mechscope.sites",
    "Site": "mechscope.sites",
    "PaddingSide": "mechscope.tokens",
    "TokenBatch": "mechscope.tokens",
    "forward_kwargs": "mechscope.tokens",
    "pad_token_lists": "mechscope.tokens",
    "tokenize": "mechscope.tokens",
}
__all__ = [
    "AblationType",
    "Component",
    "DType",
    "DetectionSettings",
    "HeadId",
    "HeadKind",
    "HeadScores",
    "MechscopeError",
    "Model",
    "ModelSpecError",
    "ModelUnavailableError",
    "PaddingSide",
    "PatchDirection",
    "PatchingResult",
    "PromptError",
    "Site",
    "TinyConfig",
    "TokenBatch",
    "UnsupportedArchitectureError",
    "ablate",
    "ablation_effects",
    "activation_patching",
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
    "pad_token_lists",
    "path_patching",
    "read_conllu",
    "save_checkpoint",
    "tiny_model",
    "tokenize",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
