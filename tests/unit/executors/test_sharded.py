"""Sharded jobs merge into the one-process result (shards run in this process here; on
worker processes and Ray in tests/scale)."""

import pytest
import torch

from mechscope.core import MechscopeError
from mechscope.executors import Executor, ExecutorKind, ModelRecipe, map_shards, shard_ranges
from tests.jobs_sharded import (
    check_collect,
    check_diagnose,
    check_fold,
    check_heads_and_syntax,
    check_patching,
    check_read_sites,
    failing_task,
)


@pytest.fixture(scope="module")
def model():
    return ModelRecipe("induction-2l").load()


def test_head_scores_and_syntax_from_shards_equal_one_pass(model, tmp_path):
    check_heads_and_syntax(model, Executor(), tmp_path)


def test_activations_from_shards_equal_one_pass(model, tmp_path):
    check_collect(model, Executor(), tmp_path)


def test_diagnostics_from_shards_equal_one_pass(model, tmp_path):
    check_diagnose(model, Executor(), tmp_path)


def test_patching_over_shards_of_pairs_equals_all_pairs(model):
    check_patching(model, Executor())


def test_an_sae_s_training_activations_from_shards_equal_one_read(model):
    check_read_sites(model, Executor())


def test_a_failing_shard_is_named_in_one_line(model):
    with pytest.raises(MechscopeError, match="shard 2 failed: ValueError: bad shard contents"):
        map_shards(failing_task, [0, 1, 2, 3], ModelRecipe("induction-2l"), model=model,
                   progress=False)  # fmt: skip


def test_results_are_folded_in_shard_order(model):
    check_fold(Executor())


def test_results_coming_back_out_of_order_wait_only_until_the_earlier_are_in():
    from mechscope.executors.executor import _InOrder

    folded = _InOrder(4, lambda a, b: a + b)
    folded.add(2, "c")
    folded.add(3, "d")
    assert len(folded) == 2 and 2 in folded and 0 not in folded
    assert folded.waiting == {2: "c", 3: "d"}
    folded.add(0, "a")
    assert folded.waiting == {2: "c", 3: "d"}  # 1 is not in yet
    folded.add(1, "b")
    assert folded.waiting == {} and folded.total == "abcd"
    kept = _InOrder(3)
    for index in (1, 2, 0):
        kept.add(index, index * 10)
    assert kept.kept == [0, 10, 20]
    with pytest.raises(MechscopeError, match="no shards to fold"):
        from mechscope.executors import fold_shards

        fold_shards(failing_task, [], max, ModelRecipe("induction-2l"), progress=False)


def test_shards_cover_the_corpus_in_order():
    assert shard_ranges(10, Executor(), 4) == [range(0, 4), range(4, 8), range(8, 10)]
    assert len(shard_ranges(100, Executor(workers=2))) == 8  # 4 a worker
    assert sum(len(r) for r in shard_ranges(7, Executor(workers=3))) == 7
    with pytest.raises(MechscopeError, match="shard_size must be at least 1"):
        shard_ranges(5, Executor(), 0)


def test_bad_executors_are_refused():
    with pytest.raises(MechscopeError, match="workers must be at least 1"):
        Executor(workers=0)
    with pytest.raises(MechscopeError, match="add --executor ray"):
        Executor(ExecutorKind.LOCAL, 2, address="auto")


def test_induction_alone_is_scored_once_and_equals_one_pass(model):
    """Only the first shard has work (the repeated rows); the prompt rows stay unscored."""
    import mechscope as ms
    from mechscope.executors import sharded_detect_heads

    prompts = [[1, 5, 6, 7, 8, 9], [1, 9, 8, 7, 6, 5], [1, 4, 4, 4, 4, 4]] * 3
    expected = ms.detect_heads(model, prompts, ["induction"], progress=False)
    got = sharded_detect_heads(ModelRecipe("induction-2l"), prompts, ["induction"],
                               model=model, shard_size=2, progress=False)  # fmt: skip
    assert got.n_prompts == expected.n_prompts == 9
    assert torch.equal(got.per_prompt.isnan(), expected.per_prompt.isnan())
    assert float((got.per_prompt - expected.per_prompt).nan_to_num().abs().max()) < 1e-5


def test_the_ray_executor_without_ray_is_one_line(model, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # as where the scale extra is not installed
    with pytest.raises(MechscopeError, match=r"needs Ray: pip install 'mechscope\[scale\]'"):
        map_shards(failing_task, [0, 1], ModelRecipe("induction-2l"),
                   Executor(ExecutorKind.RAY, workers=2), progress=False)  # fmt: skip
