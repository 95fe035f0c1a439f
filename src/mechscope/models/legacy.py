"""TransformerLens's legacy model classes, where the installed TransformerLens still has them.

transformer-lens 4 removed ``HookedTransformer``, ``HookedEncoder``, their config and their
components; the Bridge backend (`mechscope.models.bridge`) needs none of them. mechscope
imports those names from here only: under 3.x they are TransformerLens's own; under 4.x they
are stand-ins that no model is an instance of (so every ``isinstance`` check says no and the
adapter answers for the Bridge) and that refuse to be built, naming the fix. So the Bridge path
imports and runs under transformer-lens 4 (checked once in a 4.3 environment: `docs/scale.md`).
"""

from typing import TYPE_CHECKING, Any, NoReturn

from mechscope.core.errors import MechscopeError

try:
    from transformer_lens import HookedTransformer as _Probe  # noqa: F401 - only probed

    HAS_LEGACY = True
except ImportError:  # transformer-lens >= 4
    HAS_LEGACY = False
"""Whether the installed TransformerLens has HookedTransformer (3.x)."""

if TYPE_CHECKING or HAS_LEGACY:
    from transformer_lens import HookedEncoder, HookedTransformer, HookedTransformerConfig
    from transformer_lens.components import GatedMLP, LayerNorm, TransformerBlock, Unembed
else:

    def _removed(name: str) -> type:
        def refuse(*args: Any, **kwargs: Any) -> NoReturn:  # noqa: ANN401, ARG001
            raise MechscopeError(
                f"transformer-lens 4 removed {name}; load models with backend='bridge' "
                "(--backend bridge), or install transformer-lens>=3.9,<4."
            )

        return type(name, (), {"__init__": refuse, "__module__": __name__})

    HookedTransformer = _removed("HookedTransformer")
    HookedEncoder = _removed("HookedEncoder")
    HookedTransformerConfig = _removed("HookedTransformerConfig")
    GatedMLP = _removed("GatedMLP")
    LayerNorm = _removed("LayerNorm")
    TransformerBlock = _removed("TransformerBlock")
    Unembed = _removed("Unembed")

__all__ = [
    "HAS_LEGACY",
    "GatedMLP",
    "HookedEncoder",
    "HookedTransformer",
    "HookedTransformerConfig",
    "LayerNorm",
    "TransformerBlock",
    "Unembed",
]
