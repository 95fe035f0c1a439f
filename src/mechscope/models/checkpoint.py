"""mechscope checkpoints: a directory holding one model, readable without network.

Layout (written by `save_checkpoint`, and by the training module at every checkpoint step):

    model.safetensors        the TransformerLens state dict
    mechscope_model.json     format version, model class, the full HookedTransformerConfig,
                             and free-form metadata (training config, step, metrics...)
    tokenizer.json ...       the tokenizer, as Hugging Face ``save_pretrained`` writes it

Weights are stored exactly as held (no folding), so a round trip is bit-identical. A weight
held as the transpose of a contiguous tensor (`mechscope.models.base.linear_layout`: the gated
MLP's and the unembedding's) is stored as that contiguous tensor, its key listed under
``"transposed"`` in ``mechscope_model.json`` (format 2): loading takes it back without a copy.
A checkpoint with no such weight is written as format 1, which every reader understands.
"""

import dataclasses
import json
from enum import Enum
from pathlib import Path
from typing import Any

import torch

from mechscope.core.errors import MechscopeError, ModelSpecError
from mechscope.core.results import read_tensors, write_tensors
from mechscope.models.base import Model, is_encoder, place, quiet_transformer_lens, resolve_device
from mechscope.models.bridge import is_bridge
from mechscope.models.legacy import HookedEncoder, HookedTransformer, HookedTransformerConfig
from mechscope.models.vit import VIT_MODEL_CLASS, HookedViT, ViTConfig

CHECKPOINT_CONFIG = "mechscope_model.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)
CORRUPT_FIX = (
    "delete that checkpoint directory and write it again (a deleted SmolLM2 cache is rebuilt "
    "on the next load)"
)


class ModelClass(Enum):
    """Which TransformerLens class a checkpoint holds."""

    DECODER = "HookedTransformer"
    ENCODER = "HookedEncoder"
    VIT = VIT_MODEL_CLASS
    """A `mechscope.models.vit.HookedViT`; its config is the `ViTConfig`."""


def model_class(model: Model) -> ModelClass:
    """The class a checkpoint of ``model`` records."""
    if isinstance(model, HookedViT):
        return ModelClass.VIT
    return ModelClass.ENCODER if is_encoder(model) else ModelClass.DECODER


def config_to_json(cfg: HookedTransformerConfig) -> dict[str, Any]:
    """Every init field of the config, JSON-ready (dtype as its name, device left out)."""
    out: dict[str, Any] = {}
    for field in dataclasses.fields(cfg):
        if not field.init or field.name == "device":
            continue
        value = getattr(cfg, field.name)
        out[field.name] = str(value).removeprefix("torch.") if field.name == "dtype" else value
    return out


def config_from_json(data: dict[str, Any], device: torch.device) -> HookedTransformerConfig:
    """Inverse of `config_to_json`, placing the model on ``device``."""
    data = dict(data, device=str(device), dtype=getattr(torch, data.get("dtype", "float32")))
    return HookedTransformerConfig(**data)


def save_checkpoint(
    model: Model, directory: str | Path, metadata: dict[str, Any] | None = None
) -> Path:
    """Write ``model`` (weights, config, tokenizer) and ``metadata`` into ``directory``.

    Returns:
        The checkpoint directory.

    Raises:
        MechscopeError: the directory cannot be created or written.
    """
    directory = Path(directory)
    if is_bridge(model):
        raise MechscopeError(
            "a Bridge model is a Hugging Face model: save it with "
            "model.original_model.save_pretrained(DIR), or load it with backend='hooked'."
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        state, transposed = stored_state(model)
        write_tensors(state, directory / WEIGHTS_FILE)
        record = {
            "format_version": FORMAT_VERSION if transposed else 1,
            "transposed": transposed,
            "model_class": model_class(model).value,
            "config": (
                model.vit_cfg.to_json()
                if isinstance(model, HookedViT)
                else config_to_json(model.cfg)
            ),
            "metadata": metadata or {},
        }
        (directory / CHECKPOINT_CONFIG).write_text(json.dumps(record, indent=2))
        if model.tokenizer is not None:
            model.tokenizer.save_pretrained(directory)
    except OSError as error:
        raise MechscopeError(
            f"cannot write checkpoint to {directory}: {error.strerror or error}. "
            "Choose a directory you can write to."
        ) from error
    return directory


def stored_state(model: Model) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The state dict as written: contiguous tensors, and the keys stored transposed."""
    state, transposed = {}, []
    for key, value in model.state_dict().items():
        value = value.detach().cpu()
        if value.dim() == 2 and not value.is_contiguous() and value.T.is_contiguous():
            transposed.append(key)
            value = value.T
        state[key] = value.contiguous()
    return state, transposed


def stored_weights(weights_file: Path, record: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The state dict in a checkpoint's weights file, each weight in the layout it was held."""
    state = read_tensors(weights_file, CORRUPT_FIX)
    for key in record.get("transposed", []):  # held as the transpose of what was stored
        state[key] = state[key].T
    return state


def read_checkpoint_record(directory: Path) -> dict[str, Any]:
    """The parsed ``mechscope_model.json`` of a checkpoint directory."""
    try:
        record = json.loads((directory / CHECKPOINT_CONFIG).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ModelSpecError(
            f"{directory / CHECKPOINT_CONFIG} cannot be read ({error}); the checkpoint is damaged."
            " Re-save it, or point at another checkpoint."
        ) from error
    if record.get("format_version") not in READABLE_FORMATS:
        raise ModelSpecError(
            f"{directory}: checkpoint format {record.get('format_version')!r} is not one of "
            f"{', '.join(map(str, READABLE_FORMATS))}; upgrade mechscope to read it."
        )
    return record


def load_checkpoint(directory: str | Path, device: str | torch.device | None = None) -> Model:
    """Load a checkpoint written by `save_checkpoint` (weights bit-identical)."""
    from transformers import AutoTokenizer

    directory = Path(directory)
    record = read_checkpoint_record(directory)
    if record["model_class"] == ModelClass.VIT.value:
        return _load_vit(directory, record, device)
    cfg = config_from_json(record["config"], resolve_device(device))
    tokenizer = None
    if (directory / "tokenizer.json").is_file() or (directory / "tokenizer_config.json").is_file():
        tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    cls = HookedEncoder if record["model_class"] == ModelClass.ENCODER.value else HookedTransformer
    with quiet_transformer_lens():
        model = cls(cfg, tokenizer=tokenizer, move_to_device=False)
    weights_file = directory / WEIGHTS_FILE
    if not weights_file.is_file():
        raise ModelSpecError(f"{directory} has no {WEIGHTS_FILE}; the checkpoint is incomplete.")
    state = stored_weights(weights_file, record)
    # assign: the model takes the file's tensors as its parameters (no copy into the freshly
    # allocated ones, which were 1.05 of SmolLM2's 1.6 s cached load here)
    model.load_state_dict(state, strict=True, assign=True)
    return place(model, resolve_device(cfg.device), cfg.dtype)


def _load_vit(directory: Path, record: dict[str, Any], device: str | torch.device | None) -> Model:
    vit = HookedViT(ViTConfig.from_json(record["config"]))
    weights_file = directory / WEIGHTS_FILE
    if not weights_file.is_file():
        raise ModelSpecError(f"{directory} has no {WEIGHTS_FILE}; the checkpoint is incomplete.")
    vit.load_state_dict(read_tensors(weights_file, CORRUPT_FIX), strict=True)
    return place(vit, resolve_device(device), torch.float32)


def checkpoint_metadata(directory: str | Path) -> dict[str, Any]:
    """The free-form metadata saved with a checkpoint."""
    return read_checkpoint_record(Path(directory))["metadata"]
