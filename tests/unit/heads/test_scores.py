"""`HeadScores` summaries: moments that combine exactly into the per-prompt statistics."""

import pytest
import torch

from mechscope.core.results import load_result
from mechscope.heads import HeadKind, HeadScores

KINDS = (HeadKind.PREVIOUS_TOKEN, HeadKind.INDUCTION, HeadKind.FIRST_TOKEN)


def scores(n: int, seed: int) -> HeadScores:
    """Random per-prompt scores with NaN where a kind is not scored (induction on the first
    half of the rows, a whole head of one kind never)."""
    g = torch.Generator().manual_seed(seed)
    rows = torch.rand(len(KINDS), n, 2, 3, generator=g) * 5 + seed
    rows[1, : n // 2] = torch.nan
    rows[2, :, 1, 2] = torch.nan
    return HeadScores(KINDS, rows, n)


def test_a_summary_gives_the_rows_count_mean_and_spread():
    whole = scores(9, 0)
    summary = whole.summarised()
    assert summary.is_summary and summary.per_prompt.shape == (3, 0, 2, 3)
    assert torch.equal(summary.count, whole.count) and summary.n_prompts == 9
    assert torch.allclose(summary.mean, whole.mean, equal_nan=True)
    assert torch.allclose(summary.std, whole.std, atol=1e-6)
    assert summary.classify() == whole.classify() and summary.top("induction") == whole.top(
        "induction"
    )


@pytest.mark.parametrize("split", [1, 4, 8])
def test_summaries_combine_into_the_summary_of_all_rows(split):
    a, b = scores(12, 1), scores(7, 2)
    both = HeadScores(KINDS, torch.cat([a.per_prompt, b.per_prompt], 1), 19)
    parts = [HeadScores(KINDS, both.per_prompt[:, :split], split),
             HeadScores(KINDS, both.per_prompt[:, split:], 19 - split)]  # fmt: skip
    combined = parts[0].summarised().combined(parts[1])
    assert torch.equal(combined.count, both.count) and combined.n_prompts == 19
    assert torch.allclose(combined.mean, both.mean, equal_nan=True, atol=1e-5)
    assert torch.allclose(combined.std, both.std, atol=1e-5)
    # a head no row scored stays NaN, with no spread
    assert combined.mean[2, 1, 2].isnan() and float(combined.std[2, 1, 2]) == 0.0


def test_a_summary_saves_and_loads_and_other_kinds_do_not_combine(tmp_path):
    summary = scores(5, 3).summarised()
    summary.save(tmp_path / "s")
    loaded = load_result(tmp_path / "s")
    assert isinstance(loaded, HeadScores) and loaded.moments is not None
    assert torch.equal(loaded.moments.nan_to_num(-1), summary.moments.nan_to_num(-1))  # pyright: ignore[reportOptionalMemberAccess]
    scores(5, 3).save(tmp_path / "rows")
    assert load_result(tmp_path / "rows").moments is None  # pyright: ignore[reportAttributeAccessIssue]
    other = HeadScores(KINDS[:2], torch.rand(2, 4, 2, 3), 4)
    with pytest.raises(ValueError, match="same kinds"):
        summary.combined(other)
