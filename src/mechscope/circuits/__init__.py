"""The residual stream and the weights: decomposition, direct logit attribution, QK/OV.

- `stream`: the stream as the sum of its parts (`decompose_stream`), and how much each block
  writes (`stream_norms`);
- `direct`: direct logit attribution through the frozen final normalisation
  (`direct_logit_attribution`);
- `weights`: QK and OV circuits, eigenvalue copying scores, positional QK patterns
  (`weight_circuits`);
- `composition`: Q/K/V composition scores between heads (Elhage et al. 2021);
- `edges`: the model as a graph of components and every edge's attribution score (EAP,
  EAP-IG; `edge_attribution`, `ComponentGraph`), and runs with chosen edges ablated;
- `discovery`: circuits from edge scores with faithfulness against size
  (`discover_circuit`), ACDC (`acdc`) and exact single-edge effects (`edge_effects`);
- `graphs`: one prompt's replacement model (MLPs read through transcoders, patterns and
  normalisation scales frozen; `Replacement`) and every node's exact effect on a logit
  (`LogitAttribution`);
- `tracing`: attribution graphs over transcoder features (`attribution_graph`, pruned by
  influence, with supernodes) and their checks in the real model (`validate_graph`).

Names are imported on first use, so the CLI's help imports no torch.
"""

from typing import TYPE_CHECKING

from mechscope.core.lazy import lazy_exports

if TYPE_CHECKING:
    from mechscope.circuits.composition import CompositionKind, composition_scores, random_baseline
    from mechscope.circuits.direct import DirectAttribution, direct_logit_attribution, head_grid
    from mechscope.circuits.discovery import (
        AcdcResult,
        CircuitDiscovery,
        EdgeEffects,
        EdgeRunner,
        acdc,
        discover_circuit,
        edge_effects,
        size_grid,
    )
    from mechscope.circuits.edges import (
        Ablation,
        ComponentGraph,
        EdgeMethod,
        EdgeScores,
        edge_attribution,
    )
    from mechscope.circuits.graphs import LogitAttribution, Replacement
    from mechscope.circuits.stream import (
        StreamDecomposition,
        StreamNorms,
        decompose_stream,
        stream_norms,
    )
    from mechscope.circuits.tracing import (
        AttributionGraph,
        GraphValidation,
        Target,
        attribution_graph,
        validate_graph,
    )
    from mechscope.circuits.weights import (
        WeightCircuits,
        copying_score,
        diagonal_top1,
        full_ov_circuit,
        ov_circuit,
        positional_qk,
        qk_circuit,
        weight_circuits,
    )

_EXPORTS = {
    "AttributionGraph": "mechscope.circuits.tracing",
    "attribution_graph": "mechscope.circuits.tracing",
    "GraphValidation": "mechscope.circuits.tracing",
    "Target": "mechscope.circuits.tracing",
    "validate_graph": "mechscope.circuits.tracing",
    "LogitAttribution": "mechscope.circuits.graphs",
    "Replacement": "mechscope.circuits.graphs",
    "Ablation": "mechscope.circuits.edges",
    "acdc": "mechscope.circuits.discovery",
    "AcdcResult": "mechscope.circuits.discovery",
    "CircuitDiscovery": "mechscope.circuits.discovery",
    "ComponentGraph": "mechscope.circuits.edges",
    "discover_circuit": "mechscope.circuits.discovery",
    "edge_attribution": "mechscope.circuits.edges",
    "edge_effects": "mechscope.circuits.discovery",
    "EdgeEffects": "mechscope.circuits.discovery",
    "EdgeMethod": "mechscope.circuits.edges",
    "EdgeRunner": "mechscope.circuits.discovery",
    "EdgeScores": "mechscope.circuits.edges",
    "size_grid": "mechscope.circuits.discovery",
    "composition_scores": "mechscope.circuits.composition",
    "CompositionKind": "mechscope.circuits.composition",
    "copying_score": "mechscope.circuits.weights",
    "decompose_stream": "mechscope.circuits.stream",
    "diagonal_top1": "mechscope.circuits.weights",
    "direct_logit_attribution": "mechscope.circuits.direct",
    "DirectAttribution": "mechscope.circuits.direct",
    "full_ov_circuit": "mechscope.circuits.weights",
    "head_grid": "mechscope.circuits.direct",
    "ov_circuit": "mechscope.circuits.weights",
    "positional_qk": "mechscope.circuits.weights",
    "qk_circuit": "mechscope.circuits.weights",
    "random_baseline": "mechscope.circuits.composition",
    "stream_norms": "mechscope.circuits.stream",
    "StreamDecomposition": "mechscope.circuits.stream",
    "StreamNorms": "mechscope.circuits.stream",
    "weight_circuits": "mechscope.circuits.weights",
    "WeightCircuits": "mechscope.circuits.weights",
}
"""Each public name and the module that defines it (imported on first use)."""
__all__ = [
    "AttributionGraph",
    "GraphValidation",
    "Target",
    "attribution_graph",
    "validate_graph",
    "LogitAttribution",
    "Replacement",
    "Ablation",
    "AcdcResult",
    "CircuitDiscovery",
    "ComponentGraph",
    "EdgeEffects",
    "EdgeMethod",
    "EdgeRunner",
    "EdgeScores",
    "acdc",
    "discover_circuit",
    "edge_attribution",
    "edge_effects",
    "size_grid",
    "CompositionKind",
    "DirectAttribution",
    "StreamDecomposition",
    "StreamNorms",
    "WeightCircuits",
    "composition_scores",
    "copying_score",
    "decompose_stream",
    "diagonal_top1",
    "direct_logit_attribution",
    "full_ov_circuit",
    "head_grid",
    "ov_circuit",
    "positional_qk",
    "qk_circuit",
    "random_baseline",
    "stream_norms",
    "weight_circuits",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
