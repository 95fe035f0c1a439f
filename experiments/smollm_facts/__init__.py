"""The logit lens on factual completions in a real LM (nostalgebraist 2020).

For each fact the model answers at top-1 (`mechscope.data.facts`), the residual stream after
the embeddings and after every block is read through the final RMSNorm and unembedding at the
prompt's last position: the answer's rank, probability and KL(final || lens) per layer, the
first layer where the answer enters the top-10 and the top-1, and the top-5 tokens per layer
of "The capital of France is". Figures on SmolLM2 describe its 4-bit-dequantised weights.
"""

from typing import TYPE_CHECKING

from mechscope.core import lazy_exports

if TYPE_CHECKING:
    from experiments.smollm_facts.analysis import FactsLensResult, run
    from experiments.smollm_facts.config import Config

_EXPORTS = {
    "FactsLensResult": "experiments.smollm_facts.analysis",
    "run": "experiments.smollm_facts.analysis",
    "Config": "experiments.smollm_facts.config",
}
__all__ = ["Config", "FactsLensResult", "run"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
