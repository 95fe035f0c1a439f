"""Interventions: one patching engine, and every front-end built on it.

- `runs`: a job's clean and corrupted runs, cached once (`PairedRuns`);
- `engine`: many groups of patched sites per forward pass, each chunk starting late;
- `activation`: activation patching (`activation_patching`, `PatchingResult`);
- `attribution`: attribution patching (first-order estimates, one backward pass);
- `path`: path patching (sender -> receiver through Q, K or V);
- `ablation`: zero / mean / resample ablation (`ablate`, `ablation_effects`);
- `dropping`: whole blocks skipped (`dropped_blocks`, `layer_dropping`);
- `pairs`: clean/corrupted prompt pairs with answers (`TaskPairs`).

Names are imported on first use, so importing this package stays instant.
"""

from typing import TYPE_CHECKING

from mechscope.core.lazy import lazy_exports

if TYPE_CHECKING:
    from mechscope.interventions.ablation import AblationEffects, ablate, ablation_effects
    from mechscope.interventions.activation import (
        PatchingResult,
        activation_patching,
        patching_hooks,
    )
    from mechscope.interventions.attribution import attribution_patching, correlation
    from mechscope.interventions.choices import (
        AblationType,
        BuiltinTask,
        IoiCorruption,
        PatchComponent,
        PatchDirection,
        TaskMetric,
    )
    from mechscope.interventions.dropping import (
        LayerDropping,
        Measure,
        dropped_blocks,
        layer_dropping,
    )
    from mechscope.interventions.pairs import (
        TaskPairs,
        copy_name_pairs,
        ioi_pairs,
        repeated_pairs,
        task_from_prompts,
    )
    from mechscope.interventions.path import (
        PathResult,
        path_attribution,
        path_patching,
        sender_sweep,
        split_qkv_inputs,
    )
    from mechscope.interventions.runs import PairedRuns, RunCache

_EXPORTS = {
    "dropped_blocks": "mechscope.interventions.dropping",
    "layer_dropping": "mechscope.interventions.dropping",
    "LayerDropping": "mechscope.interventions.dropping",
    "Measure": "mechscope.interventions.dropping",
    "ablate": "mechscope.interventions.ablation",
    "ablation_effects": "mechscope.interventions.ablation",
    "AblationEffects": "mechscope.interventions.ablation",
    "AblationType": "mechscope.interventions.choices",
    "activation_patching": "mechscope.interventions.activation",
    "attribution_patching": "mechscope.interventions.attribution",
    "BuiltinTask": "mechscope.interventions.choices",
    "copy_name_pairs": "mechscope.interventions.pairs",
    "correlation": "mechscope.interventions.attribution",
    "ioi_pairs": "mechscope.interventions.pairs",
    "IoiCorruption": "mechscope.interventions.choices",
    "PairedRuns": "mechscope.interventions.runs",
    "PatchComponent": "mechscope.interventions.choices",
    "PatchDirection": "mechscope.interventions.choices",
    "patching_hooks": "mechscope.interventions.activation",
    "PatchingResult": "mechscope.interventions.activation",
    "path_attribution": "mechscope.interventions.path",
    "path_patching": "mechscope.interventions.path",
    "split_qkv_inputs": "mechscope.interventions.path",
    "PathResult": "mechscope.interventions.path",
    "repeated_pairs": "mechscope.interventions.pairs",
    "RunCache": "mechscope.interventions.runs",
    "sender_sweep": "mechscope.interventions.path",
    "task_from_prompts": "mechscope.interventions.pairs",
    "TaskMetric": "mechscope.interventions.choices",
    "TaskPairs": "mechscope.interventions.pairs",
}
"""Each public name and the module that defines it (imported on first use)."""
__all__ = [
    "LayerDropping",
    "Measure",
    "dropped_blocks",
    "layer_dropping",
    "AblationEffects",
    "AblationType",
    "BuiltinTask",
    "IoiCorruption",
    "PairedRuns",
    "PatchComponent",
    "PatchDirection",
    "PatchingResult",
    "PathResult",
    "RunCache",
    "TaskMetric",
    "TaskPairs",
    "ablate",
    "ablation_effects",
    "activation_patching",
    "attribution_patching",
    "copy_name_pairs",
    "correlation",
    "ioi_pairs",
    "patching_hooks",
    "path_attribution",
    "path_patching",
    "repeated_pairs",
    "sender_sweep",
    "split_qkv_inputs",
    "task_from_prompts",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
