"""Command-line options generated from config dataclasses, help text from field docstrings.

Each config field ``name: T = default`` followed by a docstring becomes ``--name`` (dashes
for underscores) with that docstring as its help, so the CLI and the Python API cannot
drift apart. Options left off the command line are absent from the parsed namespace, so a
caller can tell "not given" from "given the default" (``--resume`` relies on it).
"""

import argparse
import ast
import dataclasses
import inspect
import textwrap
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of a dataclass, read from its source."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs = {}
    for node, after in zip(body, body[1:], strict=False):
        is_doc = isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and is_doc:
            docs[node.target.id] = " ".join(str(after.value.value).split())  # type: ignore[union-attr]
    return docs


def _base_type(annotation: Any) -> tuple[Any, bool]:
    """(the non-None type, whether None is allowed)."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0], True
    return annotation, False


def add_config_arguments(
    parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = ()
) -> None:
    """One ``--option`` per field of dataclass ``cls`` (defaults shown, values suppressed)."""
    docs = field_docs(cls)
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        if field.name in skip:
            continue
        kind, _ = _base_type(hints[field.name])
        flag = "--" + field.name.replace("_", "-")
        default = field.default if field.default is not dataclasses.MISSING else None
        shown = "" if default in (None, (), "") else f" (default: {default})"
        help_text = docs.get(field.name, "") + shown
        common: dict[str, Any] = {
            "dest": field.name,
            "default": argparse.SUPPRESS,
            "help": help_text,
        }
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **common)
        elif typing.get_origin(kind) is tuple:
            parser.add_argument(flag, nargs="*", metavar="PATH", **common)
        elif kind in (int, float, str, Path):
            parser.add_argument(flag, type=kind, metavar=field.name.upper(), **common)
        else:
            raise TypeError(f"{cls.__name__}.{field.name}: no CLI mapping for {kind!r}")


def given_options(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The config fields given on the command line (tuples for sequences)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {
        name: tuple(value) if isinstance(value, list) else value
        for name, value in vars(args).items()
        if name in names
    }


def config_from_args(cls: type[T], args: argparse.Namespace, base: T | None = None) -> T:
    """``base`` (or the defaults) with every option given on the command line applied."""
    if base is None:
        return cls(**given_options(args, cls))
    return dataclasses.replace(base, **given_options(args, cls))  # type: ignore[type-var]
