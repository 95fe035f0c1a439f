"""Tokenising prompts for a model, and the forward-pass arguments that mask padding.

Every analysis runs prompts through `TokenBatch` and `forward_kwargs`, so padding is masked
the same way everywhere: decoders get ``attention_mask`` (TransformerLens then also offsets
absolute and rotary positions past left padding), encoders get ``one_zero_attention_mask``.
With either side of padding, each prompt's activations equal those of running it alone.
"""

import functools
from collections.abc import Sequence
from typing import Any

import torch
from jaxtyping import Int
from torch import Tensor

from mechscope.core.batch import ImageBatch, PaddingSide, TokenBatch, pad_token_lists
from mechscope.core.byte_alphabet import bytes_to_unicode
from mechscope.core.errors import MechscopeError, PromptError
from mechscope.models.adapter import adapt
from mechscope.models.base import Model


def pad_id(model: Model) -> int:
    """The id padding is written with: the tokenizer's pad token, else 0 (it is masked anyway)."""
    tokenizer = model.tokenizer
    pad = tokenizer.pad_token_id if tokenizer is not None else None
    return pad if isinstance(pad, int) else 0


Inputs = str | Sequence[str] | Tensor | TokenBatch | ImageBatch
"""What every analysis accepts as its inputs (`as_batch`)."""

ACCEPTED = (
    "a prompt (str), a list of prompts, token ids (an integer tensor, batch x pos), a "
    "TokenBatch, or images (an ImageBatch or a float tensor) for a ViT"
)


def as_batch(model: Model, inputs: object) -> TokenBatch | ImageBatch:
    """``inputs`` (any of `Inputs`) as a batch: prompts tokenised, token ids unpadded.

    Typed ``object``: anything else is refused here with a message naming what is taken.

    Raises:
        MechscopeError: anything else (naming what is accepted), or images for a text model.
        PromptError: as `tokenize`.
    """
    if isinstance(inputs, TokenBatch | ImageBatch):
        return inputs
    if isinstance(inputs, str) or (
        isinstance(inputs, Sequence) and len(inputs) and all(isinstance(p, str) for p in inputs)
    ):
        return tokenize(model, inputs)  # pyright: ignore[reportArgumentType]
    if isinstance(inputs, Tensor) and inputs.is_floating_point():
        return adapt(model).vision("float inputs (images)").image_batch(inputs)
    if isinstance(inputs, Tensor) and inputs.ndim in (1, 2) and inputs.numel():
        tokens = inputs if inputs.ndim == 2 else inputs[None]
        return TokenBatch.full(tokens.long().to(model.cfg.device or "cpu"))
    raise MechscopeError(f"inputs must be {ACCEPTED}; got {_describe(inputs)}.")


TOKEN_INPUTS = (
    "a prompt (str), a list of prompts, token ids (an integer tensor, batch x pos, or lists "
    "of ids), or a TokenBatch"
)


def as_token_batch(model: Model, inputs: object) -> TokenBatch:
    """`as_batch` for analyses that read tokens.

    Raises:
        MechscopeError: images, or inputs `as_batch` does not take.
    """
    batch = as_batch(model, inputs)
    if not isinstance(batch, TokenBatch):
        raise MechscopeError(f"this analysis reads tokens; give {TOKEN_INPUTS}, not images.")
    return batch


def _describe(value: object) -> str:
    if isinstance(value, Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    return f"{type(value).__name__} {value!r}"[:80]


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
    if not isinstance(prompts, Sequence) or not all(isinstance(p, str) for p in prompts):
        raise PromptError(f"prompts must be a str or a list of str; got {_describe(prompts)}.")
    adapt(model).check_padding(padding_side)
    token_lists = token_lists_of(model, prompts, prepend_bos=prepend_bos)
    batch = pad_token_lists(token_lists, pad_id(model), padding_side)
    check_fits(model, batch, prompts)
    return batch.to(model.cfg.device or "cpu")


def token_lists_of(
    model: Model, prompts: Sequence[str], *, prepend_bos: bool | None = None
) -> list[list[int]]:
    """Each prompt's token ids, unpadded, as `tokenize` would put them in a batch.

    Raises:
        PromptError: the model has no tokenizer, or a prompt is empty or only white space.
    """
    empty = [i for i, p in enumerate(prompts) if not p.strip()]
    if empty:
        raise PromptError(
            f"prompt {empty[0]} is empty ({len(empty)} empty in all); remove it or give it text."
        )
    tokenizer = model.tokenizer
    if tokenizer is None:
        raise PromptError(
            "this model has no tokenizer; pass token ids (a TokenBatch via pad_token_lists) "
            "instead of text, or load a model directory that includes its tokenizer."
        )
    if not adapt(model).causal:
        return [list(tokenizer(p)["input_ids"]) for p in prompts]
    bos = model.cfg.default_prepend_bos if prepend_bos is None else prepend_bos
    token_lists = [list(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
    if bos and tokenizer.bos_token_id is not None:
        token_lists = [[tokenizer.bos_token_id, *ids] for ids in token_lists]
    return token_lists


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


def forward_kwargs(model: Model, batch: TokenBatch | ImageBatch) -> dict[str, Any]:
    """Keyword arguments that make a TransformerLens forward pass mask ``batch``'s padding.

    Raises:
        PromptError: a prompt over n_ctx, or left padding for an encoder.
    """
    if isinstance(batch, TokenBatch):
        check_fits(model, batch)
    return adapt(model).forward_kwargs(batch)


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
    """Token ids as the strings the tokenizer decodes them to (ids as text without one).

    A token that is part of a multi-byte UTF-8 character decodes to the replacement glyph
    '\ufffd' on its own; it is shown as its bytes instead (``<0xC3>``), so views and tables
    tell such tokens apart.
    """
    tokenizer = model.tokenizer
    if tokenizer is None:
        return [str(i) for i in ids]
    pieces = [str(tokenizer.decode([i])) for i in ids]
    return [
        _as_bytes(tokenizer, i) if "\ufffd" in p else p for i, p in zip(ids, pieces, strict=True)
    ]


@functools.cache
def _char_to_byte() -> dict[str, int]:
    """The byte each character of GPT-2's byte alphabet spells, built once.

    Built per call it cost 3 ms, a tenth of induction-2l's whole head patching.
    """
    return {char: byte for byte, char in bytes_to_unicode().items()}


def _as_bytes(tokenizer: Any, token_id: int) -> str:  # noqa: ANN401 - any HF tokenizer
    """``<0x..>`` per byte of a byte-level token (GPT-2's byte-to-unicode alphabet)."""
    to_byte = _char_to_byte()
    spelled = str(tokenizer.convert_ids_to_tokens(int(token_id)))
    if not spelled or any(char not in to_byte for char in spelled):
        return "\ufffd"
    return "".join(f"<0x{to_byte[char]:02X}>" for char in spelled)


def corpus_windows(
    model: Model, texts: bytes, n_windows: int, n_ctx: int, generator: torch.Generator
) -> Int[Tensor, "batch pos"]:
    """``n_windows`` windows of ``n_ctx`` tokens at random places in ``texts``.

    BOS first if the model uses one; each window is cut from ``8 * n_ctx`` bytes (enough for
    ``n_ctx`` tokens of any tokenizer), so a short window is padded.

    Raises:
        MechscopeError: a model without a tokenizer, or a corpus shorter than one window.
    """
    if model.tokenizer is None:
        raise MechscopeError("windows of text need a model with a tokenizer.")
    span = 8 * n_ctx  # bytes; enough for n_ctx tokens of any tokenizer
    if len(texts) < span + 1:
        raise MechscopeError(
            f"the corpus has {len(texts)} bytes; windows of {n_ctx} tokens need more than "
            f"{span}. Give a larger corpus (--corpus) or a shorter context."
        )
    starts = torch.randint(0, len(texts) - span, (n_windows,), generator=generator).tolist()
    rows = []
    for start in starts:
        text = texts[start : start + span].decode("utf-8", errors="ignore")
        tokens = model.to_tokens(text, truncate=False)
        if isinstance(tokens, tuple):  # an encoder's (tokens, token types, attention mask)
            tokens = tokens[0]
        ids = tokens[0].tolist()[:n_ctx]
        rows.append(ids)
    return pad_token_lists(rows, pad_id(model)).tokens.to(model.cfg.device or "cpu")
