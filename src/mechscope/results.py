"""Saving and loading results: JSON metadata beside safetensors tensors, in one directory.

Every result object stores itself as ``DIR/result.json`` (its config, axis labels and scalars)
plus ``DIR/tensors.safetensors`` (its tensors), so results load back without pickle and can
be read from any language.
"""

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from mechscope.errors import MechscopeError

METADATA_FILE = "result.json"
TENSORS_FILE = "tensors.safetensors"


def save_result(
    directory: str | Path,
    tensors: dict[str, torch.Tensor],
    metadata: dict[str, Any],
    metadata_file: str = METADATA_FILE,
) -> Path:
    """Write ``tensors`` and JSON-able ``metadata`` into ``directory`` (created if missing).

    Raises:
        MechscopeError: the directory cannot be written.
    """
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        save_file(
            {k: v.detach().contiguous().cpu() for k, v in tensors.items()}, directory / TENSORS_FILE
        )
        (directory / metadata_file).write_text(json.dumps(metadata, indent=2))
    except OSError as error:
        raise MechscopeError(
            f"cannot write results to {directory}: {error.strerror or error}. "
            "Choose an output directory you can write to (--out)."
        ) from error
    return directory


def load_result(
    directory: str | Path, metadata_file: str = METADATA_FILE
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read back what `save_result` wrote: (tensors, metadata).

    Raises:
        MechscopeError: the directory does not hold a saved result.
    """
    directory = Path(directory)
    try:
        return load_file(directory / TENSORS_FILE), json.loads(
            (directory / metadata_file).read_text()
        )
    except (OSError, json.JSONDecodeError) as error:
        raise MechscopeError(
            f"{directory} does not hold a readable mechscope result ({error})."
        ) from error
