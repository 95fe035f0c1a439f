"""The tuned lens against the logit lens on a real LM (Belrose et al. 2023; Din et al. 2023).

One affine translator per boundary, fitted by least squares onto the final residual and then
trained on KL(final || lens) with the model frozen, on Python source and English sentences;
KL to the final prediction by boundary, per lens, on held-out text of each kind, and the
facts read through each lens. Figures on SmolLM2 describe its 4-bit-dequantised weights.
"""

from typing import TYPE_CHECKING

from mechscope.core import lazy_exports

if TYPE_CHECKING:
    from experiments.smollm_tuned_lens.analysis import TunedLensResult, run
    from experiments.smollm_tuned_lens.config import Config

_EXPORTS = {
    "TunedLensResult": "experiments.smollm_tuned_lens.analysis",
    "run": "experiments.smollm_tuned_lens.analysis",
    "Config": "experiments.smollm_tuned_lens.config",
}
__all__ = ["Config", "TunedLensResult", "run"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
