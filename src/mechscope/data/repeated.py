"""Repeated random tokens: the standard probe (and training mix) for induction heads.

``BOS, r_1..r_n, r_1..r_n`` with r uniform over the token range: the second half is
predictable only by looking back at the first (Elhage et al. 2021; Olsson et al. 2022).
"""

import torch
from jaxtyping import Int
from torch import Tensor


def random_token_rows(
    shape: tuple[int, ...], vocab: int | Int[Tensor, " n_ids"], generator: torch.Generator
) -> Int[Tensor, "..."]:
    """Token ids drawn uniformly from ``vocab`` (``range(vocab)``, or a tensor of allowed ids)."""
    if isinstance(vocab, int):
        return torch.randint(0, vocab, shape, generator=generator)
    return vocab[torch.randint(0, len(vocab), shape, generator=generator)]


def repeated_random_tokens(
    n_prompts: int,
    half_length: int,
    vocab: int | Int[Tensor, " n_ids"],
    start_id: int | None,
    *,
    seed: int = 0,
) -> Int[Tensor, "batch pos"]:
    """``n_prompts`` rows of ``start + r + r`` with ``len(r) == half_length``.

    ``r`` is drawn from ``vocab`` (ids ``0..vocab-1``, or the given ids, e.g. a model's
    non-special tokens); ``start_id`` None leaves the start token out. The one generator of
    repeated tokens: training, head detection, patching tasks, notebooks and tests use it.
    """
    generator = torch.Generator().manual_seed(seed)
    half = random_token_rows((n_prompts, half_length), vocab, generator)
    parts = [half, half]
    if start_id is not None:
        parts.insert(0, torch.full((n_prompts, 1), start_id, dtype=torch.long))
    return torch.cat(parts, dim=1)


def repeated_span_rows(
    n_rows: int,
    length: int,
    n_tokens: int,
    bos_id: int,
    span_range: tuple[int, int],
    generator: torch.Generator,
) -> Int[Tensor, "batch pos"]:
    """Rows of ``BOS + a a b b c c ...``: random spans each repeated once, cut at ``length``.

    Span lengths are drawn from ``span_range`` (inclusive), so the distance back to the
    earlier copy varies and only content (an induction head), not position, predicts it.
    """
    low, high = span_range
    rows = torch.empty((n_rows, length), dtype=torch.long)
    rows[:, 0] = bos_id
    for row in range(n_rows):
        pos = 1
        while pos < length:
            span_len = int(torch.randint(low, high + 1, (1,), generator=generator))
            span = random_token_rows((span_len,), n_tokens, generator)
            pair = torch.cat([span, span])[: length - pos]
            rows[row, pos : pos + len(pair)] = pair
            pos += len(pair)
    return rows
