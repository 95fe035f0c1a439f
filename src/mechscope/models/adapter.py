"""The model adapter: every family question about a loaded model, answered in one place.

Analyses ask `adapt(model)`, never ``isinstance`` or ``is_encoder`` (pyvene keeps
per-architecture facts in one table; this does the same for behaviour):

- ``causal``: decoders see only earlier positions; encoders (BERT) see all;
- ``has_unembedding``: whether logits mean anything (a sentence embedder has no LM head);
- ``position_axes``: the layout positions live on, ``("pos",)`` for text, ``("row", "col")``
  for a ViT's patches (``takes_images``, ``grid``);
- ``sink_ids`` / ``start_id``: tokens that act as attention sinks (BOS or [CLS]; [SEP]/EOS);
- where a forward pass may start (``can_start_at_layer``, ``can_skip_positions``) and stop
  (`mechscope.models.run.run_until`);
- how a batch's padding is masked (``forward_kwargs``).
"""

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from torch import Tensor
from transformer_lens.model_bridge import TransformerBridge

from mechscope.core.batch import ImageBatch, PaddingSide, TokenBatch
from mechscope.core.errors import MechscopeError, PromptError
from mechscope.core.sites import Component, hook_name
from mechscope.models.base import Decoder, Model, has_lm_head
from mechscope.models.bridge import is_bridge
from mechscope.models.legacy import HookedEncoder, HookedTransformer
from mechscope.models.vit import HookedViT

SPEC_ATTRIBUTE = "mechscope_spec"
"""Where `load_model` records the spec a model was loaded from."""


@dataclass(frozen=True)
class ModelAdapter:
    """Answers about one model (see the module docstring)."""

    model: Model

    @property
    def causal(self) -> bool:
        """Whether each position sees only itself and earlier ones (a decoder)."""
        return isinstance(self.model, HookedTransformer) or self.bridge

    @property
    def bridge(self) -> bool:
        """Whether the model runs through TransformerLens's TransformerBridge (a decoder).

        The Bridge backend takes decoders only (`mechscope.models.bridge`); in compatibility
        mode it has a HookedTransformer's hook names, weight views and ``run_with_hooks``.
        """
        return is_bridge(self.model)

    @property
    def takes_images(self) -> bool:
        """Whether the model reads images (a ViT: [CLS], then a grid of patches)."""
        return isinstance(self.model, HookedViT)

    def vision(self, what: str) -> HookedViT:
        """The model as a ViT, for the image analyses (`mechscope.vision`).

        Raises:
            MechscopeError: a text model.
        """
        if not isinstance(self.model, HookedViT):
            raise MechscopeError(
                f"{what} works on images, and this is a text model; load a vision "
                "transformer such as 'vit-digits' or 'vit-shapes'."
            )
        return self.model

    @cached_property
    def has_unembedding(self) -> bool:
        """Whether the model's logits mean anything (see `mechscope.models.has_lm_head`)."""
        return has_lm_head(self.model)

    @property
    def position_axes(self) -> tuple[str, ...]:
        """The axes positions are laid out on.

        ``("pos",)`` for text, ``("row", "col")`` for a ViT's patches (after its [CLS]).
        """
        return ("row", "col") if self.takes_images else ("pos",)

    @property
    def start_id(self) -> int | None:
        """The token prompts start with: [CLS] for encoders, BOS for decoders that prepend it."""
        tokenizer = self.model.tokenizer
        if tokenizer is None:
            return None
        if not self.causal:
            token = tokenizer.cls_token_id
        elif self.model.cfg.default_prepend_bos:
            token = tokenizer.bos_token_id
        else:
            return None
        return token if isinstance(token, int) else None

    @property
    def sink_ids(self) -> list[int]:
        """[SEP] and EOS ids (candidate attention sinks besides the first token)."""
        tokenizer = self.model.tokenizer
        if tokenizer is None:
            return []
        ids = [tokenizer.sep_token_id, tokenizer.eos_token_id]
        return sorted({i for i in ids if isinstance(i, int)})

    @property
    def n_key_value_heads(self) -> int:
        """Key/value heads per layer: fewer than query heads with grouped-query attention."""
        return int(getattr(self.model.cfg, "n_key_value_heads", None) or self.model.cfg.n_heads)

    def key_value_head(self, head: int) -> int:
        """The key/value head query ``head`` reads (itself without grouped-query attention)."""
        return head // (self.model.cfg.n_heads // self.n_key_value_heads)

    def head_weight(self, name: str) -> Tensor:
        """``W_Q``, ``W_K``, ``W_V``, ``W_O``... stacked ``layer head ...``, one per query head.

        Under grouped-query attention a key/value weight is repeated for the query heads that
        share it, as HookedTransformer's ``W_K`` is; the Bridge's has one per key/value head.
        """
        weight = getattr(self.model, name)
        groups = self.model.cfg.n_heads // self.n_key_value_heads
        if groups > 1 and weight.shape[1] == self.n_key_value_heads:
            weight = weight.repeat_interleave(groups, dim=1)
        return weight

    @property
    def can_start_at_layer(self) -> bool:
        """Whether a pass can start at a later block from a cached ``resid_pre``.

        Decoders can (TransformerLens's ``start_at_layer``), except shortformer position
        embeddings, which every block re-adds, and so can ViTs; encoders cannot, nor can the
        Bridge (the Hugging Face model owns its layer loop): every pass then starts at the
        embeddings, with the same values.
        """
        if isinstance(self.model, HookedViT):
            return True
        return (
            isinstance(self.model, HookedTransformer)
            and getattr(self.model.cfg, "positional_embedding_type", "") != "shortformer"
        )

    @property
    def can_start_after_attention(self) -> bool:
        """Whether a pass can start inside a block, after its attention, from a cached residual.

        A patch of head outputs (``hook_z``) changes a block's attention output by
        ``sum_h (z'_h - z_h) W_O[h]`` and nothing else before it, so the block's attention
        need not run again (`mechscope.interventions.engine.Start`). Needs a decoder that
        starts at layers and adds the attention output to the residual as is: not when a norm
        follows the attention (Gemma's ``ln1_post``, OLMo 2's post-norm).
        """
        if not (isinstance(self.model, HookedTransformer) and self.can_start_at_layer):
            return False
        from transformer_lens.components.transformer_block import POST_NORM_ARCHITECTURES

        cfg = self.model.cfg
        post_norm = cfg.original_architecture in POST_NORM_ARCHITECTURES
        return not (cfg.use_normalization_before_and_after or post_norm)

    def can_skip_positions(self, batch: TokenBatch | ImageBatch) -> bool:
        """Whether a pass can also start at a later position, the earlier keys and values frozen.

        Needs a decoder (earlier positions never see later ones), an unpadded batch and keys
        that are exactly ``hook_k`` (no QK norm, no clipping).
        """
        cfg = self.model.cfg
        return (
            self.causal
            and self.can_start_at_layer
            and bool(batch.attention_mask.all())
            and not getattr(cfg, "use_qk_norm", False)
            and getattr(cfg, "clip_qkv", None) is None
        )

    def check_padding(self, padding_side: PaddingSide) -> None:
        """Encoders take right padding only.

        BERT-style encoders number positions from 0 at the first slot whatever the mask says
        (in Hugging Face as in TransformerLens), so left padding would shift every real
        token's position embedding and change its activations.

        Raises:
            PromptError: left padding for an encoder.
        """
        if not self.causal and padding_side is PaddingSide.LEFT:
            raise PromptError(
                "encoders (BERT family) number positions from the first slot, so left padding "
                "changes their activations; use padding_side=PaddingSide.RIGHT."
            )

    def forward_kwargs(self, batch: TokenBatch | ImageBatch) -> dict[str, Any]:
        """Keyword arguments that make a TransformerLens forward pass mask ``batch``'s padding.

        Decoders get ``attention_mask`` (TransformerLens also offsets positions past left
        padding), encoders ``one_zero_attention_mask``; an unpadded batch gets none (the
        plain, faster path, same result), and so does every image batch.
        """
        if not isinstance(batch, TokenBatch) or bool(batch.attention_mask.all()):
            return {}
        self.check_padding(batch.padding_side)
        if not self.causal:
            return {"one_zero_attention_mask": batch.attention_mask}
        return {"attention_mask": batch.attention_mask, "padding_side": batch.padding_side.value}

    def require_unembedding(self, what: str) -> None:
        """Raise `MechscopeError` naming ``what`` when the model has no language-model head."""
        if self.takes_images:
            raise MechscopeError(
                f"{what} reads next-token logits, and a ViT predicts classes from [CLS]; use "
                "mechscope.vision (class_lens, image patching) for vision transformers."
            )
        if not self.causal or not self.has_unembedding:
            raise MechscopeError(
                f"{what} needs a decoder with an unembedding (it reads next-token logits); "
                "this model has none (the bundled MiniLM is a sentence embedder). Use a "
                "decoder such as 'induction-2l' or a GPT-2 directory."
            )

    def decoder(self, what: str) -> Decoder:
        """The model as a decoder, for analyses only decoders have (logit lens, composition).

        Raises:
            MechscopeError: an encoder.
        """
        if isinstance(self.model, TransformerBridge):  # compatibility mode: the same surface
            return self.model
        if not isinstance(self.model, HookedTransformer):
            raise MechscopeError(
                f"{what} is defined here for decoders (HookedTransformer); this model is an "
                "encoder. Use a decoder such as 'induction-2l' or a GPT-2 directory."
            )
        return self.model

    @property
    def post_norm(self) -> bool:
        """Whether a normalisation follows each sub-layer inside the stream (BERT).

        Pre-norm decoders only read the stream through their norms, so it is a plain sum of
        what the blocks write.
        """
        return isinstance(self.model, HookedEncoder)

    @property
    def learned_positions(self) -> bool:
        """Whether positions enter as a learned embedding added to the stream (``W_pos``).

        Rotary and ALiBi models keep position inside the attention scores; some of them have
        a ``hook_pos_embed`` that never fires (HookedTransformer with ALiBi, the Bridge of a
        rotary model), so the hook's presence does not say.
        """
        if self.takes_images:
            return True
        kind = getattr(self.model.cfg, "positional_embedding_type", "standard")
        hooks = (hook_name(Component.POS_EMBED), hook_name(Component.BERT_POS_EMBED))
        return kind in ("standard", "shortformer") and any(
            name in self.model.hook_dict for name in hooks
        )

    @property
    def embedding_hooks(self) -> list[str]:
        """The hooks of the additive embedding parts (token, learned position, token type)."""
        parts = (Component.EMBED, Component.POS_EMBED, Component.BERT_EMBED,
                 Component.BERT_POS_EMBED, Component.BERT_TOKEN_TYPE_EMBED)  # fmt: skip
        names = [hook_name(part) for part in parts]
        if not self.learned_positions:  # a position hook that never fires is no part
            names.remove(hook_name(Component.POS_EMBED))
        return [name for name in names if name in self.model.hook_dict]

    @property
    def spec(self) -> str:
        """The spec the model was loaded from (its TransformerLens name otherwise)."""
        return model_spec(self.model)


def adapt(model: Model) -> ModelAdapter:
    """The adapter of ``model``."""
    return ModelAdapter(model)


def model_spec(model: Model) -> str:
    """The spec ``model`` was loaded from, or its TransformerLens ``model_name``."""
    return str(getattr(model, SPEC_ATTRIBUTE, "") or getattr(model.cfg, "model_name", ""))
