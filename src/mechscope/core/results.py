"""The one Result contract: every result saves as ``result.json`` + ``tensors.safetensors``.

``result.json`` holds the result's ``kind`` (which class reads it back), the
``format_version``, the ``config`` that made it and the ``model`` spec it was measured on
(`Provenance`), and the result's own JSON ``data`` (axis labels, scalars). Tensors go to
``tensors.safetensors``, so results load without pickle and from any language.

`load_result(dir)` loads any kind: the kind names its class in `KINDS` (SAELens keeps such a
registry for saved SAEs), imported on first use. A subclass declares its ``kind``, and
implements `Result._tensors`, `Result._data` and `Result._from_saved`; `Result.to_dataframe`
gives one row per natural unit (site, head, boundary x position, ...).
"""

import dataclasses
import importlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import torch
from safetensors.torch import load_file, save_file

from mechscope.core.errors import MechscopeError

METADATA_FILE = "result.json"
TENSORS_FILE = "tensors.safetensors"
FORMAT_VERSION = 1

KINDS: dict[str, str] = {
    "head-scores": "mechscope.heads.scores:HeadScores",
    "syntax-scores": "mechscope.heads.syntax:SyntaxScores",
    "verification": "mechscope.heads.verification:Verification",
    "sentence-attention": "mechscope.heads.patterns:SentenceAttention",
    "patching": "mechscope.interventions.activation:PatchingResult",
    "ablation-effects": "mechscope.interventions.ablation:AblationEffects",
    "path-patching": "mechscope.interventions.path:PathResult",
    "trajectory": "mechscope.lens.logit:Trajectory",
    "lens-comparison": "mechscope.lens.tuned:LensComparison",
    "stream-decomposition": "mechscope.circuits.stream:StreamDecomposition",
    "stream-norms": "mechscope.circuits.stream:StreamNorms",
    "direct-attribution": "mechscope.circuits.direct:DirectAttribution",
    "weight-circuits": "mechscope.circuits.weights:WeightCircuits",
    "attention-stats": "mechscope.diagnostics.attention:AttentionStats",
    "rank-stats": "mechscope.diagnostics.rank:RankStats",
    "anisotropy": "mechscope.diagnostics.anisotropy:Anisotropy",
    "gradient-norms": "mechscope.diagnostics.gradients:GradientNorms",
    "induction-reproduction": "experiments.induction_heads:InductionResult",
    "facts-lens": "experiments.smollm_facts:FactsLensResult",
    "smollm-tuned-lens": "experiments.smollm_tuned_lens:TunedLensResult",
    "ioi-circuit": "experiments.smollm_ioi:IoiResult",
    "head-atlas": "experiments.smollm_atlas:AtlasResult",
    "induction-circuits": "experiments.induction_circuits:InductionCircuitsResult",
    "smollm-dla": "experiments.smollm_dla:DlaResult",
    "rank-collapse": "experiments.rank_collapse:RankCollapseResult",
    "gradient-health": "experiments.gradient_health:GradientHealthResult",
    "class-geometry": "mechscope.diagnostics.anisotropy:ClassGeometry",
    "training-health": "experiments.training_health:TrainingHealthResult",
    "overfitting": "experiments.overfitting:OverfittingResult",
    "activations": "mechscope.representations.activations:Activations",
    "probe": "mechscope.representations.probes:ProbeResult",
    "probe-table": "mechscope.representations.probes:ProbeTable",
    "structural-probe": "mechscope.representations.structural:StructuralResult",
    "projection": "mechscope.representations.projections:Projection",
    "similarity": "mechscope.representations.similarities:Similarity",
    "layer-hierarchy": "experiments.layer_hierarchy:HierarchyResult",
    "grid-head-kinds": "mechscope.vision.kinds:GridHeadKinds",
    "object-attention": "mechscope.vision.objects:ObjectAttention",
    "class-lens": "mechscope.vision.lens:ClassLens",
    "image-patching": "mechscope.vision.patching:ImagePatching",
    "vit-attention": "experiments.vit_attention:VitAttentionResult",
}
"""Every saved kind and the class that reads it (``module:Class``); experiments' kinds load
from a checkout (the ``experiments`` package sits beside ``src``)."""


@dataclass(frozen=True, kw_only=True)
class Provenance:
    """What made a result: the config (as JSON) and the model spec it ran on."""

    config: dict[str, Any] = field(default_factory=dict)
    """The settings of the job or function call that produced the result."""
    model: str = ""
    """The model spec, as `mechscope.models.load_model` takes it ('' if unknown)."""


@dataclass(frozen=True)
class Result:
    """Base of every result: save, load (`load_result`), provenance and a dataframe view."""

    kind: ClassVar[str] = ""
    provenance: Provenance = field(default_factory=Provenance, kw_only=True)
    """The config and model spec that made this result."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind and cls.kind not in KINDS:
            raise TypeError(f"{cls.__name__}.kind {cls.kind!r} is missing from results.KINDS")

    def _tensors(self) -> dict[str, torch.Tensor]:
        """The tensors to save, by name."""
        raise NotImplementedError

    def _data(self) -> dict[str, Any]:
        """Everything else, as plain JSON."""
        raise NotImplementedError

    @classmethod
    def _from_saved(cls, tensors: dict[str, torch.Tensor], data: dict[str, Any]) -> "Result":
        """Rebuild the result from what `_tensors` and `_data` gave (no provenance)."""
        raise NotImplementedError

    def _after_load(self: "R", directory: Path) -> "R":  # noqa: ARG002 - used by overrides
        """Attach what lives beside the two files (e.g. a memory-mapped array); default: none."""
        return self

    def to_dataframe(self) -> Any:  # noqa: ANN401 - pandas is imported lazily
        """The result as a pandas DataFrame, one row per natural unit."""
        raise NotImplementedError

    def with_provenance(self: "R", config: Any = None, model: str = "") -> "R":  # noqa: ANN401
        """A copy carrying ``config`` (a dataclass or a dict) and the model spec."""
        return dataclasses.replace(
            self, provenance=Provenance(config=config_json(config), model=model)
        )

    def save(self, directory: str | Path) -> Path:
        """Write ``result.json`` and ``tensors.safetensors`` into ``directory`` (created).

        Raises:
            MechscopeError: the directory cannot be written.
        """
        meta = {
            "kind": self.kind,
            "format_version": FORMAT_VERSION,
            "config": self.provenance.config,
            "model": self.provenance.model,
            "data": self._data(),
        }
        return write_result(directory, self._tensors(), meta)

    @classmethod
    def load(cls: type["R"], directory: str | Path) -> "R":
        """Read a result of this class back (`load_result` reads any kind).

        Raises:
            MechscopeError: no result there, or one of another kind.
        """
        result = load_result(directory)
        if not isinstance(result, cls):
            raise MechscopeError(
                f"{directory} holds a {result.kind} result, not {cls.kind}; use load_result()."
            )
        return result


R = TypeVar("R", bound=Result)


def config_json(config: Any) -> dict[str, Any]:  # noqa: ANN401 - any dataclass or dict
    """A config as plain JSON: dataclass fields (enums by value, paths as strings) or a dict."""
    if config is None:
        return {}
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    elif isinstance(config, Mapping):
        fields = dict(config)
    else:
        raise TypeError(f"a config is a dataclass or a mapping, not {type(config).__name__}")
    return {str(key): _plain(value) for key, value in fields.items()}


def _plain(value: Any) -> Any:  # noqa: ANN401 - JSON conversion of any field
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return config_json(value)
    return value


def write_result(
    directory: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, Any]
) -> Path:
    """Write ``tensors`` and JSON ``metadata`` into ``directory``, the JSON last.

    Raises:
        MechscopeError: the directory cannot be written.
    """
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        save_file(
            {k: v.detach().contiguous().cpu() for k, v in tensors.items()}, directory / TENSORS_FILE
        )
        (directory / METADATA_FILE).write_text(json.dumps(metadata, indent=2))
    except OSError as error:
        raise MechscopeError(
            f"cannot write results to {directory}: {error.strerror or error}. "
            "Choose an output directory you can write to (--out)."
        ) from error
    return directory


def result_class(kind: str) -> type[Result]:
    """The class that reads results of ``kind``.

    Raises:
        MechscopeError: an unknown kind, or one whose module cannot be imported.
    """
    if kind not in KINDS:
        raise MechscopeError(f"unknown result kind {kind!r}; known: {', '.join(KINDS)}.")
    module, name = KINDS[kind].split(":")
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError as error:
        raise MechscopeError(
            f"results of kind {kind!r} are read by {module}, which cannot be imported "
            f"({error}); experiments' results load from a mechscope checkout."
        ) from error


def load_result(directory: str | Path) -> Result:
    """Load any saved result: the kind in ``result.json`` picks the class.

    Raises:
        MechscopeError: the directory does not hold a readable result.
    """
    directory = Path(directory)
    try:
        meta = json.loads((directory / METADATA_FILE).read_text())
        tensors = load_file(directory / TENSORS_FILE)
    except (OSError, json.JSONDecodeError) as error:
        raise MechscopeError(
            f"{directory} does not hold a readable mechscope result ({error})."
        ) from error
    if not isinstance(meta, dict) or "kind" not in meta:
        raise MechscopeError(f"{directory / METADATA_FILE} names no result kind; not a result.")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise MechscopeError(
            f"{directory} was saved by a newer mechscope (format {meta['format_version']}); "
            "upgrade mechscope to read it."
        )
    cls = result_class(meta["kind"])
    result = cls._from_saved(tensors, meta["data"])
    provenance = Provenance(config=meta.get("config", {}), model=meta.get("model", ""))
    return dataclasses.replace(result, provenance=provenance)._after_load(directory)
