"""Words and the model's tokens: which word each token of a sentence belongs to.

The words are joined by single spaces and tokenised with character offsets (a fast Hugging
Face tokenizer), so each token maps to the word its last character falls in; special tokens
([CLS], [SEP], BOS) belong to no word (-1). Used wherever words meet tokens: the syntactic
heads (`mechscope.heads.syntax`) and word pooling (`mechscope.representations.collect`).
"""

from collections.abc import Sequence
from dataclasses import dataclass

from mechscope.models.adapter import adapt
from mechscope.models.base import Model


@dataclass(frozen=True)
class WordTokens:
    """A sentence's token ids and, for each token, the word it belongs to (-1: none)."""

    tokens: tuple[int, ...]
    word_of_token: tuple[int, ...]


def align_words(model: Model, words: Sequence[str]) -> WordTokens | str:
    """Tokenise ``words`` joined by spaces and map tokens to words.

    Returns the alignment, or the reason the words cannot be used: no fast tokenizer, no
    words, longer than the model's context, or a word without a token of its own.
    """
    tokenizer = model.tokenizer
    if tokenizer is None or not getattr(tokenizer, "is_fast", False):
        return "the model has no fast tokenizer (token offsets are needed)"
    if not words:
        return "no words"
    text, word_at_char = "", []
    for i, word in enumerate(words):
        if i:
            text += " "
            word_at_char.append(-1)
        text += word
        word_at_char.extend([i] * len(word))
    encoder = not adapt(model).causal
    encoded = tokenizer(text, return_offsets_mapping=True, add_special_tokens=encoder)
    ids, offsets = list(encoded["input_ids"]), list(encoded["offset_mapping"])
    special = set(tokenizer.all_special_ids)
    words_of = [
        word_at_char[end - 1] if end > start and token not in special else -1
        for token, (start, end) in zip(ids, offsets, strict=True)
    ]
    if not encoder and model.cfg.default_prepend_bos and tokenizer.bos_token_id is not None:
        ids, words_of = [tokenizer.bos_token_id, *ids], [-1, *words_of]
    if len(ids) > model.cfg.n_ctx:
        return f"longer than the model's context of {model.cfg.n_ctx} tokens"
    if set(range(len(words))) - set(words_of):
        return "a word got no tokens of its own"
    return WordTokens(tuple(ids), tuple(words_of))
