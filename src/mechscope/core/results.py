"""The one Result contract: every result saves as ``result.json`` + ``tensors.safetensors``.

``result.json`` holds the result's ``kind``, the ``class`` that reads it back
(``module:Class``), the ``format_version``, the ``config`` that made it and the ``model`` spec
it was measured on (`Provenance`), and the result's own JSON ``data``. Tensors go to
``tensors.safetensors``, so results load without pickle and from any language.

A result class is its dataclass fields plus its methods. It registers itself by declaring a
``kind`` (SAELens keeps such a registry for saved SAE classes); saving and loading are driven
by the fields (`mechscope.core.codec`): tensor fields go to safetensors under their own names,
every other field to JSON, decoded back by its type annotation. The base ``__post_init__``
checks every tensor field against its jaxtyping annotation (rank, and one size per axis name
across the fields), then calls the class's own `Result._validate`.

`load_result(dir)` loads any kind: the class recorded in ``result.json`` is imported, so
``core`` names no class above it. Results written before the ``class`` entry existed (format
version 1) are found by importing mechscope's packages (and a checkout's ``experiments``) until
their kind has registered, and read through the class's `Result._upgrade_v1`.
"""

import dataclasses
import importlib
import json
import os
import pkgutil
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from mechscope.core.codec import config_json, decode, encode, is_tensor_type
from mechscope.core.errors import MechscopeError

__all__ = [
    "FORMAT_VERSION",
    "METADATA_FILE",
    "TENSORS_FILE",
    "Provenance",
    "Result",
    "config_json",
    "load_result",
    "registered_kinds",
    "regroup_v1",
    "result_class",
    "write_result",
]

METADATA_FILE = "result.json"
TENSORS_FILE = "tensors.safetensors"
FORMAT_VERSION = 2
"""2: saved from the fields, with the class recorded; 1 (read through `Result._upgrade_v1`):
each class wrote its own layout."""

_REGISTRY: dict[str, type["Result"]] = {}
"""Every result kind defined so far (imported), and its class."""

_SEARCHED = ("mechscope", "experiments")
"""Packages imported to find a kind that a result.json names without its class (version 1)."""


@dataclass(frozen=True, kw_only=True)
class Provenance:
    """What made a result: the config (as JSON) and the model spec it ran on."""

    config: dict[str, Any] = field(default_factory=dict)
    """The settings of the job or function call that produced the result."""
    model: str = ""
    """The model spec, as `mechscope.models.load_model` takes it ('' if unknown)."""


@dataclass(frozen=True)
class Result:
    """Base of every result: save, load (`load_result`), provenance and a dataframe view.

    Subclasses are frozen dataclasses that declare ``kind`` (registered on definition), put
    their checks in `_validate` and, where they want readable tables in ``result.json``
    beside the fields, return them from `_summary`.
    """

    kind: ClassVar[str] = ""
    provenance: Provenance = field(default_factory=Provenance, kw_only=True)
    """The config and model spec that made this result."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__post_init__" in cls.__dict__:
            raise TypeError(
                f"{cls.__name__} defines __post_init__; put its checks in _validate (the base "
                "__post_init__ checks tensor shapes first, then calls _validate)"
            )
        if not cls.kind:
            return
        known = _REGISTRY.get(cls.kind)
        if known is not None and _class_path(known) != _class_path(cls):
            raise TypeError(
                f"result kind {cls.kind!r} of {_class_path(cls)} is taken by {_class_path(known)}"
            )
        _REGISTRY[cls.kind] = cls

    def __post_init__(self) -> None:
        _check_tensor_fields(self)
        self._validate()

    def _validate(self) -> None:
        """The class's own checks (raise ValueError); shapes were checked already."""

    def _summary(self) -> dict[str, Any]:
        """Readable JSON written beside the fields (tables, labels); ignored on load."""
        return {}

    def _tensors(self) -> dict[str, torch.Tensor]:
        """The tensors to save, by name.

        Tensor fields under their names, a dict of tensors as ``field.key``, a nested
        result's tensors as ``field.name``.
        """
        out: dict[str, torch.Tensor] = {}
        for f in _data_fields(type(self)):
            value = getattr(self, f.name)
            if isinstance(value, torch.Tensor):
                out[f.name] = value
            elif isinstance(value, Result):
                out |= {f"{f.name}.{k}": v for k, v in value._tensors().items()}
            elif _tensor_dict(value):
                out |= {f"{f.name}.{k}": v for k, v in value.items()}
        return out

    def _data(self) -> dict[str, Any]:
        """Every other field as plain JSON, plus `_summary`.

        A dict of tensors gives its keys; a nested result, its own data.
        """
        fields: dict[str, Any] = {}
        for f in _data_fields(type(self)):
            value = getattr(self, f.name)
            if isinstance(value, torch.Tensor):
                continue
            if isinstance(value, Result):
                fields[f.name] = value._data()
            elif _tensor_dict(value):
                fields[f.name] = list(value)
            else:
                fields[f.name] = encode(value)
        return {**self._summary(), **fields}

    @classmethod
    def _from_saved(cls: type["R"], tensors: dict[str, torch.Tensor], data: dict[str, Any]) -> "R":
        """Rebuild the result from what `_tensors` and `_data` gave (no provenance)."""
        hints = typing.get_type_hints(cls, include_extras=True)
        values: dict[str, Any] = {}
        for f in _data_fields(cls):
            hint = hints[f.name]
            nested = _result_type(hint)
            if f.name in tensors:
                values[f.name] = tensors[f.name]
            elif nested is not None and f.name in data:
                prefix = f"{f.name}."
                mine = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
                values[f.name] = nested._from_saved(mine, data[f.name])
            elif _is_tensor_dict_type(hint) and f.name in data:
                values[f.name] = {key: tensors[f"{f.name}.{key}"] for key in data[f.name]}
            elif f.name in data:
                values[f.name] = decode(hint, data[f.name])
            elif is_tensor_type(hint) and _optional(hint):
                values[f.name] = None
        return cls(**values)

    @classmethod
    def _upgrade_v1(
        cls, tensors: dict[str, torch.Tensor], data: dict[str, Any]
    ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """A format-1 result's tensors and data in today's layout (default: the same)."""
        return tensors, data

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
            "class": _class_path(type(self)),
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


def _class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _data_fields(cls: type) -> list[dataclasses.Field]:
    """The fields a result saves: those set on construction, but its provenance."""
    return [f for f in dataclasses.fields(cls) if f.init and f.name != "provenance"]


def _tensor_dict(value: Any) -> bool:  # noqa: ANN401 - any field value
    return (
        isinstance(value, dict)
        and bool(value)
        and all(isinstance(v, torch.Tensor) for v in value.values())
    )


def _is_tensor_dict_type(hint: Any) -> bool:  # noqa: ANN401 - a type annotation
    args = typing.get_args(hint)
    return typing.get_origin(hint) is dict and len(args) == 2 and is_tensor_type(args[1])


def _result_type(hint: Any) -> "type[Result] | None":  # noqa: ANN401 - a type annotation
    return hint if isinstance(hint, type) and issubclass(hint, Result) else None


def _optional(hint: Any) -> bool:  # noqa: ANN401 - a type annotation
    return type(None) in typing.get_args(hint)


def _check_tensor_fields(result: Result) -> None:
    """Check each tensor field against its jaxtyping annotation.

    Each has the annotation's rank, and each axis name one size across the fields.

    Raises:
        ValueError: a field is not a tensor, has the wrong rank, or disagrees on an axis.
    """
    hints = typing.get_type_hints(type(result), include_extras=True)
    sizes: dict[str, tuple[int, str]] = {}
    for f in _data_fields(type(result)):
        hint = hints.get(f.name)
        if hint is None or not is_tensor_type(hint):
            continue
        value = getattr(result, f.name)
        if value is None and _optional(hint):
            continue
        if not isinstance(value, torch.Tensor):
            raise ValueError(
                f"{type(result).__name__}.{f.name} must be a tensor, not {type(value).__name__}"
            )
        dims = _jaxtyping_dims(hint)
        if dims is None:
            continue
        if len(dims) != value.ndim:
            raise ValueError(
                f"{type(result).__name__}.{f.name} has shape {tuple(value.shape)}; want "
                f"({', '.join(dims)})"
            )
        for name, size in zip(dims, value.shape, strict=True):
            if not name.isidentifier():
                continue  # a fixed size or an expression: jaxtyping's own checks cover it
            seen = sizes.setdefault(name, (size, f.name))
            if seen[0] != size:
                raise ValueError(
                    f"{type(result).__name__}: axis {name!r} is {seen[0]} in {seen[1]} but "
                    f"{size} in {f.name}"
                )


def _jaxtyping_dims(hint: Any) -> list[str] | None:  # noqa: ANN401 - a type annotation
    """The axis names of a jaxtyping annotation (None: no fixed rank, e.g. ``*batch``)."""
    for candidate in (hint, *typing.get_args(hint)):
        spec = getattr(candidate, "dim_str", None)
        if spec is None:
            continue
        names = spec.split()
        if any(n.startswith(("*", "...", "#")) or n == "..." for n in names):
            return None
        return names
    return None


def regroup_v1(
    tensors: dict[str, torch.Tensor], data: dict[str, Any], name: str, old: dict[str, str]
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Gather format-1 tensors into a dict-of-tensors field, for `Result._upgrade_v1`.

    ``old`` maps each key to the name it was saved under; the field ``name`` saves as
    ``name.key``, its keys in ``data[name]``.
    """
    moved = {f"{name}.{key}": tensors[saved] for key, saved in old.items()}
    kept = {k: v for k, v in tensors.items() if k not in set(old.values())}
    return kept | moved, {**data, name: list(old)}


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
        write_tensors(
            {k: v.detach().contiguous().cpu() for k, v in tensors.items()}, directory / TENSORS_FILE
        )
        (directory / METADATA_FILE).write_text(json.dumps(metadata, indent=2))
    except OSError as error:
        raise MechscopeError(
            f"cannot write results to {directory}: {error.strerror or error}. "
            "Choose an output directory you can write to (--out)."
        ) from error
    return directory


def registered_kinds() -> dict[str, type[Result]]:
    """Every result kind mechscope (and a checkout's experiments) defines, and its class."""
    _import_everything()
    return dict(_REGISTRY)


def result_class(kind: str, class_path: str = "") -> type[Result]:
    """The class that reads results of ``kind`` (``class_path``: ``module:Class`` if known).

    Raises:
        MechscopeError: an unknown kind, or one whose module cannot be imported.
    """
    failed: ImportError | None = None
    if kind not in _REGISTRY and class_path:
        module = class_path.split(":")[0]
        try:
            importlib.import_module(module)
        except ImportError as error:  # e.g. a class that has moved since: found by kind below
            failed = error
    if kind not in _REGISTRY:
        _import_everything()
    if kind not in _REGISTRY and failed is not None:
        raise MechscopeError(
            f"results of kind {kind!r} are read by {class_path.split(':')[0]}, which cannot be "
            f"imported ({failed}); experiments' results load from a mechscope checkout."
        ) from failed
    if kind not in _REGISTRY:
        raise MechscopeError(
            f"unknown result kind {kind!r}; known: {', '.join(sorted(_REGISTRY))}. Results of "
            "experiments load from a mechscope checkout (run from the repository)."
        )
    return _REGISTRY[kind]


def _import_everything() -> None:
    """Import every module of mechscope and of a checkout's experiments, registering kinds."""
    for name in _SEARCHED:
        try:
            package = importlib.import_module(name)
        except ImportError:
            continue
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{name}."):
            if info.name.rsplit(".", 1)[-1].startswith("__"):
                continue  # __main__ modules run commands
            try:
                importlib.import_module(info.name)
            except ImportError:
                continue  # an optional extra that is not installed


def write_tensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    """`safetensors.torch.save_file`, then the file mode every other file gets (the umask's).

    safetensors writes through a private temporary file (mode 0600); results, checkpoints
    and caches are meant to be shared like the JSON beside them.
    """
    save_file(tensors, path)
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


def read_tensors(path: Path, fix: str) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file, or one line naming the file and ``fix``.

    Raises:
        MechscopeError: the file is missing, unreadable, corrupt or truncated.
    """
    try:
        return load_file(path)
    except (OSError, SafetensorError, ValueError) as error:
        raise MechscopeError(
            f"{path} cannot be read: corrupt or truncated ({error}); {fix}."
        ) from error


def load_result(directory: str | Path) -> Result:
    """Load any saved result: the kind in ``result.json`` picks the class.

    Raises:
        MechscopeError: the directory does not hold a readable result.
    """
    directory = Path(directory)
    try:
        meta = json.loads((directory / METADATA_FILE).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise MechscopeError(
            f"{directory} does not hold a readable mechscope result ({error}); run the job "
            "again to write it."
        ) from error
    if not isinstance(meta, dict) or "kind" not in meta:
        raise MechscopeError(f"{directory / METADATA_FILE} names no result kind; not a result.")
    tensors = read_tensors(directory / TENSORS_FILE, "run the job again to write it")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise MechscopeError(
            f"{directory} was saved by a newer mechscope (format {meta['format_version']}); "
            "upgrade mechscope to read it."
        )
    cls = result_class(meta["kind"], meta.get("class", ""))
    data = meta["data"]
    if meta.get("format_version", 1) < 2:
        tensors, data = cls._upgrade_v1(tensors, data)
    result = cls._from_saved(tensors, data)
    provenance = Provenance(config=meta.get("config", {}), model=meta.get("model", ""))
    return dataclasses.replace(result, provenance=provenance)._after_load(directory)
