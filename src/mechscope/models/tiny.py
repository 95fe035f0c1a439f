"""Tiny random-init models for unit tests: seconds to build, no files, no network."""

from dataclasses import dataclass

import torch

from mechscope.models.base import Model, quiet_transformer_lens
from mechscope.models.legacy import HookedEncoder, HookedTransformer, HookedTransformerConfig


@dataclass(frozen=True, kw_only=True)
class TinyConfig:
    """Shape of a tiny random model."""

    n_layers: int = 2
    """Number of transformer blocks."""
    n_heads: int = 4
    """Attention heads per layer."""
    d_model: int = 32
    """Residual stream width; must be divisible by n_heads."""
    d_vocab: int = 64
    """Vocabulary size (token ids 0..d_vocab-1)."""
    n_ctx: int = 32
    """Maximum sequence length."""
    attn_only: bool = True
    """Leave out the MLPs (the induction-head setting)."""
    encoder: bool = False
    """Build a bidirectional BERT-style HookedEncoder instead of a decoder."""
    seed: int = 0
    """Seed for the random weights."""

    def to_tl_config(self) -> HookedTransformerConfig:
        """The equivalent TransformerLens config (random init, CPU, float32)."""
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")
        return HookedTransformerConfig(
            n_layers=self.n_layers,
            n_heads=self.n_heads,
            d_model=self.d_model,
            d_head=self.d_model // self.n_heads,
            d_mlp=None if self.attn_only and not self.encoder else 4 * self.d_model,
            d_vocab=self.d_vocab,
            n_ctx=self.n_ctx,
            act_fn="gelu",
            attn_only=self.attn_only and not self.encoder,
            normalization_type="LN",
            attention_dir="bidirectional" if self.encoder else "causal",
            seed=self.seed,
            device="cpu",
        )


def tiny_model(config: TinyConfig | None = None) -> Model:
    """Build a tiny random model (no tokenizer: feed it token ids)."""
    config = config or TinyConfig()
    torch.manual_seed(config.seed)
    with quiet_transformer_lens():
        if not config.encoder:
            return HookedTransformer(config.to_tl_config(), move_to_device=False).eval()
        encoder = HookedEncoder(config.to_tl_config(), move_to_device=False)
    init_encoder_weights(encoder, std=encoder.cfg.initializer_range)
    return encoder.eval()


@torch.no_grad()
def init_encoder_weights(encoder: HookedEncoder, std: float) -> None:
    """BERT's initialisation (HookedEncoder allocates its weights but never initialises them).

    Matrices are drawn from N(0, std), LayerNorm scales set to 1, every bias to 0.
    """
    for name, param in encoder.named_parameters():
        if param.ndim >= 2:
            param.normal_(0.0, std)
        elif name.endswith(".w"):
            param.fill_(1.0)
        else:
            param.zero_()
