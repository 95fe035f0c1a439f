"""Rendering: result objects in, plotly figures and offline HTML out. Nothing here runs a model."""

from typing import TYPE_CHECKING

from mechscope.core.lazy import lazy_exports

if TYPE_CHECKING:
    from mechscope.viz.attention import attention_heads_view, model_view, neuron_view
    from mechscope.viz.circuits import conveyor_belt
    from mechscope.viz.features import (
        abstraction_figure,
        density_figure,
        feature_browser,
        sparsity_figure,
    )
    from mechscope.viz.figures import heatmap, line_chart, scatter
    from mechscope.viz.graphs import add_graph, graph_figure, render_attribution_graph
    from mechscope.viz.heads import head_heatmap
    from mechscope.viz.report import OfflineView, Report, offline
    from mechscope.viz.representations import (
        depth_figure,
        probe_figure,
        projection_figure,
        similarity_figure,
        structural_figure,
    )
    from mechscope.viz.vision import (
        attention_distance_figure,
        attention_overlay,
        attention_small_multiples,
        interactive_attention_grid,
    )

_EXPORTS = {
    "add_graph": "mechscope.viz.graphs",
    "graph_figure": "mechscope.viz.graphs",
    "render_attribution_graph": "mechscope.viz.graphs",
    "attention_distance_figure": "mechscope.viz.vision",
    "attention_heads_view": "mechscope.viz.attention",
    "model_view": "mechscope.viz.attention",
    "depth_figure": "mechscope.viz.representations",
    "neuron_view": "mechscope.viz.attention",
    "attention_overlay": "mechscope.viz.vision",
    "attention_small_multiples": "mechscope.viz.vision",
    "conveyor_belt": "mechscope.viz.circuits",
    "head_heatmap": "mechscope.viz.heads",
    "heatmap": "mechscope.viz.figures",
    "interactive_attention_grid": "mechscope.viz.vision",
    "line_chart": "mechscope.viz.figures",
    "scatter": "mechscope.viz.figures",
    "abstraction_figure": "mechscope.viz.features",
    "density_figure": "mechscope.viz.features",
    "sparsity_figure": "mechscope.viz.features",
    "feature_browser": "mechscope.viz.features",
    "probe_figure": "mechscope.viz.representations",
    "projection_figure": "mechscope.viz.representations",
    "offline": "mechscope.viz.report",
    "OfflineView": "mechscope.viz.report",
    "Report": "mechscope.viz.report",
    "similarity_figure": "mechscope.viz.representations",
    "structural_figure": "mechscope.viz.representations",
}
"""Each public name and the module that defines it (imported on first use)."""
__all__ = [
    "add_graph",
    "graph_figure",
    "render_attribution_graph",
    "abstraction_figure",
    "OfflineView",
    "Report",
    "attention_distance_figure",
    "attention_heads_view",
    "model_view",
    "depth_figure",
    "neuron_view",
    "attention_overlay",
    "attention_small_multiples",
    "conveyor_belt",
    "head_heatmap",
    "heatmap",
    "interactive_attention_grid",
    "line_chart",
    "scatter",
    "density_figure",
    "sparsity_figure",
    "feature_browser",
    "offline",
    "probe_figure",
    "projection_figure",
    "similarity_figure",
    "structural_figure",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
