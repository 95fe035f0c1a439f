"""Sparse autoencoders through SAELens: the architectures, the recipe, loading and saving.

SAELens (``sae-lens``) provides the SAE classes, their training step and their on-disk format
(``cfg.json`` + ``sae_weights.safetensors``); mechscope picks the architecture from a recipe
and loads any SAELens-format SAE: a local directory offline, or a published release by name
(``release`` + ``sae_id``) with network access. ``import sae_lens`` takes seconds, so it
happens inside the functions that need it.
"""

import dataclasses
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from mechscope.core.errors import MechscopeError, ModelUnavailableError

if TYPE_CHECKING:
    from sae_lens import SAE, TrainingSAE


class Architecture(Enum):
    """How an SAE chooses its active features (each an SAELens architecture)."""

    TOPK = "topk"
    """The k largest pre-activations per token (Gao et al. 2024)."""
    BATCHTOPK = "batchtopk"
    """The k x batch largest over the batch, a learned threshold at inference (Bussmann et al.
    2024)."""
    JUMPRELU = "jumprelu"
    """A learned threshold per feature, an L0 penalty through straight-through estimates
    (Rajamanoharan et al. 2024)."""
    RELU = "relu"
    """ReLU with an L1 penalty on the activations (the 2023 baseline; SAELens ``standard``)."""


@dataclass(frozen=True, kw_only=True)
class SaeRecipe:
    """How one SAE is trained: its shape, its sparsity and the training budget."""

    architecture: Architecture = Architecture.TOPK
    """Sparsity mechanism (topk, batchtopk, jumprelu or relu)."""
    expansion: int = 8
    """Features per input dimension (the width is expansion x the site's width) when --width is
    not given."""
    width: int | None = None
    """Number of features (default: --expansion x the site's width)."""
    k: int = 32
    """Active features per token (topk and batchtopk)."""
    sparsity_coefficient: float = 1.0
    """L0 (jumprelu) or L1 (relu) penalty coefficient."""
    tokens: int = 200_000
    """Training tokens (activations seen, with repeats over the read ones)."""
    read_tokens: int = 100_000
    """Activations read from the corpus and kept in memory (the training set, shuffled each
    epoch)."""
    batch_size: int = 1024
    """Activations per training step."""
    lr: float = 1e-3
    """Adam learning rate (constant after a linear warm-up over the first 5 % of steps)."""
    n_ctx: int = 128
    """Tokens per text window."""
    eval_tokens: int = 20_000
    """Held-out tokens the evaluation reads (about; whole windows)."""
    checkpoints: int = 4
    """Checkpoints during training (each resumable)."""
    seed: int = 0
    """Seed of the SAE's initialisation, the windows and the batch order."""

    def __post_init__(self) -> None:
        for name in (
            "expansion",
            "k",
            "tokens",
            "read_tokens",
            "batch_size",
            "n_ctx",
            "eval_tokens",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
        if self.width is not None and self.width < 1:
            raise ValueError("--width must be at least 1")
        if self.checkpoints < 0:
            raise ValueError("--checkpoints must be at least 0")
        if not (self.lr > 0 and self.sparsity_coefficient >= 0):
            raise ValueError("--lr must be positive and --sparsity-coefficient at least 0")

    def width_for(self, d_in: int) -> int:
        """The number of features for a site of width ``d_in``."""
        return self.width if self.width is not None else self.expansion * d_in

    def to_json(self) -> dict[str, Any]:
        """The recipe as JSON (the architecture by name)."""
        return dataclasses.asdict(self) | {"architecture": self.architecture.value}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "SaeRecipe":
        """The recipe `to_json` wrote."""
        return cls(**(data | {"architecture": Architecture(data["architecture"])}))


def training_sae(recipe: SaeRecipe, d_in: int, *, device: str = "cpu") -> "TrainingSAE":
    """A fresh SAELens training SAE of ``recipe``'s architecture for inputs of width ``d_in``.

    Raises:
        MechscopeError: ``k`` larger than the width (topk, batchtopk).
    """
    import sae_lens

    width = recipe.width_for(d_in)
    if recipe.architecture in (Architecture.TOPK, Architecture.BATCHTOPK) and recipe.k > width:
        raise MechscopeError(f"--k {recipe.k} is larger than the SAE's {width} features.")
    torch.manual_seed(recipe.seed)
    common = {"d_in": d_in, "d_sae": width, "device": device}
    if recipe.architecture is Architecture.TOPK:
        return sae_lens.TopKTrainingSAE(sae_lens.TopKTrainingSAEConfig(k=recipe.k, **common))
    if recipe.architecture is Architecture.BATCHTOPK:
        config = sae_lens.BatchTopKTrainingSAEConfig(k=recipe.k, **common)
        return sae_lens.BatchTopKTrainingSAE(config)
    if recipe.architecture is Architecture.JUMPRELU:
        config = sae_lens.JumpReLUTrainingSAEConfig(
            l0_coefficient=recipe.sparsity_coefficient, **common
        )
        return sae_lens.JumpReLUTrainingSAE(config)
    config = sae_lens.StandardTrainingSAEConfig(
        l1_coefficient=recipe.sparsity_coefficient, **common
    )
    return sae_lens.StandardTrainingSAE(config)


def load_sae(source: str | Path, sae_id: str | None = None, *, device: str = "cpu") -> "SAE[Any]":
    """An SAE (or transcoder) in SAELens format, ready for inference.

    ``source``: a directory holding ``cfg.json`` and ``sae_weights.safetensors`` (offline),
    or, with ``sae_id``, a SAELens release name (``SAE.from_pretrained``; needs the network
    or the Hugging Face cache).

    Raises:
        MechscopeError: a directory that is no SAE, or a release that cannot be had.
    """
    from sae_lens import SAE

    path = Path(source).expanduser()
    if sae_id is None:
        if not (path / "cfg.json").is_file():
            raise MechscopeError(
                f"{path} holds no SAE (no cfg.json); pass an SAE directory (from `mechscope sae "
                "train`, or any SAELens-format SAE), or a release name with its SAE id."
            )
        try:
            return SAE.load_from_disk(path, device=device)
        except (OSError, ValueError, KeyError, RuntimeError) as error:
            raise MechscopeError(f"cannot read the SAE in {path}: {error}") from error
    from mechscope.models.hub import hub_reachable

    try:
        return SAE.from_pretrained(str(source), sae_id, device=device)
    except (OSError, ValueError, KeyError) as error:
        reason = "the hub is unreachable" if not hub_reachable() else str(error).split("\n")[0]
        raise ModelUnavailableError(
            f"cannot load SAE {sae_id!r} of release {source!r}: {reason}. Either download it "
            "once with network access (it is then in the Hugging Face cache), or pass the "
            "path of a local directory holding it (cfg.json and sae_weights.safetensors)."
        ) from error


def sae_hook(sae: "SAE[Any]") -> str | None:
    """The hook point an SAE was trained on, as its config records it (None if unknown)."""
    metadata = getattr(sae.cfg, "metadata", None)
    return getattr(metadata, "hook_name", None)
