"""The one place TransformerLens hook names are built.

A `Site` is a component at a layer (and optionally a head); ``site.hook_name`` is the hook
point TransformerLens exposes for it, identical for HookedTransformer and HookedEncoder.
"""

from dataclasses import dataclass
from enum import Enum
from typing import Any


class Component(Enum):
    """Activations mechscope reads or patches, named as TransformerLens names them."""

    EMBED = "hook_embed"
    POS_EMBED = "hook_pos_embed"
    BERT_EMBED = "embed.hook_embed"
    BERT_POS_EMBED = "embed.hook_pos_embed"
    BERT_TOKEN_TYPE_EMBED = "embed.hook_token_type_embed"
    EMBED_LN_SCALE = "embed.ln.hook_scale"
    LN_FINAL_SCALE = "ln_final.hook_scale"
    RESID_PRE = "hook_resid_pre"
    RESID_MID = "hook_resid_mid"
    RESID_POST = "hook_resid_post"
    NORMALIZED_RESID_POST = "hook_normalized_resid_post"
    ATTN_OUT = "hook_attn_out"
    MLP_IN = "hook_mlp_in"
    MLP_OUT = "hook_mlp_out"
    LN1_SCALE = "ln1.hook_scale"
    LN2_SCALE = "ln2.hook_scale"
    LN1_NORMALIZED = "ln1.hook_normalized"
    """The stream after ``ln1``: what attention reads in a pre-norm block, what the MLP reads
    in a post-norm (BERT) block."""
    LN2_NORMALIZED = "ln2.hook_normalized"
    """What the MLP reads in a pre-norm block: the stream after ``ln2`` (a transcoder's or an
    MLP-input SAE's input)."""
    Q_INPUT = "hook_q_input"
    """Each head's own copy of the stream its queries read (before ln1); present only while
    TransformerLens's ``use_split_qkv_input`` is on (`mechscope.interventions.path`)."""
    K_INPUT = "hook_k_input"
    """As ``Q_INPUT`` for the keys (one copy per key/value head)."""
    V_INPUT = "hook_v_input"
    """As ``Q_INPUT`` for the values (one copy per key/value head)."""
    Q = "attn.hook_q"
    K = "attn.hook_k"
    ROT_Q = "attn.hook_rot_q"
    """Queries after the rotary embedding (rotary models only): what the scores use."""
    ROT_K = "attn.hook_rot_k"
    V = "attn.hook_v"
    Z = "attn.hook_z"
    ATTN_SCORES = "attn.hook_attn_scores"
    PATTERN = "attn.hook_pattern"

    def to_json(self) -> str:
        """The member's name (``"K"``), as results save a component."""
        return self.name

    @classmethod
    def from_json(cls, value: str) -> "Component":
        """A component as `to_json` wrote it."""
        return cls[value]

    @property
    def per_layer(self) -> bool:
        """Whether the hook lives inside a block (all but the embeddings and final norm)."""
        return self not in _MODEL_LEVEL

    @property
    def has_head_axis(self) -> bool:
        """Whether the activation has a head axis (q, k, v, z, scores, pattern, q/k/v inputs)."""
        return self.value.startswith("attn.") or self.value.endswith("_input")


_MODEL_LEVEL = frozenset(
    {
        Component.EMBED,
        Component.POS_EMBED,
        Component.BERT_EMBED,
        Component.BERT_POS_EMBED,
        Component.BERT_TOKEN_TYPE_EMBED,
        Component.EMBED_LN_SCALE,
        Component.LN_FINAL_SCALE,
    }
)
"""Components outside the blocks."""


def hook_name(component: Component, layer: int | None = None) -> str:
    """The TransformerLens hook name of ``component`` (at ``layer`` for one inside a block)."""
    return Site(component, layer).hook_name


@dataclass(frozen=True)
class Site:
    """A component at a layer, optionally restricted to one head and one position.

    ``pos`` is the token position (for attention patterns and scores: the destination);
    None means every position.
    """

    component: Component
    layer: int | None = None
    head: int | None = None
    pos: int | None = None

    def __post_init__(self) -> None:
        if self.component.per_layer and self.layer is None:
            raise ValueError(f"{self.component.name} needs a layer")
        if self.head is not None and not self.component.has_head_axis:
            raise ValueError(f"{self.component.name} has no head axis; drop head={self.head}")
        if self.pos is not None and self.pos < 0:
            raise ValueError(f"pos must be >= 0 (or None for every position), got {self.pos}")

    def __str__(self) -> str:
        parts = [self.component.name.lower()]
        if self.layer is not None:
            parts.append(f"L{self.layer}")
        if self.head is not None:
            parts.append(f"H{self.head}")
        if self.pos is not None:
            parts.append(f"P{self.pos}")
        return " ".join(parts)

    def to_json(self) -> list[str | int | None]:
        """``[component name, layer, head, pos]``, as results save a site."""
        return [self.component.to_json(), self.layer, self.head, self.pos]

    @classmethod
    def from_json(cls, value: list[Any]) -> "Site":
        """A site as `to_json` wrote it."""
        component, layer, head, pos = value
        return cls(Component.from_json(component), layer, head, pos)

    @property
    def hook_name(self) -> str:
        """The TransformerLens hook point name, e.g. ``blocks.1.attn.hook_pattern``."""
        if not self.component.per_layer:
            return self.component.value
        return f"blocks.{self.layer}.{self.component.value}"


def every_site(
    component: Component,
    n_layers: int,
    *,
    n_heads: int | None = None,
    n_pos: int | None = None,
) -> list[Site]:
    """Sites of ``component`` at every layer, then (if given) every head, then every position.

    Ordered layer-major, so results reshape to ``[layer, head, pos]``.
    """
    heads: list[int | None] = list(range(n_heads)) if n_heads is not None else [None]
    positions: list[int | None] = list(range(n_pos)) if n_pos is not None else [None]
    return [
        Site(component, layer, head, pos)
        for layer in range(n_layers)
        for head in heads
        for pos in positions
    ]


def hook_names(component: Component, n_layers: int) -> list[str]:
    """The hook name of ``component`` at every layer."""
    return [Site(component, layer).hook_name for layer in range(n_layers)]
