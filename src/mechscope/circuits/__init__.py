"""The residual stream and the weights: decomposition, direct logit attribution, QK/OV.

- `stream`: the stream as the sum of its parts (`decompose_stream`), and how much each block
  writes (`stream_norms`);
- `direct`: direct logit attribution through the frozen final normalisation
  (`direct_logit_attribution`);
- `weights`: QK and OV circuits, eigenvalue copying scores, positional QK patterns
  (`weight_circuits`);
- `composition`: Q/K/V composition scores between heads (Elhage et al. 2021).

Names are imported on first use, so the CLI's help imports no torch.
"""

from typing import TYPE_CHECKING

from mechscope.core.lazy import lazy_exports

if TYPE_CHECKING:
    from mechscope.circuits.composition import CompositionKind, composition_scores
    from mechscope.circuits.direct import DirectAttribution, direct_logit_attribution
    from mechscope.circuits.stream import (
        StreamDecomposition,
        StreamNorms,
        decompose_stream,
        stream_norms,
    )
    from mechscope.circuits.weights import (
        WeightCircuits,
        copying_score,
        full_ov_circuit,
        ov_circuit,
        positional_qk,
        qk_circuit,
        weight_circuits,
    )

_EXPORTS = {
    "CompositionKind": "mechscope.circuits.composition",
    "composition_scores": "mechscope.circuits.composition",
    "DirectAttribution": "mechscope.circuits.direct",
    "direct_logit_attribution": "mechscope.circuits.direct",
    "StreamDecomposition": "mechscope.circuits.stream",
    "StreamNorms": "mechscope.circuits.stream",
    "decompose_stream": "mechscope.circuits.stream",
    "stream_norms": "mechscope.circuits.stream",
    "WeightCircuits": "mechscope.circuits.weights",
    "copying_score": "mechscope.circuits.weights",
    "full_ov_circuit": "mechscope.circuits.weights",
    "ov_circuit": "mechscope.circuits.weights",
    "positional_qk": "mechscope.circuits.weights",
    "qk_circuit": "mechscope.circuits.weights",
    "weight_circuits": "mechscope.circuits.weights",
}
__all__ = [
    "CompositionKind",
    "DirectAttribution",
    "StreamDecomposition",
    "StreamNorms",
    "WeightCircuits",
    "composition_scores",
    "copying_score",
    "decompose_stream",
    "direct_logit_attribution",
    "full_ov_circuit",
    "ov_circuit",
    "positional_qk",
    "qk_circuit",
    "stream_norms",
    "weight_circuits",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
