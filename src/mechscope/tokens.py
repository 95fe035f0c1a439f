"""Token batches: prompts tokenised, padded on a chosen side, checked against the context.

Every analysis runs prompts through `TokenBatch` and `forward_kwargs`, so padding is masked
the same way everywhere: decoders get ``attention_mask`` (TransformerLens then also offsets
absolute and rotary positions past left padding), encoders get ``one_zero_attention_mask``.
With either side of padding, each prompt's activations equal those of running it alone.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import torch
from jaxtyping import Int
from torch import Tensor

from mechscope.errors import PromptError
from mechscope.models.base import Model, is_encoder


class PaddingSide(Enum):
    """Where padding goes when prompts of different lengths share a batch."""

    LEFT = "left"
    RIGHT = "right"


@dataclass(frozen=True)
class TokenBatch:
    """Token ids with their padding mask (1 = real token, 0 = padding)."""

    tokens: Int[Tensor, "batch pos"]
    """Token ids; padding positions hold the pad id."""
    attention_mask: Int[Tensor, "batch pos"]
    """1 on real tokens, 0 on padding."""
    padding_side: PaddingSide = PaddingSide.RIGHT
    """Which side the padding is on."""

    def __post_init__(self) -> None:
        if self.tokens.shape != self.attention_mask.shape:
            raise ValueError(
                f"tokens {tuple(self.tokens.shape)} and attention_mask "
                f"{tuple(self.attention_mask.shape)} differ in shape"
            )
        if ((self.attention_mask != 0) & (self.attention_mask != 1)).any():
            raise ValueError("attention_mask must hold only 0 and 1")

    @property
    def lengths(self) -> Int[Tensor, " batch"]:
        """Number of real tokens in each prompt."""
        return self.attention_mask.sum(dim=-1)

    def to(self, device: torch.device | str) -> "TokenBatch":
        """The same batch on another device."""
        return TokenBatch(self.tokens.to(device), self.attention_mask.to(device), self.padding_side)

    def unpadded(self, index: int) -> Int[Tensor, " pos"]:
        """The real tokens of prompt ``index``, padding removed."""
        return self.tokens[index][self.attention_mask[index].bool()]


def pad_id(model: Model) -> int:
    """The id padding is written with: the tokenizer's pad token, else 0 (it is masked anyway)."""
    tokenizer = model.tokenizer
    pad = tokenizer.pad_token_id if tokenizer is not None else None
    return pad if isinstance(pad, int) else 0


def pad_token_lists(
    token_lists: Sequence[Sequence[int]],
    pad_id: int,
    padding_side: PaddingSide = PaddingSide.RIGHT,
) -> TokenBatch:
    """Stack token-id lists of different lengths into one padded batch.

    Raises:
        PromptError: no prompts, or an empty prompt.
    """
    if not token_lists:
        raise PromptError("no prompts given; pass at least one prompt.")
    if empty := [i for i, ids in enumerate(token_lists) if len(ids) == 0]:
        raise PromptError(f"prompts {empty} tokenise to nothing; remove them or add text.")
    width = max(len(ids) for ids in token_lists)
    tokens = torch.full((len(token_lists), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(token_lists), width), dtype=torch.long)
    for row, ids in enumerate(token_lists):
        span = (
            slice(0, len(ids))
            if padding_side is PaddingSide.RIGHT
            else slice(width - len(ids), None)
        )
        tokens[row, span] = torch.as_tensor(list(ids), dtype=torch.long)
        mask[row, span] = 1
    return TokenBatch(tokens, mask, padding_side)


def tokenize(
    model: Model,
    prompts: str | Sequence[str],
    *,
    padding_side: PaddingSide = PaddingSide.RIGHT,
    prepend_bos: bool | None = None,
) -> TokenBatch:
    """Tokenise prompts with the model's tokenizer into a padded batch on the model's device.

    Decoders prepend BOS as the model's config says unless ``prepend_bos`` overrides it;
    encoders add their own special tokens ([CLS] ... [SEP]).

    Raises:
        PromptError: no prompts, an empty prompt, no tokenizer, or a prompt over n_ctx.
    """
    if isinstance(prompts, str):
        prompts = [prompts]
    tokenizer = model.tokenizer
    if tokenizer is None:
        raise PromptError(
            "this model has no tokenizer; pass token ids (a TokenBatch via pad_token_lists) "
            "instead of text, or load a model directory that includes its tokenizer."
        )
    if is_encoder(model):
        check_encoder_padding(padding_side)
        token_lists = [tokenizer(p)["input_ids"] for p in prompts]
    else:
        bos = model.cfg.default_prepend_bos if prepend_bos is None else prepend_bos
        token_lists = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
        if bos and tokenizer.bos_token_id is not None:
            token_lists = [[tokenizer.bos_token_id, *ids] for ids in token_lists]
    batch = pad_token_lists(token_lists, pad_id(model), padding_side)
    check_fits(model, batch, prompts)
    return batch.to(model.cfg.device or "cpu")


def check_fits(model: Model, batch: TokenBatch, prompts: Sequence[str] | None = None) -> None:
    """Raise `PromptError` when any prompt is longer than the model's context (n_ctx)."""
    n_ctx = model.cfg.n_ctx
    too_long = [i for i, n in enumerate(batch.lengths.tolist()) if n > n_ctx]
    if too_long:
        first = too_long[0]
        shown = f" ({prompts[first][:60]!r}...)" if prompts else ""
        raise PromptError(
            f"{len(too_long)} prompt(s) are longer than the model's context of {n_ctx} tokens; "
            f"prompt {first}{shown} has {int(batch.lengths[first])} tokens. Shorten or split "
            f"them to at most {n_ctx} tokens."
        )


def forward_kwargs(model: Model, batch: TokenBatch) -> dict[str, Any]:
    """Keyword arguments that make a TransformerLens forward pass mask ``batch``'s padding.

    Raises:
        PromptError: a prompt over n_ctx, or left padding for an encoder.
    """
    check_fits(model, batch)
    if bool(batch.attention_mask.all()):
        return {}  # nothing to mask: TransformerLens's plain (faster) path, same result
    if is_encoder(model):
        check_encoder_padding(batch.padding_side)
        return {"one_zero_attention_mask": batch.attention_mask}
    return {"attention_mask": batch.attention_mask, "padding_side": batch.padding_side.value}


def check_encoder_padding(padding_side: PaddingSide) -> None:
    """Encoders take right padding only.

    BERT-style encoders number positions from 0 at the first slot whatever the mask says (in
    Hugging Face as in TransformerLens), so left padding would shift every real token's
    position embedding and change its activations.
    """
    if padding_side is PaddingSide.LEFT:
        raise PromptError(
            "encoders (BERT family) number positions from the first slot, so left padding "
            "changes their activations; use padding_side=PaddingSide.RIGHT."
        )


def target_ids(model: Model, targets: Sequence[str], what: str = "target") -> list[int]:
    """Each string as its single token id (lens targets, patching answers).

    Raises:
        PromptError: a string that is not exactly one token (its tokenisation is shown).
    """
    tokenizer = model.tokenizer
    if tokenizer is None:
        raise PromptError(f"this model has no tokenizer; pass {what} token ids instead of strings.")
    ids = []
    for target in targets:
        pieces = tokenizer(target, add_special_tokens=False)["input_ids"]
        if len(pieces) != 1:
            shown = tokenizer.convert_ids_to_tokens(pieces)
            raise PromptError(
                f"{what} {target!r} is {len(pieces)} tokens {shown}, not one; pass a single token "
                "(mind the leading space: ' Paris' and 'Paris' differ)."
            )
        ids.append(pieces[0])
    return ids


def str_tokens(model: Model, ids: Sequence[int]) -> list[str]:
    """Token ids as the strings the tokenizer decodes them to (ids as text without one)."""
    tokenizer = model.tokenizer
    if tokenizer is None:
        return [str(i) for i in ids]
    return [str(tokenizer.decode([i])) for i in ids]
