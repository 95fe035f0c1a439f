"""``mechscope probe``: what each layer encodes, by probes with controls and baselines."""

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from mechscope.cli.common import DeviceArg, ModelArg, OutArg, say
from mechscope.representations.choices import Pooling, ProbeKind, ProjectionMethod


class ProbeTask(Enum):
    """Tasks read from the treebank (structural: Hewitt & Manning's probes)."""

    UPOS = "upos"
    DEPREL = "deprel"
    DEPTH = "depth"
    DISTANCE = "distance"
    STRUCTURAL = "structural"
    GENRE = "genre"


@dataclass(frozen=True, kw_only=True)
class Config:
    """Probe every layer of a model for what its words and sentences encode.

    Fits a probe per layer on the --train treebank and scores it on --eval (split by
    sentence), with a 95 % interval by sentence, the control task (Hewitt & Liang 2019) and
    selectivity, the majority class and a random-init model of the same shape; the
    structural probe (Hewitt & Manning 2019) with UUAS / Spearman by layer; a projection of
    the best and the worst layer coloured by UPOS. Writes result.json, table.csv (task,
    layer, metric, value), each task's result and report.html into --out. Example:
    mechscope probe minilm --train train.conllu --eval dev.conllu --out results/probe
    """

    model: ModelArg
    train: Path
    """CoNLL-U treebank the probes are fitted on."""
    eval: Path
    """CoNLL-U treebank they are scored on (other sentences)."""
    out: OutArg = Path("results/probe")
    """Output directory."""
    overwrite: bool = False
    """Replace results already in --out (the old ones stay until the new ones are complete)."""
    tasks: tuple[ProbeTask, ...] = tuple(ProbeTask)
    """Tasks to probe."""
    pooling: Pooling = Pooling.WORD_MEAN
    """How a word's sub-tokens are pooled (a word-* pooling)."""
    sentence_pooling: Pooling = Pooling.SENTENCE_MEAN
    """How a sentence is pooled for the sentence-level task, genre (a sentence-* pooling)."""
    probe: ProbeKind = ProbeKind.LINEAR
    """Linear (logistic regression) or MLP probes."""
    max_train_sentences: int | None = None
    """Read at most this many training sentences (default: all)."""
    max_eval_sentences: int | None = None
    """Read at most this many eval sentences (default: all)."""
    layers: tuple[int, ...] = ()
    """Boundaries to probe, 0 = embeddings (default: all)."""
    control: bool = True
    """Also fit the control task (selectivity)."""
    random_baseline: bool = True
    """Also probe a random-init model of the same shape."""
    structural_rank: int = 128
    """Rank of the structural probe's B."""
    projection: ProjectionMethod = ProjectionMethod.PCA
    """How the best and the worst layer are projected (umap needs mechscope[reps])."""
    store: Path | None = None
    """Keep the activations memory-mapped in this directory (bounded memory for big sets)."""
    batch_size: int = 32
    """Sentences per forward pass."""
    seed: int = 0
    """Seed of probes, control labels, the random-init model and projections."""
    device: DeviceArg = None
    """Torch device (default: CUDA when available, else CPU)."""


def run(cfg: Config) -> int:
    """Collect, probe every task, print the summary, save results, table and report."""
    from mechscope.cli.common import load_text_model
    from mechscope.core.errors import MechscopeError
    from mechscope.data.conllu import read_conllu
    from mechscope.models import random_like
    from mechscope.representations import ProbeSettings, structural_probe
    from mechscope.representations.probes import ProbeTable
    from mechscope.viz.representations import render_probes

    if not cfg.tasks:
        raise MechscopeError("no tasks given; pass --tasks, e.g. --tasks upos structural.")
    if not cfg.pooling.words or not cfg.sentence_pooling.sentences:
        raise MechscopeError("--pooling takes a word-* pooling and --sentence-pooling a "
                             "sentence-* one (e.g. word-mean, sentence-mean).")  # fmt: skip
    splits = {"train": read_conllu(cfg.train, cfg.max_train_sentences),
              "eval": read_conllu(cfg.eval, cfg.max_eval_sentences)}  # fmt: skip
    _check_tasks(cfg.tasks, splits)  # before any model runs
    model = load_text_model(cfg.model, cfg.device, "probe")
    n_layers = model.cfg.n_layers
    if bad := [layer for layer in cfg.layers if not 0 <= layer <= n_layers]:
        raise MechscopeError(f"layer {bad[0]} is out of range: {cfg.model} has boundaries "
                             f"0..{n_layers} (0 = embeddings).")  # fmt: skip
    models = {"model": model}
    if cfg.random_baseline:
        models["random"] = random_like(model, seed=cfg.seed)
    settings = ProbeSettings(kind=cfg.probe, seed=cfg.seed)
    layers = list(cfg.layers) or None
    word_tasks = [t for t in cfg.tasks if t not in (ProbeTask.STRUCTURAL, ProbeTask.GENRE)]
    words = None
    if word_tasks or ProbeTask.STRUCTURAL in cfg.tasks:
        words = _gather(cfg, models, splits, cfg.pooling)
        _say_counts(cfg.model, words)
    probes = []
    for task in word_tasks:
        probes.append(_probe(cfg, task, words, settings, layers))  # pyright: ignore[reportArgumentType]
    if ProbeTask.GENRE in cfg.tasks:
        sentences = _gather(cfg, models, splits, cfg.sentence_pooling)
        probes.append(_probe(cfg, ProbeTask.GENRE, sentences, settings, layers))
    structural = None
    if ProbeTask.STRUCTURAL in cfg.tasks and words is not None:
        random = words.get("random", {})
        structural = structural_probe(
            words["model"]["train"], words["model"]["eval"], rank=cfg.structural_rank,
            seed=cfg.seed, boundaries=layers, random_train=random.get("train"),
            random_eval=random.get("eval"),
        ).with_provenance(cfg, cfg.model)  # fmt: skip
        _say_structural(structural)
    projections = _projections(cfg, words, probes, layers) if words is not None else []
    rows = [row for p in probes for row in p.rows()]
    rows += structural.rows() if structural is not None else []
    table = ProbeTable(rows, [p.summary() for p in probes]).with_provenance(cfg, cfg.model)
    table.save(cfg.out)
    table.to_dataframe().to_csv(cfg.out / "table.csv", index=False)
    for result in probes:
        result.save(cfg.out / f"probe-{result.task}")
    if structural is not None:
        structural.save(cfg.out / "structural")
    for i, (_, projection) in enumerate(projections):
        projection.save(cfg.out / f"projection-{i}")
    report = render_probes(probes, f"Probes of {cfg.model}", structural=structural,
                           projections=projections)  # fmt: skip
    say(f"table: {cfg.out / 'table.csv'}; report: {report.save(cfg.out / 'report.html')}")
    return 0


def _check_tasks(tasks, splits) -> None:  # noqa: ANN001
    """Refuse a task the treebanks cannot support (one class, no annotation) up front."""
    from mechscope.core.errors import MechscopeError
    from mechscope.representations import Task, encode
    from mechscope.representations.tasks import sentence_labels

    for task in tasks:
        if task is ProbeTask.STRUCTURAL:
            continue
        kind = Task(task.value)
        labels = {split: [label for s in sentences for label in sentence_labels(kind, s)]
                  for split, sentences in splits.items()}  # fmt: skip
        try:
            encode(labels["train"], labels["eval"])
        except MechscopeError as error:
            raise MechscopeError(f"task {task.value}: {error}") from error


def _gather(cfg, models, splits, pooling):  # noqa: ANN001, ANN202 - imports stay inside run
    """Activations of every model (the model, its random-init twin) on both splits."""
    from mechscope.representations import collect

    out = {}
    for name, model in models.items():
        out[name] = {}
        for split, sentences in splits.items():
            store = None if cfg.store is None else cfg.store / f"{name}-{pooling.value}-{split}"
            out[name][split] = collect(model, sentences, pooling=pooling,
                                       batch_size=cfg.batch_size, store=store)  # fmt: skip
    return out


def _say_counts(spec: str, words) -> None:  # noqa: ANN001
    train, eval_ = words["model"]["train"], words["model"]["eval"]
    skipped = {**train.skipped, **{f"{k} (eval)": v for k, v in eval_.skipped.items()}}
    say(f"{spec}: {len(train.sentences)} train / {len(eval_.sentences)} eval sentences, "
        f"{len(train.units)} / {len(eval_.units)} words; skipped: "
        + (", ".join(f"{n} {why}" for why, n in skipped.items()) or "none"))  # fmt: skip


def _probe(cfg: Config, task: ProbeTask, source, settings, layers):  # noqa: ANN001, ANN202
    """One task probed at every layer, its line printed."""
    from mechscope.representations import Task, probe_layers, task_labels

    train, eval_ = source["model"]["train"], source["model"]["eval"]
    random = source.get("random", {})
    kind = Task(task.value)
    result = probe_layers(
        train, task_labels(kind, train.sentences, len(train.units)),
        eval_, task_labels(kind, eval_.sentences, len(eval_.units)),
        task=task.value, settings=settings, boundaries=layers, control=cfg.control,
        random_train=random.get("train"), random_eval=random.get("eval"),
    ).with_provenance(cfg, cfg.model)  # fmt: skip
    best = result.best_index
    unseen = f", {result.n_unseen} eval labels unseen in training" if result.n_unseen else ""
    say(f"  {task.value:<9} best layer {result.best_layer} acc. {float(result.accuracy[best]):.3f} "
        f"[{float(result.ci_low[best]):.3f}, {float(result.ci_high[best]):.3f}], selectivity "
        f"{float(result.selectivity[best]):.3f}, expected layer {result.expected_layer:.2f}, "
        f"majority {result.majority:.3f}{unseen}")  # fmt: skip
    return result


def _say_structural(structural) -> None:  # noqa: ANN001
    best = structural.best_index("uuas")
    metric = lambda name: float(structural.metric(name)[best])  # noqa: E731
    layer = structural.best_layer("uuas")
    say(f"  structural best layer {layer}: UUAS {metric('uuas'):.3f}, DSpr. {metric('dspr'):.3f}, "
        f"root accuracy {metric('root_accuracy'):.3f}, NSpr. {metric('nspr'):.3f} "
        f"(right-branching UUAS {structural.right_branching:.3f})")  # fmt: skip


def _projections(cfg: Config, words, probes, layers):  # noqa: ANN001, ANN202
    """The best and the worst layer of the UPOS probe (or the first task), by UPOS."""
    from mechscope.representations import Task, project, task_labels

    eval_ = words["model"]["eval"]
    upos = task_labels(Task.UPOS, eval_.sentences, len(eval_.units))
    reference = next((p for p in probes if p.task == "upos"), probes[0] if probes else None)
    chosen = layers or list(range(eval_.n_boundaries))
    if reference is not None:
        order = reference.accuracy.argsort()
        picks = [("best", chosen[int(order[-1])]), ("worst", chosen[int(order[0])])]
    else:
        picks = [("last", chosen[-1]), ("first", chosen[0])]
    method = cfg.projection
    task = reference.task if reference is not None else "the structural probe"
    return [(f"{method.value.upper()} of the {which} layer ({layer}) for {task}, by UPOS",
             project(eval_, upos, boundaries=[layer], method=method, seed=cfg.seed))
            for which, layer in picks]  # fmt: skip
