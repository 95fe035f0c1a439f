"""The sharded jobs' equality checks, shared by the unit tier (in this process) and the scale
tier (worker processes, Ray): each compares a sharded job with its one-process job."""

import os
from pathlib import Path

import torch

import mechscope as ms
from mechscope.core import Component, every_site
from mechscope.data.conllu import read_conllu
from mechscope.executors import (
    Executor,
    ModelRecipe,
    pair_subset,
    sharded_collect,
    sharded_detect_heads,
    sharded_patching,
)
from mechscope.heads import DependencyAccumulator, align_all
from tests.treebank import write_treebank

SPEC = "induction-2l"
TOLERANCE = 1e-5


def check_heads_and_syntax(model, executor: Executor, tmp_path: Path) -> None:
    sentences = read_conllu(write_treebank(tmp_path / "tb.conllu", n=24))
    aligned, skipped = align_all(model, sentences)
    whole = DependencyAccumulator(model, aligned, skipped)
    expected = ms.detect_heads(model, whole.tokens, consumers=[whole], progress=False)
    sharded = DependencyAccumulator(model, aligned, skipped)
    recipe = ModelRecipe(SPEC)
    got = sharded_detect_heads(recipe, sharded.tokens, executor=executor, syntax=sharded,
                               model=model, shard_size=5, progress=False)  # fmt: skip
    assert got.kinds == expected.kinds and got.n_prompts == expected.n_prompts
    assert torch.equal(got.per_prompt.isnan(), expected.per_prompt.isnan())
    assert float((got.per_prompt - expected.per_prompt).nan_to_num().abs().max()) < TOLERANCE
    a, b = whole.result(), sharded.result()
    assert a.relations == b.relations and torch.equal(a.counts, b.counts)
    assert torch.equal(a.accuracy, b.accuracy) and torch.equal(a.baseline, b.baseline)
    # keep_prompts=False: each shard's moments combined, the same means and deviations
    summed = DependencyAccumulator(model, aligned, skipped)
    summary = sharded_detect_heads(recipe, summed.tokens, executor=executor, syntax=summed,
                                   model=model, shard_size=5, keep_prompts=False,
                                   progress=False)  # fmt: skip
    assert summary.is_summary and summary.per_prompt.shape[1] == 0
    assert summary.kinds == expected.kinds and summary.n_prompts == expected.n_prompts
    assert torch.equal(summary.count, expected.count)
    assert torch.equal(summary.mean.isnan(), expected.mean.isnan())
    for mine, theirs in ((summary.mean, expected.mean), (summary.std, expected.std)):
        assert float((mine - theirs).nan_to_num().abs().max()) < TOLERANCE
    assert summary.classify() == expected.classify()
    assert torch.equal(summed.result().accuracy, a.accuracy)


def check_collect(model, executor: Executor, tmp_path: Path) -> None:
    sentences = read_conllu(write_treebank(tmp_path / "tb.conllu", n=20))
    expected = ms.collect(model, sentences, progress=False)
    got = sharded_collect(ModelRecipe(SPEC), sentences, executor, model=model, shard_size=6,
                          progress=False)  # fmt: skip
    assert got.units == expected.units and got.sentences == expected.sentences
    assert torch.equal(got.group, expected.group) and got.skipped == expected.skipped
    assert float((got.values - expected.values).abs().max()) < TOLERANCE


def check_patching(model, executor: Executor) -> None:
    pairs = ms.repeated_pairs(model, n_prompts=12)
    sites = every_site(Component.Z, model.cfg.n_layers, n_heads=model.cfg.n_heads)
    expected = ms.activation_patching(pairs.runs(model), sites, progress=False)
    got = sharded_patching(ModelRecipe(SPEC), pairs, sites, executor, model=model,
                           shard_size=5, progress=False)  # fmt: skip
    assert got.sites == expected.sites
    assert float((got.values - expected.values).abs().max()) < TOLERANCE
    assert abs(got.clean - expected.clean) < TOLERANCE
    assert abs(got.corrupted - expected.corrupted) < TOLERANCE
    # fewer pairs than shards of pairs wanted: the sites in shards (what "auto" picks then)
    few = pair_subset(pairs, [0, 1, 2])
    expected = ms.activation_patching(few.runs(model), sites, progress=False)
    for by in ("sites", "auto"):
        got = sharded_patching(ModelRecipe(SPEC), few, sites, executor, model=model,
                               shard_size=3, by=by, progress=False)  # fmt: skip
        assert got.sites == expected.sites and got.clean == expected.clean
        assert float((got.values - expected.values).abs().max()) < TOLERANCE


HISTOGRAM_TOLERANCE = 1e-3
"""Gradient histograms: shares of entries in log10 bins. Entries that are sums of cancelling
terms carry large relative rounding errors and cross bin edges: 17 of induction-2l's
66,304 entries a block (0.0003) moved between one pass and 4 shards of 4-prompt batches."""


def assert_same_results(got: dict, expected: dict, tolerance: float = 1e-4) -> None:
    """Two dicts of Results: the same names, and every field equal (tensors and floats to
    ``tolerance``, relative and absolute; NaN where the other has NaN; histograms to
    `HISTOGRAM_TOLERANCE`)."""
    import dataclasses

    import pytest

    assert got.keys() == expected.keys()
    for name, result in expected.items():
        for field in dataclasses.fields(result):
            if field.name == "provenance":
                continue
            mine, theirs = getattr(got[name], field.name), getattr(result, field.name)
            if isinstance(theirs, torch.Tensor):
                assert mine.shape == theirs.shape, (name, field.name)
                atol = HISTOGRAM_TOLERANCE if field.name == "histogram" else tolerance
                torch.testing.assert_close(mine, theirs, atol=atol, rtol=tolerance,
                                           equal_nan=True, msg=f"{name}.{field.name}")  # fmt: skip
            elif isinstance(theirs, float | dict):
                assert mine == pytest.approx(theirs, rel=tolerance, abs=tolerance), name
            else:
                assert mine == theirs, (name, field.name)


def check_diagnose(model, executor: Executor, tmp_path: Path) -> None:
    from mechscope.diagnostics import diagnose
    from mechscope.executors import sharded_diagnose

    sentences = read_conllu(write_treebank(tmp_path / "tb.conllu", n=20))
    prompts = [" ".join(s.words) for s in sentences]
    expected = diagnose(model, prompts, sentences=sentences, progress=False)
    got = sharded_diagnose(ModelRecipe(SPEC), prompts, executor, sentences=sentences,
                           model=model, shard_size=6, batch_size=4, progress=False)  # fmt: skip
    assert set(expected) == {"attention", "rank", "anisotropy", "gradients", "class-geometry"}
    assert_same_results(got, expected)


def check_read_sites(model, executor: Executor) -> None:
    from mechscope.executors import sharded_read_sites
    from mechscope.features import read_sites

    windows = torch.randint(3, 200, (10, 24), generator=torch.Generator().manual_seed(0))
    hooks = ["blocks.0.hook_resid_post", "blocks.1.hook_attn_out"]
    expected = read_sites(model, windows, hooks, progress=False)
    got = sharded_read_sites(ModelRecipe(SPEC), windows, hooks, executor, model=model,
                             shard_size=3, progress=False)  # fmt: skip
    for a, b in zip(expected, got, strict=True):
        assert a.shape == b.shape and float((a - b).abs().max()) < TOLERANCE


def failing_task(model, shard: int) -> int:
    """Raises on shard 2: the job must stop naming it."""
    if shard == 2:
        raise ValueError("bad shard contents")
    return shard * 10


def dying_task(model, shard: tuple[int, str]) -> int:
    """Kills its own worker the first time shard 1 runs (a marker file remembers)."""
    index, marker = shard
    if index == 1 and not Path(marker).exists():
        Path(marker).write_text("died once")
        os._exit(1)
    return index * 10


def where_task(model, shard: int) -> tuple[int, int]:
    """Which worker process ran the shard, and which model object (its id) it used."""
    import time

    time.sleep(0.2)  # every worker gets shards
    return os.getpid(), id(model)


def slow_task(model, shard: tuple[int, str]) -> int:
    """Writes its worker's pid to the directory given, then sleeps (a job to interrupt)."""
    import time

    index, directory = shard
    (Path(directory) / f"{os.getpid()}.pid").write_text(str(index))
    time.sleep(60)
    return index


def late_first_task(model, shard: int) -> list[int]:
    """The earlier the shard, the later it comes back (shard 0 last of its worker's)."""
    import time

    time.sleep(0.05 * (6 - shard))
    return [shard]


def check_fold(executor: Executor) -> None:
    """Results folded in shard order, however they come back."""
    from mechscope.executors import fold_shards

    got = fold_shards(late_first_task, list(range(6)), lambda a, b: a + b, ModelRecipe(SPEC),
                      executor, progress=False)  # fmt: skip
    assert got == [0, 1, 2, 3, 4, 5]
