"""Corpus jobs cut into shards and merged into exactly what the one-process job returns.

- `sharded_detect_heads`: prompts (or a treebank's aligned sentences, with their dependency
  accuracies) in shards; ``per_prompt`` rows concatenated in prompt order, the induction kind's
  repeated-token rows scored once (by the first shard); relation hits and counts summed; with
  ``keep_prompts=False`` each shard's moments combined instead of its rows.
- `sharded_collect`: sentences in shards; activations concatenated along the unit axis, each
  unit's sentence index moved past the earlier shards' kept sentences, skip counts summed.
- `sharded_read_sites`: an SAE's or transcoders' training windows in shards; each hook's
  activations concatenated in window order (`site_reader` hands it to `train_sae`);
- `sharded_diagnose`: prompts (and sentences) in shards; each shard's `DiagnosisParts` (sums
  over its prompts, its prompts' rank measures, its token-weighted gradients, its words'
  points) added up into what `mechscope.diagnostics.diagnose` gives;
- `sharded_patching`: prompt pairs in shards; every task metric is a mean over prompts, so
  each site's value (and the clean and corrupted baselines) is the pairs-weighted mean of the
  shards' values; or, for a few pairs over many sites, the sites in shards, values
  concatenated.

Equality with the one-process job is tested to float tolerance (shards pad their own
batches, so matrix products see other shapes), on local processes in the unit tier and on a
local Ray cluster in the scale tier (``make scale``).
"""

import math
import operator
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import torch

from mechscope.core.batch import TokenBatch
from mechscope.core.errors import MechscopeError
from mechscope.core.results import Result
from mechscope.core.sites import Site
from mechscope.data.conllu import Sentence
from mechscope.diagnostics.corpus import (
    BATCH_SIZE,
    DiagnosisParts,
    diagnosis_parts,
    upos_classes,
)
from mechscope.executors.executor import Executor, ModelRecipe, fold_shards, map_shards
from mechscope.features.activations import read_sites
from mechscope.heads.detect import detect_heads
from mechscope.heads.kinds import HeadKind
from mechscope.heads.scores import HeadScores
from mechscope.heads.settings import DetectionSettings
from mechscope.heads.syntax import DependencyAccumulator
from mechscope.interventions.activation import PatchingResult, activation_patching
from mechscope.interventions.choices import PatchDirection
from mechscope.interventions.pairs import TaskMetric, TaskPairs
from mechscope.representations.activations import Activations, collect
from mechscope.representations.choices import Pooling

SHARDS_PER_WORKER = 4
"""Default shards per worker: enough that a fast worker takes more of them (an actor pool
hands the next shard to whichever is free), few enough that each is worth its call."""


def shard_ranges(n: int, executor: Executor, shard_size: int | None = None) -> list[range]:
    """``range(n)`` in consecutive shards: ``shard_size`` each, or `SHARDS_PER_WORKER` a worker."""
    if shard_size is not None and shard_size < 1:
        raise MechscopeError(f"shard_size must be at least 1; got {shard_size}.")
    size = shard_size or max(1, math.ceil(n / (executor.workers * SHARDS_PER_WORKER)))
    return [range(start, min(start + size, n)) for start in range(0, n, size)]


# --- head scores ------------------------------------------------------------------------------


def _heads_shard(model: Any, shard: tuple) -> tuple[HeadScores, DependencyAccumulator | None]:  # noqa: ANN401
    rows, kinds, settings, aligned, keep_prompts = shard
    accumulator = None
    consumers = []
    if aligned is not None:
        accumulator = DependencyAccumulator(model, aligned, Counter())
        consumers = [accumulator]
    scores = detect_heads(model, rows, kinds, settings, consumers=consumers, progress=False)
    return (scores if keep_prompts else scores.summarised()), accumulator


def _summary_of(chosen: Sequence[HeadKind], scores: HeadScores) -> HeadScores:
    """A shard's summary over every kind of ``chosen`` (kinds it did not score: no rows)."""
    assert scores.moments is not None
    moments = torch.zeros(3, len(chosen), *scores.moments.shape[2:])
    moments[1] = torch.nan
    for k, kind in enumerate(scores.kinds):
        moments[:, chosen.index(kind)] = scores.moments[:, k]
    return HeadScores(tuple(chosen), scores.per_prompt.new_zeros((len(chosen), 0,
                      *scores.per_prompt.shape[2:])), scores.n_prompts, moments)  # fmt: skip


def sharded_detect_heads(
    recipe: ModelRecipe,
    prompts: Sequence[str] | Sequence[Sequence[int]],
    kinds: Sequence[HeadKind | str] | str = "all",
    settings: DetectionSettings | None = None,
    executor: Executor = Executor(),  # noqa: B008 - frozen
    *,
    syntax: DependencyAccumulator | None = None,
    model: Any = None,  # noqa: ANN401 - the caller's Model, for in-process runs
    shard_size: int | None = None,
    keep_prompts: bool = True,
    progress: bool = True,
) -> HeadScores:
    """`mechscope.heads.detect_heads` over shards of ``prompts`` (module docstring).

    ``syntax``: an accumulator over the aligned sentences whose token rows are ``prompts``
    (``syntax.tokens``, as ``mechscope heads --conllu`` runs them); every shard's relation
    hits are added to it, as `detect_heads`'s ``consumers=`` would.
    ``keep_prompts=False``: each shard sends back its rows' moments and the merge combines
    them (`HeadScores.summarised`): the same means and standard deviations (to float
    rounding), in memory that does not grow with the corpus.
    """
    settings = settings or DetectionSettings()
    chosen = HeadKind.parse(kinds)
    if syntax is not None and len(syntax.aligned) != len(prompts):
        raise MechscopeError("syntax= must be the accumulator of the sentences given as prompts.")
    ranges = shard_ranges(len(prompts), executor, shard_size)
    shards, run = [], []  # run: the ranges with something to score or accumulate
    for i, part in enumerate(ranges):
        here = chosen if i == 0 else [k for k in chosen if k is not HeadKind.INDUCTION]
        if not here and syntax is None:
            continue  # induction alone: only the first shard's repeated rows are scored
        aligned = [syntax.aligned[j] for j in part] if syntax is not None else None
        # (with syntax, the sentences must run even for induction alone: it is rescored)
        shards.append(([prompts[j] for j in part], here or chosen, settings, aligned,
                       keep_prompts))  # fmt: skip
        run.append(part)
    outputs = map_shards(_heads_shard, shards, recipe, executor, model=model,
                         progress=progress, desc="detect_heads shards")  # fmt: skip
    if syntax is not None:
        for _, accumulator in outputs:
            assert accumulator is not None
            add_accumulated(syntax, accumulator)
    first = outputs[0][0]
    if not keep_prompts:
        summary = _summary_of(chosen, first)
        for scores, _ in outputs[1:]:
            summary = summary.combined(_summary_of(chosen, scores))
        return replace(summary, n_prompts=len(prompts), provenance=first.provenance)
    shape = (len(chosen), len(prompts), *first.per_prompt.shape[2:])
    prompt_rows = torch.full(shape, torch.nan)  # rows of skipped shards stay NaN: unscored
    for part, (scores, _) in zip(run, outputs, strict=True):
        for k, kind in enumerate(scores.kinds):
            prompt_rows[chosen.index(kind), part.start : part.stop] = scores.per_prompt[
                k, : scores.n_prompts
            ]
    repeated = first.per_prompt[:, first.n_prompts :]  # the induction rows, scored once
    return replace(
        first,
        kinds=tuple(chosen),
        per_prompt=torch.cat([prompt_rows, repeated], dim=1),
        n_prompts=len(prompts),
    )


def add_accumulated(total: DependencyAccumulator, part: DependencyAccumulator) -> None:
    """Add ``part``'s relation hits, offset baselines and counts into ``total`` (by relation)."""
    index = torch.tensor([total.relations.index(r) for r in part.relations], dtype=torch.long)
    total.correct.index_add_(0, index, part.correct)
    total.baseline.index_add_(0, index, part.baseline)
    total.counts.index_add_(0, index, part.counts)


# --- activations ------------------------------------------------------------------------------


def _collect_shard(model: Any, shard: tuple) -> Activations:  # noqa: ANN401
    inputs, options = shard
    return collect(model, inputs, progress=False, **options)


def sharded_collect(
    recipe: ModelRecipe,
    inputs: Sequence[Sentence] | Sequence[str],
    executor: Executor = Executor(),  # noqa: B008 - frozen
    *,
    pooling: Pooling | None = None,
    sites: Sequence[Site] | None = None,
    boundaries: Sequence[int] | None = None,
    batch_size: int = 32,
    model: Any = None,  # noqa: ANN401 - the caller's Model, for in-process runs
    shard_size: int | None = None,
    progress: bool = True,
) -> Activations:
    """`mechscope.representations.collect` over shards of ``inputs``, in memory (module doc)."""
    options = {"pooling": pooling, "sites": sites, "boundaries": boundaries,
               "batch_size": batch_size}  # fmt: skip
    ranges = shard_ranges(len(inputs), executor, shard_size)
    shards = [([inputs[j] for j in part], options) for part in ranges]
    parts = map_shards(_collect_shard, shards, recipe, executor, model=model,
                       progress=progress, desc="collect shards")  # fmt: skip
    groups, offset = [], 0
    for part in parts:
        groups.append(part.group + offset)
        offset += len(part.sentences)
    skipped: Counter[str] = Counter()
    for part in parts:
        skipped.update(part.skipped)
    return replace(
        parts[0],
        values=torch.cat([part.values for part in parts], dim=1),
        units=tuple(unit for part in parts for unit in part.units),
        group=torch.cat(groups),
        sentences=tuple(s for part in parts for s in part.sentences),
        skipped=dict(skipped),
    )


# --- diagnostics ------------------------------------------------------------------------------


def _diagnose_shard(model: Any, shard: tuple) -> DiagnosisParts:  # noqa: ANN401
    prompts, sentences, classes, gradients, batch_size = shard
    return diagnosis_parts(model, prompts, sentences=sentences, classes=classes,
                           gradients=gradients, batch_size=batch_size)  # fmt: skip


def sharded_diagnose(
    recipe: ModelRecipe,
    prompts: Sequence[str],
    executor: Executor = Executor(),  # noqa: B008 - frozen
    *,
    sentences: Sequence[Sentence] = (),
    gradients: bool | None = None,
    batch_size: int = BATCH_SIZE,
    model: Any = None,  # noqa: ANN401 - the caller's Model, for in-process runs
    shard_size: int | None = None,
    progress: bool = True,
) -> dict[str, Result]:
    """`mechscope.diagnostics.diagnose` over shards of ``prompts`` (and of ``sentences``).

    Every shard's `DiagnosisParts` come back and are added up in shard order as they come
    (`fold_shards`: the caller holds the running total and the shards that came back early,
    not every shard's). Each carries a gradient the size of the model (SmolLM2: 540 MB), so
    by default a worker takes one shard; ``shard_size`` counts prompts (the sentences are
    cut into as many shards).

    Raises:
        MechscopeError: as `diagnose`, or a shard failed.
    """
    classes = upos_classes(sentences) if sentences else []
    ranges = shard_ranges(len(prompts), executor,
                          shard_size or math.ceil(len(prompts) / executor.workers))  # fmt: skip
    k, n = len(ranges), len(sentences)
    words = [list(sentences[i * n // k : (i + 1) * n // k]) for i in range(k)]  # as many shards
    shards = [(list(prompts[part.start : part.stop]), words[i], classes, gradients, batch_size)
              for i, part in enumerate(ranges)]  # fmt: skip
    total = fold_shards(_diagnose_shard, shards, operator.add, recipe, executor, model=model,
                        progress=progress, desc="diagnose shards")  # fmt: skip
    return total.results(classes)


# --- SAE and transcoder activations ----------------------------------------------------------


def _read_shard(model: Any, shard: tuple) -> list[torch.Tensor]:  # noqa: ANN401
    windows, hooks = shard
    return read_sites(model, windows, hooks, progress=False)


def sharded_read_sites(
    recipe: ModelRecipe,
    windows: torch.Tensor,
    hooks: Sequence[str],
    executor: Executor = Executor(),  # noqa: B008 - frozen
    *,
    model: Any = None,  # noqa: ANN401 - the caller's Model, for in-process runs
    shard_size: int | None = None,
    progress: bool = True,
) -> list[torch.Tensor]:
    """`mechscope.features.read_sites` over shards of ``windows`` (rows), for SAE training.

    Each hook's activations are the shards' concatenated in window order: every real token
    in the order one process reads them.
    """
    ranges = shard_ranges(windows.shape[0], executor, shard_size)
    shards = [(windows[part.start : part.stop], list(hooks)) for part in ranges]
    parts = map_shards(_read_shard, shards, recipe, executor, model=model, progress=progress,
                       desc="activation shards")  # fmt: skip
    return [torch.cat([part[i] for part in parts]) for i in range(len(hooks))]


def site_reader(recipe: ModelRecipe, executor: Executor) -> Callable:
    """A `mechscope.features.SiteReader` reading shards of the windows on ``executor``."""

    def reader(model: Any, windows: torch.Tensor, hooks: Sequence[str]) -> list[torch.Tensor]:  # noqa: ANN401
        return sharded_read_sites(recipe, windows, hooks, executor, model=model)

    return reader


# --- patching ---------------------------------------------------------------------------------


def pair_subset(pairs: TaskPairs, rows: Sequence[int]) -> TaskPairs:
    """The pairs at ``rows`` (their batches' rows, answers and positions)."""
    index = torch.tensor(list(rows), dtype=torch.long)

    def rows_of(batch: TokenBatch) -> TokenBatch:
        return replace(
            batch, tokens=batch.tokens[index], attention_mask=batch.attention_mask[index]
        )

    return replace(
        pairs,
        clean=rows_of(pairs.clean),
        corrupted=rows_of(pairs.corrupted),
        answers=pairs.answers[index],
        wrong=pairs.wrong[index],
        positions=pairs.positions[index],
    )


def _patching_shard(model: Any, shard: tuple) -> PatchingResult:  # noqa: ANN401
    pairs, sites, metric, direction, max_rows = shard
    runs = pairs.runs(model, metric)
    return activation_patching(runs, sites, direction, max_rows=max_rows, progress=False)


def sharded_patching(
    recipe: ModelRecipe,
    pairs: TaskPairs,
    sites: Sequence[Site],
    executor: Executor = Executor(),  # noqa: B008 - frozen
    *,
    metric: TaskMetric | str = TaskMetric.LOGIT_DIFF,
    direction: PatchDirection | str = PatchDirection.DENOISING,
    max_rows: int = 64,
    model: Any = None,  # noqa: ANN401 - the caller's Model, for in-process runs
    shard_size: int | None = None,
    by: str = "auto",
    progress: bool = True,
) -> PatchingResult:
    """`mechscope.interventions.activation_patching` over shards of the pairs or of the sites.

    ``by="pairs"``: the task metrics are means over prompts, so the whole task's value at each
    site is the mean of the shards' values weighted by their pairs (module docstring).
    ``by="sites"``: every shard runs every pair on its consecutive share of the sites (each
    runs the clean and corrupted batches once more, so one shard per worker by default), and
    the values are concatenated. ``auto``: by sites when there are fewer pairs than shards of
    pairs wanted (``SHARDS_PER_WORKER`` a worker: a shard would hold a pair or less, and with
    fewer pairs than workers some would have nothing to do), by pairs otherwise. Measured on
    SmolLM2, the heads of the last 10 layers on 2 workers: 4 IOI pairs by pairs 2.2 s, by
    sites 2.0 s; 1 pair 1.2 s and 0.9 s. ``shard_size`` counts pairs or sites accordingly.

    Raises:
        MechscopeError: ``by`` is none of ``auto``, ``pairs``, ``sites``.
    """
    if by not in ("auto", "pairs", "sites"):
        raise MechscopeError(f"by must be 'auto', 'pairs' or 'sites'; got {by!r}.")
    n = pairs.clean.tokens.shape[0]
    metric = TaskMetric(metric)
    direction = PatchDirection(direction)
    if by == "sites" or (by == "auto" and n < executor.workers * SHARDS_PER_WORKER):
        ranges = shard_ranges(len(sites), executor,
                              shard_size or math.ceil(len(sites) / executor.workers))  # fmt: skip
        shards = [(pairs, list(sites[part.start : part.stop]), metric, direction, max_rows)
                  for part in ranges]  # fmt: skip
        parts = map_shards(_patching_shard, shards, recipe, executor, model=model,
                           progress=progress, desc="patching shards (sites)")  # fmt: skip
        return replace(parts[0], sites=tuple(sites),
                       values=torch.cat([p.values for p in parts]))  # fmt: skip
    ranges = shard_ranges(n, executor, shard_size)
    shards = [(pair_subset(pairs, part), list(sites), metric, direction, max_rows)
              for part in ranges]  # fmt: skip
    parts = map_shards(_patching_shard, shards, recipe, executor, model=model,
                       progress=progress, desc="patching shards")  # fmt: skip
    weights = torch.tensor([len(part) for part in ranges], dtype=torch.float64) / n
    values = sum(w * p.values.double() for w, p in zip(weights, parts, strict=True))
    assert isinstance(values, torch.Tensor)
    return replace(
        parts[0],
        values=values.to(parts[0].values.dtype),
        clean=float(sum(w * p.clean for w, p in zip(weights, parts, strict=True))),
        corrupted=float(sum(w * p.corrupted for w, p in zip(weights, parts, strict=True))),
    )
