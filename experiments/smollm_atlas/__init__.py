"""A head atlas of a real LM (SmolLM2-135M): what each head does, where, and does it matter.

Every head scored for every forward kind of `mechscope.heads.kinds` on UD English EWT dev
sentences (induction on repeated random tokens), dependency relations scored from the same
passes (Clark et al. 2019, adapted to a causal model), the top induction heads checked by
ablation against random heads of their layers, and the seeds' picture tested per third of the
depth: early layers diagonal / local, middle layers syntactic and long-range, late layers sink
("vertical stripe") and sparse. Figures on SmolLM2 describe its 4-bit-dequantised weights.
"""

from typing import TYPE_CHECKING

from mechscope.core import lazy_exports

if TYPE_CHECKING:
    from experiments.smollm_atlas.analysis import AtlasResult, run
    from experiments.smollm_atlas.config import Config

_EXPORTS = {
    "AtlasResult": "experiments.smollm_atlas.analysis",
    "run": "experiments.smollm_atlas.analysis",
    "Config": "experiments.smollm_atlas.config",
}
__all__ = ["AtlasResult", "Config", "run"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
