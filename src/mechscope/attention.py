"""Attention patterns of a batch, read with only the pattern hooks cached.

Conventions: patterns are ``[batch, layer, head, dest_pos, src_pos]`` and each row (a
destination) sums to 1 over real source tokens. Padding rows and columns are zeroed, so
means over prompts can weight by the mask without special cases.
"""

import einops
import torch
from jaxtyping import Bool, Float
from torch import Tensor

from mechscope.models.base import Model
from mechscope.sites import Component, hook_names
from mechscope.tokens import TokenBatch, forward_kwargs


@torch.no_grad()
def attention_patterns(
    model: Model, batch: TokenBatch
) -> Float[Tensor, "batch layer head dest_pos src_pos"]:
    """Run ``batch`` once, caching only ``hook_pattern``, and stack every layer's pattern."""
    names = hook_names(Component.PATTERN, model.cfg.n_layers)
    _, cache = model.run_with_cache(
        batch.tokens, names_filter=names, return_type=None, **forward_kwargs(model, batch)
    )
    patterns = torch.stack([cache[name] for name in names], dim=1)
    real = batch.attention_mask.bool()
    pair = einops.rearrange(real, "b d -> b 1 1 d 1") & einops.rearrange(real, "b s -> b 1 1 1 s")
    return patterns * pair


def attention_mass(
    patterns: Float[Tensor, "batch layer head dest_pos src_pos"],
    targets: Bool[Tensor, "batch src_pos"],
    attention_mask: Bool[Tensor, "batch pos"],
) -> Float[Tensor, "layer head"]:
    """Mean attention, per head, that real destination tokens put on the ``targets`` sources.

    Averaged over every real destination token of every prompt (Clark et al. 2019, Fig. 2).
    """
    on_target = einops.einsum(patterns, targets.to(patterns.dtype), "b l h d s, b s -> b l h d")
    weights = attention_mask.to(patterns.dtype)
    total = einops.einsum(on_target, weights, "b l h d, b d -> l h")
    return total / weights.sum()
