"""`probe_survey`: every probing task on two treebank splits, in one call.

The workflow `mechscope probe` runs, as a library function: collect word (and sentence)
activations of the model and of its random-init twin on both splits, fit a probe per task
and boundary with the control task (`probe_layers`), the structural probe
(`structural_probe`), and two projections (the best and the worst boundary of the UPOS probe,
coloured by UPOS). Conventions are those of each function; boundaries are numbered 0 (the
embeddings) to ``n_layers`` (after the last block).
"""

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mechscope.core.errors import MechscopeError
from mechscope.data.conllu import Sentence
from mechscope.models.base import Model
from mechscope.representations.activations import Activations, collect
from mechscope.representations.choices import Pooling, ProbeTask, SurveySettings
from mechscope.representations.probes import ProbeResult, ProbeSettings, ProbeTable, probe_layers
from mechscope.representations.projections import Projection, project
from mechscope.representations.structural import StructuralResult, structural_probe
from mechscope.representations.tasks import encode, sentence_labels, task_labels

__all__ = [
    "STRUCTURAL",
    "Survey",
    "SurveySettings",
    "check_tasks",
    "probe_survey",
    "supported_tasks",
]

STRUCTURAL = ProbeTask.STRUCTURAL.value
"""The task name of the structural probe."""

Collector = Callable[[str, Model, Sequence[Sentence], Pooling, int], Activations]
"""``collector(role, model, sentences, pooling, batch_size)``: activations of ``sentences``
(role ``"model"`` or ``"random"``, its random-init twin), as `collect` gives them."""


@dataclass(frozen=True)
class Survey:
    """What `probe_survey` measured.

    The table, each task's probe, the structural probe, the projections, and the counts of
    what was read.
    """

    table: ProbeTable
    probes: list[ProbeResult]
    structural: StructuralResult | None
    projections: list[Projection]
    counts: dict[str, Any] = field(default_factory=dict)

    def results(self) -> dict[str, Any]:
        """Every result by the subdirectory it saves to ('' for the table)."""
        out: dict[str, Any] = {"": self.table}
        out |= {f"probe-{p.task}": p for p in self.probes}
        if self.structural is not None:
            out["structural"] = self.structural
        out |= {f"projection-{i}": p for i, p in enumerate(self.projections)}
        return out


def check_tasks(tasks: Sequence[str], splits: Mapping[str, Sequence[Sentence]]) -> None:
    """Refuse a task the treebanks cannot support (one class, no annotation) up front.

    Raises:
        MechscopeError: a task has fewer than two classes in a split.
    """
    for task in tasks:
        if task == STRUCTURAL:
            if not any(h >= 0 for s in splits["train"] for h in s.heads):
                raise MechscopeError(
                    "task structural: the train sentences have no dependency trees (a TSV has "
                    "sentence labels only); probe it on CoNLL-U treebanks."
                )
            continue
        kind = ProbeTask(task)
        labels = {split: [label for s in sentences for label in sentence_labels(kind, s)]
                  for split, sentences in splits.items()}  # fmt: skip
        try:
            encode(labels["train"], labels["eval"])
        except MechscopeError as error:
            raise MechscopeError(f"task {task}: {error}") from error


def supported_tasks(splits: Mapping[str, Sequence[Sentence]]) -> list[str]:
    """Every task (`ProbeTask` values) that both splits have the annotation for.

    A CoNLL-U treebank supports the word tasks it annotates (``entity`` and ``chain`` need
    GUM's ``Entity=``), the structural probe and ``genre``; a ``sentence<TAB>label`` TSV
    supports ``sentiment``.
    """
    out = []
    for task in ProbeTask:
        try:
            check_tasks([task.value], splits)
        except MechscopeError:
            continue
        out.append(task.value)
    return out


def probe_survey(
    model: Model,
    train: Sequence[Sentence],
    eval_: Sequence[Sentence],
    tasks: Sequence[str],
    settings: SurveySettings | None = None,
    *,
    progress: bool = True,
    collector: Collector | None = None,
) -> Survey:
    """Probe ``tasks`` (`ProbeTask` values and ``"structural"``) at every boundary.

    ``progress``: show progress bars (collection and each task's probes).
    ``collector``: how activations are collected (default: `collect`, in this process);
    ``collector(role, model, sentences, pooling, batch_size)`` with role ``"model"`` or
    ``"random"`` (the random-init twin), e.g. `mechscope.executors.sharded_collect` on
    workers. Not with ``settings.store``.

    Raises:
        MechscopeError: no task, a pooling of the wrong level, a boundary out of range, or a
            task the treebanks cannot support.
    """
    from mechscope.models import random_like

    s = settings or SurveySettings()
    if collector is not None and s.store is not None:
        raise MechscopeError("a store keeps one process's activations on disk; drop --store "
                             "to collect on workers.")  # fmt: skip
    if not tasks:
        raise MechscopeError("no tasks given; pass --tasks, e.g. --tasks upos structural.")
    if not s.pooling.words or not s.sentence_pooling.sentences:
        raise MechscopeError("--pooling takes a word-* pooling and --sentence-pooling a "
                             "sentence-* one (e.g. word-mean, sentence-mean).")  # fmt: skip
    splits = {"train": list(train), "eval": list(eval_)}
    check_tasks(tasks, splits)
    n_layers = model.cfg.n_layers
    if bad := [layer for layer in s.layers if not 0 <= layer <= n_layers]:
        raise MechscopeError(f"boundary {bad[0]} is out of range: the model has boundaries "
                             f"0..{n_layers} (0 = embeddings).")  # fmt: skip
    models = {"model": model}
    if s.random_baseline:
        models["random"] = random_like(model, seed=s.seed)
    layers = list(s.layers) or None
    probe_settings = ProbeSettings(kind=s.probe, seed=s.seed)
    levels = {t: t != STRUCTURAL and ProbeTask(t).sentence_level for t in tasks}
    word_tasks = [t for t in tasks if t != STRUCTURAL and not levels[t]]
    sentence_tasks = [t for t in tasks if levels[t]]
    words = None
    counts: dict[str, Any] = {}
    if word_tasks or STRUCTURAL in tasks:
        words = _gather(s, models, splits, s.pooling, progress, collector)
        counts = _counts(words)
    probes = [_probe(s, ProbeTask(t), words, probe_settings, layers, progress)  # pyright: ignore[reportArgumentType]
              for t in word_tasks]  # fmt: skip
    sentences = None
    if sentence_tasks:
        sentences = _gather(s, models, splits, s.sentence_pooling, progress, collector)
        counts |= {"train_sentences": len(sentences["model"]["train"].sentences),
                   "eval_sentences": len(sentences["model"]["eval"].sentences)}  # fmt: skip
        probes += [_probe(s, ProbeTask(t), sentences, probe_settings, layers, progress)
                   for t in sentence_tasks]  # fmt: skip
    structural = None
    if STRUCTURAL in tasks and words is not None:
        random = words.get("random", {})
        structural = structural_probe(
            words["model"]["train"], words["model"]["eval"], rank=s.structural_rank,
            seed=s.seed, boundaries=layers, random_train=random.get("train"),
            random_eval=random.get("eval"), progress=progress,
        )  # fmt: skip
    projections = _projections(s, words, probes, layers) if words is not None else []
    projections += _task_projections(s, words, sentences, probes)
    rows = [row for p in probes for row in p.rows()]
    rows += structural.rows() if structural is not None else []
    table = ProbeTable(rows, [p.summary() for p in probes], {"counts": counts})
    return Survey(table, probes, structural, projections, counts)


def _gather(
    s: SurveySettings,
    models: dict[str, Model],
    splits: dict[str, list[Sentence]],
    pooling: Pooling,
    progress: bool = True,
    collector: Collector | None = None,
) -> dict[str, dict[str, Activations]]:
    """Activations of every model (the model, its random-init twin) on both splits."""
    out: dict[str, dict[str, Activations]] = {}
    for name, model in models.items():
        out[name] = {}
        for split, sentences in splits.items():
            if collector is not None:
                out[name][split] = collector(name, model, sentences, pooling, s.batch_size)
                continue
            store = None if s.store is None else s.store / f"{name}-{pooling.value}-{split}"
            out[name][split] = collect(model, sentences, pooling=pooling,
                                       batch_size=s.batch_size, store=store,
                                       progress=progress)  # fmt: skip
    return out


def _counts(words: dict[str, dict[str, Activations]]) -> dict[str, Any]:
    train, eval_ = words["model"]["train"], words["model"]["eval"]
    skipped = {**train.skipped, **{f"{k} (eval)": v for k, v in eval_.skipped.items()}}
    return {"train_sentences": len(train.sentences), "eval_sentences": len(eval_.sentences),
            "train_words": len(train.units), "eval_words": len(eval_.units),
            "skipped": skipped}  # fmt: skip


def _probe(
    s: SurveySettings,
    task: ProbeTask,
    source: dict[str, dict[str, Activations]],
    settings: ProbeSettings,
    layers: list[int] | None,
    progress: bool = True,
) -> ProbeResult:
    """One task probed at every boundary."""
    train, eval_ = source["model"]["train"], source["model"]["eval"]
    random = source.get("random", {})
    return probe_layers(
        train, task_labels(task, train.sentences, len(train.units)),
        eval_, task_labels(task, eval_.sentences, len(eval_.units)),
        task=task.value, settings=settings, boundaries=layers, control=s.control,
        random_train=random.get("train"), random_eval=random.get("eval"), progress=progress,
    )  # fmt: skip


def _task_projections(
    s: SurveySettings,
    words: dict[str, dict[str, Activations]] | None,
    sentences: dict[str, dict[str, Activations]] | None,
    probes: list[ProbeResult],
) -> list[Projection]:
    """The best boundary of each entity, chain and sentence task, coloured by its labels."""
    out = []
    for probe in probes:
        task = ProbeTask(probe.task)
        if task in (ProbeTask.UPOS, ProbeTask.DEPREL, ProbeTask.DEPTH, ProbeTask.DISTANCE):
            continue
        source = sentences if task.sentence_level else words
        if source is None:
            continue
        eval_ = source["model"]["eval"]
        labels = task_labels(task, eval_.sentences, len(eval_.units))
        layer = eval_.boundaries.index(probe.boundaries[int(probe.accuracy.argmax())])
        projection = project(eval_, labels, boundaries=[layer], method=s.projection, seed=s.seed,
                             labelled_only=True)  # fmt: skip
        title = (f"{s.projection.value.upper()} of the best boundary ({layer}) for {task.value}, "
                 f"by {task.value}")  # fmt: skip
        out.append(dataclasses.replace(projection, extra={**projection.extra, "title": title}))
    return out


def _projections(
    s: SurveySettings,
    words: dict[str, dict[str, Activations]],
    probes: list[ProbeResult],
    layers: list[int] | None,
) -> list[Projection]:
    """The best and the worst boundary of the UPOS probe (or the first task), by UPOS.

    Each projection's caption is its ``extra["title"]``.
    """
    eval_ = words["model"]["eval"]
    upos = task_labels(ProbeTask.UPOS, eval_.sentences, len(eval_.units))
    reference = next((p for p in probes if p.task == "upos"), probes[0] if probes else None)
    chosen = layers or list(range(eval_.n_boundaries))
    if reference is not None:
        order = reference.accuracy.argsort()
        picks = [("best", chosen[int(order[-1])]), ("worst", chosen[int(order[0])])]
    else:
        picks = [("last", chosen[-1]), ("first", chosen[0])]
    task = reference.task if reference is not None else "the structural probe"
    out = []
    for which, layer in picks:
        projection = project(eval_, upos, boundaries=[layer], method=s.projection, seed=s.seed)
        method = s.projection.value.upper()
        title = f"{method} of the {which} boundary ({layer}) for {task}, by UPOS"
        out.append(dataclasses.replace(projection, extra={**projection.extra, "title": title}))
    return out
