import math

import pytest
import torch

from mechscope.core.batch import TokenBatch
from mechscope.core.metrics import (
    Metric,
    as_metric,
    first_copy_metric,
    icl_per_window,
    loss_per_position,
    mean_and_sem,
    next_token_loss,
    repeated_half_losses,
    second_copy_metric,
)


def test_loss_per_position_on_known_logits():
    tokens = torch.tensor([[0, 1, 2]])
    logits = torch.zeros(1, 3, 4)
    logits[0, 0, 1] = 100.0  # certain of the right next token
    loss = loss_per_position(logits, tokens)
    assert loss.shape == (1, 2)
    assert loss[0, 0].item() == pytest.approx(0.0, abs=1e-6)
    assert loss[0, 1].item() == pytest.approx(math.log(4))


def test_repeated_half_losses():
    loss = torch.arange(9, dtype=torch.float)[None]  # BOS + 4 + 4 tokens -> 8 predictions
    first, second = repeated_half_losses(loss, half_length=4)
    assert first == pytest.approx((1 + 2 + 3) / 3)
    assert second == pytest.approx((5 + 6 + 7) / 3)


def test_icl_per_window_compares_band_means():
    loss = torch.stack([torch.arange(10.0), torch.full((10,), 2.0)])
    # Window 0: late band 6..8 (mean 7) minus early band 1..3 (mean 2) = 5; window 1: 0.
    assert icl_per_window(loss, (1, 4), (6, 9)).tolist() == [5.0, 0.0]
    with pytest.raises(ValueError, match="early < late"):
        icl_per_window(loss, (6, 9), (1, 4))
    with pytest.raises(ValueError, match="within 10 predictions"):
        icl_per_window(loss, (1, 4), (6, 11))


def test_mean_and_sem_against_the_textbook_formula():
    values = torch.tensor([1.0, 2.0, 4.0, 7.0])
    mean, sem = mean_and_sem(values)
    sample_var = sum((v - 3.5) ** 2 for v in values.tolist()) / 3
    assert mean == pytest.approx(3.5)
    assert sem == pytest.approx(math.sqrt(sample_var / 4))
    assert math.isnan(mean_and_sem(torch.tensor([1.0]))[1])


def test_metrics_know_their_direction_and_match_the_losses():
    tokens = torch.tensor([[5, 1, 2, 1, 2]])  # start + r + r, r = (1, 2)
    batch = TokenBatch.full(tokens)
    logits = torch.randn(1, 5, 8, generator=torch.Generator().manual_seed(0))
    loss = loss_per_position(logits, tokens)
    first, second = repeated_half_losses(loss, half_length=2)
    assert float(first_copy_metric(batch, 2)(logits)) == pytest.approx(first)
    assert float(second_copy_metric(batch, 2)(logits)) == pytest.approx(second)
    assert float(next_token_loss(batch)(logits)) == pytest.approx(float(loss.mean()))
    assert not next_token_loss(batch).higher_is_better
    wrapped = as_metric(lambda x: x.sum(), "total")
    assert isinstance(wrapped, Metric) and wrapped.name == "total" and wrapped.higher_is_better


def test_a_metric_name_or_a_non_function_is_one_line():
    from mechscope.core.errors import MechscopeError

    with pytest.raises(MechscopeError, match=r"is a name; .*task.metric\('logit-diff'\)"):
        as_metric("logit-diff")
    with pytest.raises(MechscopeError, match="a Metric or a function of the logits; got int"):
        as_metric(3)


def test_the_bootstrap_interval_of_a_median_covers_it_and_narrows_with_more_samples():
    import torch

    from mechscope.core.metrics import bootstrap_interval

    generator = torch.Generator().manual_seed(1)
    small = torch.randn(20, generator=generator)
    large = torch.randn(2000, generator=generator)
    low, high = bootstrap_interval(small)
    assert low <= float(small.median()) <= high
    wide = high - low
    low, high = bootstrap_interval(large)
    assert low < 0 < high and high - low < wide / 4  # sqrt(100) = 10x more samples
    # The mean's percentile interval is close to the normal one (1.96 standard errors).
    low, high = bootstrap_interval(large, torch.mean)
    se = float(large.std() / 2000**0.5)
    assert (high - low) / 2 == pytest.approx(1.96 * se, rel=0.15)
    assert bootstrap_interval(torch.tensor([3.0])) == (3.0, 3.0)
    with pytest.raises(ValueError, match="level"):
        bootstrap_interval(small, level=1.5)


def test_a_metric_on_a_few_columns_reads_the_same_value_three_ways():
    """`at_columns`: the whole logits, the metric's rows, and the columns alone agree (a
    logit difference, against one computed by hand here), and a bad shape is one line."""
    from mechscope.core import at_columns, column_difference
    from mechscope.core.errors import MechscopeError

    logits = torch.randn(3, 5, 11, generator=torch.Generator().manual_seed(0))
    positions, answers = torch.tensor([4, 2, 3]), torch.tensor([1, 7, 0])
    wrong = torch.tensor([9, 2, 5])
    metric = at_columns("diff", column_difference, positions, torch.stack([answers, wrong], 1))
    rows = torch.arange(3)
    by_hand = (logits[rows, positions, answers] - logits[rows, positions, wrong]).mean()
    at = logits[rows, positions]
    assert metric.read is not None and metric.read_columns is not None
    assert metric.columns is not None
    picked = at.gather(1, metric.columns)
    for value in (metric(logits), metric.read(at), metric.read_columns(picked)):
        torch.testing.assert_close(value, by_hand)
    # what an intervention reads its computed logits with: the columns' reader here, the
    # whole rows' for a metric without columns
    assert metric.row_reader is metric.read_columns
    from mechscope.core import at_positions

    whole = at_positions("first", lambda at: at[:, 0].mean(), positions)
    assert whole.row_reader is whole.read and whole.read is not None
    with pytest.raises(MechscopeError, match=r"columns must be \[batch, k\]"):
        at_columns("diff", lambda at: at.mean(), positions, answers)
