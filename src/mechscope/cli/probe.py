"""``mechscope probe``: what each layer encodes, by probes with controls and baselines."""

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import tyro

from mechscope.cli.common import Loading, LoadingArg, ModelArg, OutArg, Sharding, ShardingArg
from mechscope.representations.choices import ProbeTask, SurveySettings

if TYPE_CHECKING:
    from mechscope.representations.survey import Survey
    from mechscope.viz.report import Report


@dataclass(frozen=True, kw_only=True)
class Config:
    """Probe every layer of a model for what its words and sentences encode.

    Fits a probe per layer on the --train treebank and scores it on --eval (split by
    sentence), with a 95 % interval by sentence, the control task (Hewitt & Liang 2019) and
    selectivity, the majority class and a random-init model of the same shape; the
    structural probe (Hewitt & Manning 2019) with UUAS / Spearman by layer; a projection of
    the best and the worst layer coloured by UPOS (and the best of each entity, chain and
    sentence task coloured by its labels). Sentence tasks (sentiment) read a TSV with a
    header and 'sentence<TAB>label' rows (SST-2's format). Writes result.json, table.csv
    (task, layer, metric, value), each task's result and report.html into --out. Example:
    mechscope probe minilm --train train.conllu --eval dev.conllu --out results/probe (or
    --tasks sentiment --train train.tsv --eval other.tsv)
    """

    model: ModelArg
    train: Path
    """CoNLL-U treebank (or .tsv of sentence<TAB>label rows) the probes are fitted on."""
    eval: Path
    """CoNLL-U treebank (or .tsv) they are scored on (other sentences)."""
    out: OutArg = Path("results/probe")
    """Output directory."""
    overwrite: bool = False
    """Replace results already in --out (the old ones stay until the new ones are complete)."""
    tasks: tuple[ProbeTask, ...] = ()
    """Tasks to probe (default: every task both files annotate; entity and chain need UD
    English GUM's Entity=, sentiment a TSV)."""
    max_train_sentences: int | None = None
    """Use this many training sentences (default: all), a seeded sample spread over the whole
    file in file order, not its first ones (UD EWT's first 2,000 are only weblogs and email)."""
    max_eval_sentences: int | None = None
    """Use this many eval sentences (default: all), sampled as the training ones."""
    sample_seed: int = 0
    """Seed of the sentence samples."""
    survey: Annotated[SurveySettings, tyro.conf.OmitArgPrefixes] = field(
        default_factory=SurveySettings
    )
    """How the activations are collected and probed."""
    loading: LoadingArg = field(default_factory=Loading)
    """How the model is loaded: --device, --backend, --device-map."""
    sharding: ShardingArg = field(default_factory=Sharding)
    """Where the corpus runs: --workers, --executor, --address."""


def run(cfg: Config) -> "Survey":
    """Read both treebanks and run `mechscope.representations.probe_survey` once."""
    from dataclasses import replace

    from mechscope.cli.common import load_text_model, sharding
    from mechscope.data.conllu import read_conllu, sample_sentences
    from mechscope.data.sst2 import read_sentence_tsv
    from mechscope.executors import sharded_collect
    from mechscope.representations.survey import check_tasks, probe_survey, supported_tasks

    read = lambda path: read_sentence_tsv(path) if path.suffix == ".tsv" else read_conllu(path)  # noqa: E731
    train = sample_sentences(read(cfg.train), cfg.max_train_sentences, cfg.sample_seed)
    eval_ = sample_sentences(read(cfg.eval), cfg.max_eval_sentences, cfg.sample_seed)
    splits = {"train": train, "eval": eval_}
    tasks = [t.value for t in cfg.tasks] or supported_tasks(splits)
    check_tasks(tasks, splits)  # before any model runs
    shards = sharding(cfg.model, cfg.loading, cfg.sharding)
    model = load_text_model(cfg.model, cfg.loading, "probe")
    collector = None
    if shards is not None:  # --workers: shards of the sentences on workers
        recipe, executor = shards

        def on_workers(role, model, sentences, pooling, batch_size):  # noqa: ANN001, ANN202
            seed = None if role == "model" else cfg.survey.seed  # the random-init twin's
            return sharded_collect(replace(recipe, random_init_seed=seed), sentences, executor,
                                   pooling=pooling, batch_size=batch_size, model=model)  # fmt: skip

        collector = on_workers

    survey = probe_survey(model, train, eval_, tasks, cfg.survey, collector=collector)
    return dataclasses.replace(
        survey,
        table=survey.table.with_provenance(cfg, cfg.model),
        probes=[p.with_provenance(cfg, cfg.model) for p in survey.probes],
        structural=survey.structural and survey.structural.with_provenance(cfg, cfg.model),
        projections=[p.with_provenance(cfg, cfg.model) for p in survey.projections],
    )


def summary(survey: "Survey", cfg: Config) -> Iterator[str]:
    """What was read, each task's best boundary, the structural probe."""
    if c := survey.counts:
        skipped = ", ".join(f"{n} {why}" for why, n in c.get("skipped", {}).items()) or "none"
        words = f", {c['train_words']} / {c['eval_words']} words" if "train_words" in c else ""
        yield (f"{cfg.model}: {c['train_sentences']} train / {c['eval_sentences']} eval "
               f"sentences{words}; skipped: {skipped}")  # fmt: skip
    for result in survey.probes:
        best = result.best_index
        unseen = f", {result.n_unseen} eval labels unseen in training" if result.n_unseen else ""
        yield (f"  {result.task:<9} best boundary {result.best_boundary} acc. "
               f"{float(result.accuracy[best]):.3f} [{float(result.ci_low[best]):.3f}, "
               f"{float(result.ci_high[best]):.3f}], selectivity "
               f"{float(result.selectivity[best]):.3f}, expected layer "
               f"{result.expected_layer:.2f}, majority {result.majority:.3f}{unseen}")  # fmt: skip
    if (structural := survey.structural) is not None:
        best = structural.best_index("uuas")
        metric = lambda name: float(structural.metric(name)[best])  # noqa: E731
        yield (f"  structural best boundary {structural.best_boundary('uuas')}: UUAS "
               f"{metric('uuas'):.3f}, DSpr. {metric('dspr'):.3f}, root accuracy "
               f"{metric('root_accuracy'):.3f}, NSpr. {metric('nspr'):.3f} "
               f"(right-branching UUAS {structural.right_branching:.3f})")  # fmt: skip
    yield f"table: {cfg.out / 'table.csv'}; report: {cfg.out / 'report.html'}"


def report(survey: "Survey", cfg: Config) -> "Report":
    """Each task by layer, the structural probe and the projections."""
    from mechscope.viz.representations import render_probes

    projections = [(p.extra.get("title", ""), p) for p in survey.projections]
    return render_probes(survey.probes, f"Probes of {cfg.model}",
                         structural=survey.structural, projections=projections)  # fmt: skip
