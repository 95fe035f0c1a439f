"""Rank collapse (Dong et al. 2021) on seeded random pure-attention models."""

from experiments.rank_collapse import Config, RankCollapseResult
from experiments.rank_collapse.config import JOB
from mechscope.core.results import load_result
from tests.findings import rendered
from tests.jobs import run_job


def test_without_skips_the_representations_collapse_with_depth(tmp_path):
    cfg = Config(out=tmp_path, seeds=3, n_prompts=8, models=("induction-2l",), train_steps=100,
                 train_seeds=1)  # fmt: skip
    result = run_job(JOB, cfg)
    without, with_ = result.without_skips.mean(-1), result.with_skips.mean(-1)
    # measured (5 seeds): 0.98 -> 0.0031 after 12 blocks without skips, 0.36 with them
    assert float(without[-1]) < 0.01 < float(with_[-1])
    assert (without[1:] < with_[1:]).all()
    decay = without[1:] / without[:-1]
    assert float(decay[-3:].mean()) < float(decay[:3].mean())  # the decay accelerates
    assert min(result.trained["induction-2l"]) > 0.5  # a trained model keeps its rank
    # Bidirectional (Dong et al.'s setting): without skips one block already collapses the
    # stream, far below the causal decoder, whose first positions see few others.
    both = {name: values.mean(-1) for name, values in result.bidirectional.items()}
    assert float(both["without skips"][1]) < float(without[1]) / 10
    assert float(both["without skips"][-1]) < 1e-3 < float(both["with skips"][-1])
    # The same architecture trained with its skips: removing them still collapses the stream.
    after = {name: values.mean(-1) for name, values in result.after_training.items()}
    assert float(after["trained, without skips"][-1]) < 0.1
    assert float(after["trained, with skips"][-1]) > 0.1
    assert float(after["initialisation, without skips"][-1]) < 0.1
    loaded = load_result(tmp_path)
    assert isinstance(loaded, RankCollapseResult)
    assert set(loaded.after_training) == set(result.after_training)
    assert set(loaded.bidirectional) == {"with skips", "without skips"}
    # The findings page renders from this run too (every field has a number).
    page = rendered("rank-collapse", result)
    assert "{" not in page and "3 random attention-only models" in page
