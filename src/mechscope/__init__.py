"""mechscope: mechanistic-interpretability research on TransformerLens models.

The public API: every name in a package's ``__all__`` (loading, data, every analysis, its
results, training, views) is re-exported here, so ``from mechscope import detect_heads`` and
``from mechscope.heads import detect_heads`` are the two public spellings; modules inside a
package are private (a contract in ``pyproject.toml`` keeps experiments and notebooks off
them). Importing mechscope changes no global state and is instant: each name is imported from
its module on first use (PEP 562), so ``mechscope --help`` does not wait for torch and
TransformerLens.
"""

import importlib
from typing import TYPE_CHECKING

from mechscope.core.lazy import lazy_exports

if TYPE_CHECKING:
    from mechscope.circuits import *  # noqa: F403
    from mechscope.core import *  # noqa: F403
    from mechscope.data import *  # noqa: F403
    from mechscope.diagnostics import *  # noqa: F403
    from mechscope.executors import *  # noqa: F403
    from mechscope.heads import *  # noqa: F403
    from mechscope.interventions import *  # noqa: F403
    from mechscope.lens import *  # noqa: F403
    from mechscope.models import *  # noqa: F403
    from mechscope.representations import *  # noqa: F403
    from mechscope.training import *  # noqa: F403
    from mechscope.vision import *  # noqa: F403
    from mechscope.viz import *  # noqa: F403

PACKAGES = (
    "core",
    "data",
    "models",
    "interventions",
    "features",
    "diagnostics",
    "heads",
    "lens",
    "circuits",
    "representations",
    "executors",
    "vision",
    "training",
    "viz",
)
"""The packages whose public names mechscope re-exports, in the layer order (a name two
packages export, such as `attention_patterns`, is the lower package's)."""


def _exports() -> dict[str, str]:
    exports: dict[str, str] = {}
    for package in PACKAGES:
        module = importlib.import_module(f"mechscope.{package}")
        for name in module.__all__:
            exports.setdefault(name, f"mechscope.{package}")
    return exports


_EXPORTS = _exports()
__all__ = sorted(_EXPORTS)  # pyright: ignore[reportUnsupportedDunderAll]

__getattr__ = lazy_exports(__name__, _EXPORTS)
