"""How predictions form layer by layer: the logit lens and the tuned lens.

- `logit`: each boundary's residual stream read through the final LayerNorm and unembedding
  (`logit_lens`, `lens_trajectory`, `Trajectory`);
- `tuned`: one learned affine translator per boundary (Belrose et al. 2023; `TunedLens`).

Names are imported on first use, so importing this package stays instant.
"""

from typing import TYPE_CHECKING

from mechscope.core.lazy import lazy_exports

if TYPE_CHECKING:
    from mechscope.lens.config import TunedLensConfig
    from mechscope.lens.logit import LensStat, Trajectory, lens_trajectory, logit_lens
    from mechscope.lens.tuned import (
        LensComparison,
        TunedLens,
        compare_lenses,
        train_tuned_lens,
    )

_EXPORTS = {
    "LensStat": "mechscope.lens.logit",
    "Trajectory": "mechscope.lens.logit",
    "lens_trajectory": "mechscope.lens.logit",
    "logit_lens": "mechscope.lens.logit",
    "LensComparison": "mechscope.lens.tuned",
    "TunedLens": "mechscope.lens.tuned",
    "TunedLensConfig": "mechscope.lens.config",
    "compare_lenses": "mechscope.lens.tuned",
    "train_tuned_lens": "mechscope.lens.tuned",
}
__all__ = [
    "LensComparison",
    "LensStat",
    "Trajectory",
    "TunedLens",
    "TunedLensConfig",
    "compare_lenses",
    "lens_trajectory",
    "logit_lens",
    "train_tuned_lens",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
