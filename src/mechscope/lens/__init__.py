"""How predictions form layer by layer: the logit lens and the tuned lens.

- `logit`: each boundary's residual stream read through the final LayerNorm and unembedding
  (`logit_lens`, `lens_trajectory`, `Trajectory`);
- `tuned`: one learned affine translator per boundary (Belrose et al. 2023; `TunedLens`);
- `classes`: the class lens, what a ViT's class head reads from [CLS] at each boundary
  (`class_lens`, `ClassLens`).

Names are imported on first use, so importing this package stays instant.
"""

from typing import TYPE_CHECKING

from mechscope.core.lazy import lazy_exports

if TYPE_CHECKING:
    from mechscope.lens.classes import ClassLens, class_lens
    from mechscope.lens.config import TunedLensConfig
    from mechscope.lens.logit import (
        LensStat,
        Trajectory,
        check_lens_model,
        lens_trajectory,
        logit_lens,
    )
    from mechscope.lens.tuned import (
        LOGIT_LENS,
        LensComparison,
        TunedLens,
        compare_lenses,
        corpus_windows,
        train_tuned_lens,
    )

_EXPORTS = {
    "class_lens": "mechscope.lens.classes",
    "ClassLens": "mechscope.lens.classes",
    "check_lens_model": "mechscope.lens.logit",
    "compare_lenses": "mechscope.lens.tuned",
    "corpus_windows": "mechscope.models.tokens",
    "lens_trajectory": "mechscope.lens.logit",
    "LensComparison": "mechscope.lens.tuned",
    "LensStat": "mechscope.lens.logit",
    "logit_lens": "mechscope.lens.logit",
    "LOGIT_LENS": "mechscope.lens.tuned",
    "train_tuned_lens": "mechscope.lens.tuned",
    "Trajectory": "mechscope.lens.logit",
    "TunedLens": "mechscope.lens.tuned",
    "TunedLensConfig": "mechscope.lens.config",
}
"""Each public name and the module that defines it (imported on first use)."""
__all__ = [
    "ClassLens",
    "LOGIT_LENS",
    "LensComparison",
    "LensStat",
    "Trajectory",
    "TunedLens",
    "TunedLensConfig",
    "check_lens_model",
    "class_lens",
    "compare_lenses",
    "corpus_windows",
    "lens_trajectory",
    "logit_lens",
    "train_tuned_lens",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
