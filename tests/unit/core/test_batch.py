"""core.batch: length-grouped chunks under a memory budget."""

import pytest

from mechscope.core.batch import budget_chunks


def _cost(length: int) -> int:
    return length * length


def test_chunks_cover_every_row_once_shortest_first():
    lengths = [5, 1, 9, 3, 3, 7, 2]
    chunks = budget_chunks(lengths, max_rows=3, bytes_per_row=_cost, budget_bytes=None)
    flat = [i for chunk in chunks for i in chunk]
    assert sorted(flat) == list(range(len(lengths)))
    assert [lengths[i] for i in flat] == sorted(lengths)
    assert [len(c) for c in chunks] == [3, 3, 1]  # max_rows alone decides without a budget


def test_a_chunk_stays_within_the_budget_and_an_oversized_row_runs_alone():
    lengths = [2, 2, 2, 2, 4, 4, 10]
    chunks = budget_chunks(lengths, max_rows=32, bytes_per_row=_cost, budget_bytes=16)
    # 4 rows of 2 (4 x 4 = 16), then rows of 4 one at a time (2 x 16 > 16), then the 10 alone.
    assert chunks == [[0, 1, 2, 3], [4], [5], [6]]
    for chunk in chunks[:-1]:
        assert len(chunk) * _cost(max(lengths[i] for i in chunk)) <= 16


@pytest.mark.parametrize("n", [1, 50, 500])
def test_the_chunk_count_grows_with_the_corpus_not_the_chunk_size(n):
    chunks = budget_chunks([8] * n, max_rows=1000, bytes_per_row=_cost, budget_bytes=640)
    assert max(len(c) for c in chunks) == min(n, 10)
