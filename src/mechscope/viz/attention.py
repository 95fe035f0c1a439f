"""circuitsvis views of attention patterns."""

from collections.abc import Sequence

import circuitsvis.attention
from circuitsvis.utils.render import RenderedHTML
from jaxtyping import Float
from torch import Tensor


def attention_heads_view(
    str_tokens: Sequence[str],
    patterns: Float[Tensor, "head dest_pos src_pos"],
    head_names: Sequence[str],
    *,
    causal: bool,
) -> RenderedHTML:
    """A circuitsvis ``attention_heads`` view: one thumbnail per head, click to enlarge.

    Args:
        str_tokens: the prompt's tokens as strings (padding removed).
        patterns: attention weights from each destination to each source position.
        head_names: a label per head, e.g. ``"L0H3"``.
        causal: mask the upper triangle (decoders); encoders attend both ways.
    """
    if patterns.shape[0] != len(head_names):
        raise ValueError(f"{patterns.shape[0]} heads but {len(head_names)} head names")
    if patterns.shape[1] != len(str_tokens):
        raise ValueError(f"patterns cover {patterns.shape[1]} positions, tokens {len(str_tokens)}")
    return circuitsvis.attention.attention_heads(
        attention=patterns.detach().cpu().float(),
        tokens=list(str_tokens),
        attention_head_names=list(head_names),
        mask_upper_tri=causal,
    )
