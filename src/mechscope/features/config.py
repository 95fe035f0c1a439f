"""What an SAE reads and how it is trained (importable without torch, for the CLI's help)."""

import dataclasses
from dataclasses import dataclass
from enum import Enum
from typing import Any

from mechscope.core.errors import MechscopeError
from mechscope.core.sites import Component, hook_name


class SaeSite(Enum):
    """Activations an SAE (or a transcoder's input / output) reads, by layer.

    ``mlp_in`` is what the MLP reads (after ``ln2``), ``mlp_out`` what it writes; the
    residual stream is read before the block, between attention and MLP, or after it.
    """

    RESID_PRE = "resid_pre"
    RESID_MID = "resid_mid"
    RESID_POST = "resid_post"
    ATTN_OUT = "attn_out"
    MLP_IN = "mlp_in"
    MLP_OUT = "mlp_out"

    def hook_name(self, layer: int) -> str:
        """The TransformerLens hook point of this site at ``layer``."""
        return hook_name(_COMPONENTS[self], layer)


_COMPONENTS = {
    SaeSite.RESID_PRE: Component.RESID_PRE,
    SaeSite.RESID_MID: Component.RESID_MID,
    SaeSite.RESID_POST: Component.RESID_POST,
    SaeSite.ATTN_OUT: Component.ATTN_OUT,
    SaeSite.MLP_IN: Component.LN2_NORMALIZED,
    SaeSite.MLP_OUT: Component.MLP_OUT,
}


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
        """The number of features for a site of width ``d_in``, checked against ``k``.

        Raises:
            MechscopeError: ``k`` larger than the width (topk, batchtopk).
        """
        width = self.width if self.width is not None else self.expansion * d_in
        if self.architecture in (Architecture.TOPK, Architecture.BATCHTOPK) and self.k > width:
            raise MechscopeError(f"--k {self.k} is larger than the SAE's {width} features.")
        return width

    def to_json(self) -> dict[str, Any]:
        """The recipe as JSON (the architecture by name)."""
        return dataclasses.asdict(self) | {"architecture": self.architecture.value}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "SaeRecipe":
        """The recipe `to_json` wrote."""
        fields: dict[str, Any] = dict(data)
        fields["architecture"] = Architecture(data["architecture"])
        return cls(**fields)
