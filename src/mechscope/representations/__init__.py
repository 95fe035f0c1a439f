"""Representations: what each layer encodes.

- `collect`: hidden states at any sites, pooled to tokens, words or sentences
  (`Activations`), in memory or in a memory-mapped store;
- `tasks`: probing labels from a treebank (UPOS, relation, depth, distance, genre), the
  control task of Hewitt & Liang 2019;
- `probes`: linear and MLP probes per layer with intervals, controls and baselines
  (`probe_layers` -> `ProbeResult`);
- `structural`: Hewitt & Manning 2019's distance and depth probes (`structural_probe`);
- `projections`: PCA / t-SNE / UMAP of a layer's units (`project` -> `Projection`);
- `mentions`: coreferent vs other mention similarity and antecedent retrieval by layer;
- `similarity`: linear / RBF CKA, SVCCA, PWCCA between layers (`similarity_matrix`).
"""

from typing import TYPE_CHECKING

from mechscope.core.lazy import lazy_exports

if TYPE_CHECKING:
    from mechscope.representations.activations import Activations, collect
    from mechscope.representations.choices import (
        Method,
        Pooling,
        ProbeKind,
        ProbeTask,
        ProjectionMethod,
        SurveySettings,
        boundary_numbers,
    )
    from mechscope.representations.directions import DirectionResult, direction_readout
    from mechscope.representations.mentions import MentionSimilarity, mention_similarity
    from mechscope.representations.probes import (
        ProbeResult,
        ProbeSettings,
        ProbeSolver,
        ProbeTable,
        fit_probe,
        probe_layers,
    )
    from mechscope.representations.projections import Projection, project
    from mechscope.representations.similarities import (
        Similarity,
        linear_cka,
        similarity,
        similarity_matrix,
    )
    from mechscope.representations.structural import StructuralResult, structural_probe
    from mechscope.representations.survey import (
        STRUCTURAL,
        Survey,
        check_tasks,
        probe_survey,
        supported_tasks,
    )
    from mechscope.representations.tasks import control_labels, encode, task_labels

_EXPORTS = {
    "boundary_numbers": "mechscope.representations.choices",
    "MentionSimilarity": "mechscope.representations.mentions",
    "mention_similarity": "mechscope.representations.mentions",
    "supported_tasks": "mechscope.representations.survey",
    "DirectionResult": "mechscope.representations.directions",
    "direction_readout": "mechscope.representations.directions",
    "Activations": "mechscope.representations.activations",
    "check_tasks": "mechscope.representations.survey",
    "collect": "mechscope.representations.activations",
    "control_labels": "mechscope.representations.tasks",
    "encode": "mechscope.representations.tasks",
    "fit_probe": "mechscope.representations.probes",
    "linear_cka": "mechscope.representations.similarities",
    "Method": "mechscope.representations.choices",
    "Pooling": "mechscope.representations.choices",
    "probe_layers": "mechscope.representations.probes",
    "probe_survey": "mechscope.representations.survey",
    "ProbeKind": "mechscope.representations.choices",
    "ProbeResult": "mechscope.representations.probes",
    "ProbeSettings": "mechscope.representations.probes",
    "ProbeSolver": "mechscope.representations.probes",
    "ProbeTable": "mechscope.representations.probes",
    "project": "mechscope.representations.projections",
    "Projection": "mechscope.representations.projections",
    "ProjectionMethod": "mechscope.representations.choices",
    "Similarity": "mechscope.representations.similarities",
    "similarity": "mechscope.representations.similarities",
    "similarity_matrix": "mechscope.representations.similarities",
    "STRUCTURAL": "mechscope.representations.survey",
    "structural_probe": "mechscope.representations.structural",
    "StructuralResult": "mechscope.representations.structural",
    "Survey": "mechscope.representations.survey",
    "SurveySettings": "mechscope.representations.choices",
    "ProbeTask": "mechscope.representations.choices",
    "task_labels": "mechscope.representations.tasks",
}
"""Each public name and the module that defines it (imported on first use)."""
__all__ = [
    "boundary_numbers",
    "MentionSimilarity",
    "mention_similarity",
    "supported_tasks",
    "DirectionResult",
    "direction_readout",
    "Activations",
    "Method",
    "Pooling",
    "ProbeKind",
    "ProbeResult",
    "ProbeSettings",
    "ProbeSolver",
    "ProbeTable",
    "Projection",
    "ProjectionMethod",
    "STRUCTURAL",
    "Similarity",
    "StructuralResult",
    "Survey",
    "SurveySettings",
    "ProbeTask",
    "check_tasks",
    "collect",
    "control_labels",
    "encode",
    "fit_probe",
    "linear_cka",
    "probe_layers",
    "probe_survey",
    "project",
    "similarity",
    "similarity_matrix",
    "structural_probe",
    "task_labels",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
