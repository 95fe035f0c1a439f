"""What head classification needs to know about a model's vocabulary."""

import unicodedata
import weakref
from typing import Any

import torch
from jaxtyping import Bool, Int
from torch import Tensor

from mechscope.models.base import Model

SUBWORD_MARKS = ("##", "Ġ", "▁")


_TABLES: "weakref.WeakKeyDictionary[Any, dict[int, Tensor]]" = weakref.WeakKeyDictionary()


def punctuation_table(model: Model) -> Bool[Tensor, " d_vocab"]:
    """True for ids whose text is punctuation only (Unicode category P*), e.g. ``.`` ``,``.

    Built once per tokenizer and vocabulary size (decoding a 50k vocabulary in Python takes a
    noticeable share of a head-classification run), then shared.
    """
    tokenizer = model.tokenizer
    n_vocab = model.cfg.d_vocab
    if tokenizer is None:
        return torch.zeros(n_vocab, dtype=torch.bool)
    by_size = _TABLES.setdefault(tokenizer, {})
    if n_vocab not in by_size:
        by_size[n_vocab] = _punctuation_table(tokenizer, n_vocab)
    return by_size[n_vocab]


def _punctuation_table(tokenizer: Any, n_vocab: int) -> Bool[Tensor, " d_vocab"]:  # noqa: ANN401 - a HF tokenizer
    texts = tokenizer.batch_decode([[i] for i in range(n_vocab)])
    special = set(tokenizer.all_special_ids)
    table = torch.zeros(n_vocab, dtype=torch.bool)
    for i, text in enumerate(texts):
        for mark in SUBWORD_MARKS:
            text = text.removeprefix(mark)
        text = text.strip()
        if i not in special and text and all(unicodedata.category(c).startswith("P") for c in text):
            table[i] = True
    return table


def ordinary_ids(model: Model) -> Int[Tensor, " n_ids"]:
    """Ids that are not special tokens, for random-token prompts."""
    tokenizer = model.tokenizer
    special = set(tokenizer.all_special_ids) if tokenizer is not None else set()
    n_vocab = min(model.cfg.d_vocab, len(tokenizer)) if tokenizer is not None else model.cfg.d_vocab
    return torch.tensor([i for i in range(n_vocab) if i not in special], dtype=torch.long)
