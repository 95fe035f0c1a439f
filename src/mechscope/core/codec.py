"""Plain JSON for result and config fields, and back again by the field's type annotation.

`encode` turns a value into JSON: enums by value, paths as strings, tuples and lists as lists,
dataclasses and named tuples as lists of their fields in order, and any class with a
``to_json`` method through it (`mechscope.core.axes.HeadId` as ``"1.3"``, a
`mechscope.core.sites.Site` as ``[component, layer, head, pos]``). `decode` reverses it from the
annotation (``tuple[HeadKind, ...]``, ``dict[str, float]``, ``Sentence``, ``int | None``...),
calling a class's ``from_json`` classmethod where it has one. Tensors are not JSON: a result
saves them to safetensors (`is_tensor_type` tells them apart).
"""

import collections.abc
import dataclasses
import types
import typing
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any

import torch

__all__ = ["config_json", "decode", "encode", "is_tensor_type"]


def encode(value: Any) -> Any:  # noqa: ANN401 - any field value
    """``value`` as plain JSON (see the module docstring)."""
    if hasattr(value, "to_json") and not isinstance(value, type):
        return value.to_json()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [encode(getattr(value, f.name)) for f in dataclasses.fields(value)]
    if isinstance(value, tuple | list):
        return [encode(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    return value


def is_tensor_type(hint: Any) -> bool:  # noqa: ANN401 - a type annotation
    """Whether the annotation is a tensor (plain or jaxtyping), possibly optional."""
    candidates = [hint, *typing.get_args(hint)] if _is_union(hint) else [hint]
    for candidate in candidates:
        if candidate is torch.Tensor:
            return True
        array_type = getattr(candidate, "array_type", None)
        if array_type is torch.Tensor:
            return True
    return False


def _is_union(hint: Any) -> bool:  # noqa: ANN401 - a type annotation
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def decode(hint: Any, value: Any) -> Any:  # noqa: ANN401, C901 - one case per kind of type
    """``value`` (as `encode` wrote it) rebuilt as the type ``hint`` annotates."""
    if hint is Any:
        return value
    if value is None:
        if _accepts_none(hint):
            return None
        raise ValueError(f"None where {hint} is expected")
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Annotated:
        return decode(args[0], value)
    if _is_union(hint):
        options = [a for a in args if a is not type(None)]
        for option in options:
            try:
                return decode(option, value)
            except (TypeError, ValueError, KeyError):
                continue
        return value
    if origin is typing.Literal:
        return value
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(args[0], v) for v in value)
        if args:
            return tuple(decode(a, v) for a, v in zip(args, value, strict=True))
        return tuple(value)
    if origin in (list, collections.abc.Sequence):
        inner = args[0] if args else Any
        return [decode(inner, v) for v in value]
    if origin in (dict, collections.abc.Mapping):
        key, inner = args if args else (Any, Any)
        return {decode(key, k): decode(inner, v) for k, v in value.items()}
    if isinstance(hint, type):
        return _decode_class(hint, value)
    return value


def _decode_class(cls: type, value: Any) -> Any:  # noqa: ANN401 - any field value
    from_json = getattr(cls, "from_json", None)
    if callable(from_json):
        return from_json(value)
    if issubclass(cls, Enum):
        return cls(value)
    if cls is Path:
        return Path(value)
    if cls is float:
        return float(value)
    if cls in (int, str, bool):
        return value
    if dataclasses.is_dataclass(cls):
        hints = typing.get_type_hints(cls)
        fields = [f for f in dataclasses.fields(cls) if f.init]
        if isinstance(value, Mapping):
            return cls(
                **{f.name: decode(hints[f.name], value[f.name]) for f in fields if f.name in value}
            )
        return cls(*(decode(hints[f.name], v) for f, v in zip(fields, value, strict=False)))
    if issubclass(cls, tuple) and hasattr(cls, "_fields"):  # a NamedTuple
        hints = typing.get_type_hints(cls)
        names: tuple[str, ...] = getattr(cls, "_fields")  # noqa: B009 - not on tuple's type
        return cls(*(decode(hints[name], v) for name, v in zip(names, value, strict=True)))
    return value


def _accepts_none(hint: Any) -> bool:  # noqa: ANN401 - a type annotation
    return hint is type(None) or (_is_union(hint) and type(None) in typing.get_args(hint))


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


def _plain(value: Any) -> Any:  # noqa: ANN401 - JSON conversion of any config field
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
