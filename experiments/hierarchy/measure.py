"""Each part of the whole-claim run for one model, cached in ``--out/runs/MODEL/PART``.

Every part is a thin client of the public API; a part already saved is read back (delete
the directory, or the whole ``--out``, to measure it again).
"""

import dataclasses
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from experiments.hierarchy.config import Config
from mechscope.circuits import direct_logit_attribution
from mechscope.core import MechscopeError, Result, answer_loss, load_result, next_token_loss
from mechscope.data import (
    FACTS,
    read_conllu,
    read_mentions,
    read_sst2,
    reviews_as_sentences,
    sample_sentences,
    split_reviews,
)
from mechscope.heads import (
    aggregation_scores,
    coreference_scores,
    dependency_scores,
    detect_heads,
    entity_targets,
    pronoun_metric,
    sentiment_targets,
    verify_coreference,
)
from mechscope.interventions import Measure, ioi_pairs, layer_dropping
from mechscope.lens import logit_lens
from mechscope.models import adapt, target_ids, tokenize
from mechscope.representations import (
    Pooling,
    ProbeSettings,
    SurveySettings,
    collect,
    fit_probe,
    mention_similarity,
    probe_survey,
    task_labels,
)
from mechscope.representations import ProbeTask as Task
from mechscope.training import FinetuneSettings, frozen_sweep

WORD_TASKS = ("upos", "deprel", "entity", "chain", "genre", "structural")
"""The GUM probing tasks (genre is a sentence task, pooled by mean)."""
ATTENTION_KINDS = ("previous-token", "local-window", "first-token", "max-weight", "entropy",
                   "effective-span", "induction")  # fmt: skip
SENTIMENT_PROMPTS = (
    ("The movie was {w}. Overall it was", " good", " bad"),
    ("I thought the food was {w}. In short, it was", " good", " bad"),
)
"""Sentiment completions for the logit lens: the adjective sets the answer's polarity."""
POSITIVE = ("great", "wonderful", "excellent", "lovely", "fantastic", "brilliant", "superb",
            "delightful")  # fmt: skip
NEGATIVE = ("terrible", "awful", "horrible", "dreadful", "boring", "disappointing", "poor",
            "bad")  # fmt: skip


def cached(directory: Path, compute: Callable[[], Result]) -> Result:
    """The result saved in ``directory``, or ``compute()`` saved there."""
    if (directory / "result.json").exists():
        return load_result(directory)
    result = compute()
    result.save(directory)
    return result


def boundaries_of(n_layers: int, stride: int) -> list[int]:
    """Every boundary of a model of at most 12 layers; else every ``stride``-th and the last."""
    if n_layers <= 12:
        return list(range(n_layers + 1))
    return sorted({*range(0, n_layers + 1, stride), n_layers})


def data(cfg: Config) -> dict[str, Any]:
    """The samples every model reads (seeded; the same for every model)."""
    gum_train = read_conllu(cfg.gum_dir / "en_gum-ud-train.conllu")
    gum_dev_path = cfg.gum_dir / "en_gum-ud-dev.conllu"
    gum_dev = read_conllu(gum_dev_path)
    reviews = read_sst2(cfg.sst2)
    held, rest = split_reviews(reviews, cfg.sst2_eval, seed=cfg.seed)
    rest = random.Random(cfg.seed).sample(rest, min(cfg.sst2_train, len(rest)))
    return {
        "gum_train": sample_sentences(gum_train, cfg.train_sentences, cfg.seed),
        "gum_eval": sample_sentences(gum_dev, cfg.eval_sentences, cfg.seed),
        "sst2_train": reviews_as_sentences(rest),
        "sst2_eval": reviews_as_sentences(held),
        "coreference": read_mentions(gum_dev_path, cfg.coref_sentences),
        "attention": sample_sentences(gum_dev, cfg.attention_sentences, cfg.seed + 1),
        "lexicon": _lexicon(cfg),
    }


def _lexicon(cfg: Config) -> dict[str, str]:
    from mechscope.data import polarity_lexicon

    return polarity_lexicon(cfg.sst2)


def _settings(model: Any, cfg: Config) -> SurveySettings:  # noqa: ANN401
    """The probes' settings: every boundary (every third of a deep model), no random twin."""
    layers = tuple(boundaries_of(model.cfg.n_layers, cfg.deep_layer_stride))
    return SurveySettings(layers=layers, random_baseline=False, seed=cfg.seed,
                          structural_rank=cfg.structural_rank)  # fmt: skip


def _sentiment(model: Any, probed: Callable[[], Any], d: dict[str, Any], settings: SurveySettings,  # noqa: ANN401
               root: Path, prefix: str) -> dict[str, Result]:  # fmt: skip
    """SST-2 sentiment probes of ``probed()``, cached as ``PREFIXprobe-sentiment-POOLING``.

    Mean pooling, and last-token pooling too when ``model`` is a decoder.
    """
    poolings = [Pooling.SENTENCE_MEAN]
    if adapt(model).causal:
        poolings.append(Pooling.SENTENCE_LAST)
    out: dict[str, Result] = {}
    for pooling in poolings:

        def sentiment(pooling: Pooling = pooling) -> Result:
            chosen = dataclasses.replace(settings, sentence_pooling=pooling)
            return probe_survey(probed(), d["sst2_train"], d["sst2_eval"], ["sentiment"],
                                chosen).probes[0]  # fmt: skip

        name = f"{prefix}probe-sentiment-{pooling.value}"
        out[name] = cached(root / name, sentiment)
    return out


def probes(model: Any, cfg: Config, d: dict[str, Any], root: Path) -> dict[str, Result]:  # noqa: ANN401
    """GUM probes (word tasks, genre, structural) and SST-2 sentiment, cached per task."""
    settings = _settings(model, cfg)
    out: dict[str, Result] = {}
    wanted = [f"probe-{t}" if t != "structural" else t for t in WORD_TASKS]
    if not all((root / name / "result.json").exists() for name in wanted):
        survey = probe_survey(model, d["gum_train"], d["gum_eval"], list(WORD_TASKS), settings)
        for name, result in survey.results().items():
            if name and not name.startswith("projection"):
                result.save(root / name)
        for i, projection in enumerate(survey.projections):
            projection.save(root / f"projection-{i}")
    for name in wanted:
        out[name] = load_result(root / name)
    return out | _sentiment(model, lambda: model, d, settings, root, "")


RANDOM_TASKS = ("entity", "chain", "genre")
"""The GUM tasks probed on the random-init twin (with sentiment on SST-2)."""


def random_controls(model: Any, cfg: Config, d: dict[str, Any], root: Path) -> dict[str, Result]:  # noqa: ANN401
    """The semantic probes on the model's random-init twin, cached as ``random-probe-TASK``."""
    if not cfg.random_controls:
        return {}
    from mechscope.models import random_like

    twin: Any = None

    def the_twin() -> Any:  # noqa: ANN401 - built only when a part is missing
        nonlocal twin
        twin = twin if twin is not None else random_like(model, seed=cfg.seed)
        return twin

    settings = _settings(model, cfg)
    out: dict[str, Result] = {}
    wanted = [f"random-probe-{t}" for t in RANDOM_TASKS]
    if not all((root / name / "result.json").exists() for name in wanted):
        survey = probe_survey(the_twin(), d["gum_train"], d["gum_eval"], list(RANDOM_TASKS),
                              settings)  # fmt: skip
        for result in survey.probes:
            result.save(root / f"random-probe-{result.task}")
    for name in wanted:
        out[name] = load_result(root / name)
    return out | _sentiment(model, the_twin, d, settings, root, "random-")


def coreference(model: Any, cfg: Config, d: dict[str, Any], root: Path) -> dict[str, Result]:  # noqa: ANN401
    """Coreference heads (and their causal check on decoders) and mention similarity."""
    out = {"coreference": cached(root / "coreference", lambda: coreference_scores(
        model, d["coreference"], window=cfg.coref_window))}  # fmt: skip
    if adapt(model).causal:
        out["verify-coreference"] = cached(root / "verify-coreference", lambda: verify_coreference(
            model, out["coreference"], k=3, seed=cfg.seed))  # type: ignore[arg-type]  # fmt: skip
    layers = boundaries_of(model.cfg.n_layers, cfg.deep_layer_stride)
    out["mentions"] = cached(root / "mentions", lambda: mention_similarity(
        model, d["coreference"], window=cfg.coref_window, boundaries=layers))  # fmt: skip
    return out


def attention(model: Any, d: dict[str, Any], root: Path) -> dict[str, Result]:  # noqa: ANN401
    """Head kinds and syntactic heads by layer; semantic aggregation heads."""
    prompts = [" ".join(s.words) for s in d["attention"]]
    kinds = list(ATTENTION_KINDS)
    return {
        "heads": cached(root / "heads", lambda: detect_heads(model, prompts, kinds)),
        "syntax": cached(root / "syntax", lambda: dependency_scores(model, d["attention"])),
        "aggregation": cached(root / "aggregation", lambda: aggregation_scores(model, {
            "sentiment": sentiment_targets([s.words for s in d["sst2_eval"]], d["lexicon"]),
            "entity": entity_targets(d["gum_eval"])})),
    }  # fmt: skip


def lens(model: Any, cfg: Config, root: Path) -> dict[str, Result]:  # noqa: ANN401, ARG001
    """Decoders: the logit lens of facts and of sentiment completions, and the latter's DLA."""
    if not adapt(model).causal:
        return {}
    facts = [f for f in FACTS if _single(model, f.answer)]
    out = {"lens-facts": cached(root / "lens-facts", lambda: logit_lens(
        model, [f.prompt for f in facts], [f.answer for f in facts]))}  # fmt: skip
    prompts, answers = sentiment_prompts()
    out["lens-sentiment"] = cached(root / "lens-sentiment", lambda: logit_lens(
        model, prompts, answers))  # fmt: skip
    wrong = [" bad" if a == " good" else " good" for a in answers]
    out["lens-sentiment-wrong"] = cached(root / "lens-sentiment-wrong", lambda: logit_lens(
        model, prompts, wrong))  # fmt: skip
    batch = tokenize(model, prompts)
    out["dla-sentiment"] = cached(root / "dla-sentiment", lambda: direct_logit_attribution(
        model, batch, torch.tensor(target_ids(model, answers)),
        torch.tensor(target_ids(model, wrong))))  # fmt: skip
    return out


def sentiment_prompts() -> tuple[list[str], list[str]]:
    """Every sentiment template with every adjective, and the completion it calls for."""
    prompts, answers = [], []
    for template, good, bad in SENTIMENT_PROMPTS:
        for words, answer in ((POSITIVE, good), (NEGATIVE, bad)):
            prompts += [template.format(w=w) for w in words]
            answers += [answer] * len(words)
    return prompts, answers


def _single(model: Any, text: str) -> bool:  # noqa: ANN401
    try:
        target_ids(model, [text])
    except MechscopeError:
        return False
    return True


def _readout(model: Any, sentences: list, train: list, task: Task, pooling: Pooling,  # noqa: ANN401
             seed: int) -> Measure:  # fmt: skip
    """A probe fitted on the intact model's last boundary, scored under the current drop."""
    n = model.cfg.n_layers
    fitted = collect(model, train, pooling=pooling, boundaries=[n], progress=False)
    labels = task_labels(task, fitted.sentences, len(fitted.units))
    classes = sorted({x for x in labels if x is not None})
    keep = torch.tensor([x is not None for x in labels])
    y = torch.tensor([classes.index(x) if x is not None else -1 for x in labels])
    probe = fit_probe(fitted.layer(0)[keep], y[keep], len(classes), ProbeSettings(seed=seed))

    def fn(m: Any) -> float:  # noqa: ANN401
        acts = collect(m, sentences, pooling=pooling, boundaries=[n], progress=False)
        gold = task_labels(task, acts.sentences, len(acts.units))
        mask = torch.tensor([x in classes for x in gold])
        target = torch.tensor([classes.index(x) for x in gold if x in classes])
        return float((probe.predict(acts.layer(0)[mask]) == target).float().mean())

    return Measure(f"{task.value} readout", fn)


def dropping(model: Any, cfg: Config, d: dict[str, Any], root: Path) -> dict[str, Result]:  # noqa: ANN401
    """Layer dropping: LM loss, last-layer readouts, facts and IOI (decoders)."""
    if not cfg.dropping:
        return {}

    def compute() -> Result:
        n = cfg.dropping_sentences
        measures = [
            _readout(model, d["gum_eval"][:n], d["gum_train"][:600], Task.UPOS,
                     Pooling.WORD_MEAN, cfg.seed),
            _readout(model, d["gum_eval"][:n], d["gum_train"][:600], Task.ENTITY,
                     Pooling.WORD_MEAN, cfg.seed),
            _readout(model, d["sst2_eval"][:n], d["sst2_train"][:600], Task.SENTIMENT,
                     Pooling.SENTENCE_LAST if adapt(model).causal else Pooling.SENTENCE_MEAN,
                     cfg.seed),
        ]  # fmt: skip
        if adapt(model).causal:
            measures += _decoder_measures(model, d)
        n_layers = model.cfg.n_layers
        top = sorted({*range(1, n_layers + 1, cfg.deep_layer_stride if n_layers > 12 else 1),
                      n_layers})  # fmt: skip
        return layer_dropping(model, measures, top=top)

    return {"dropping": cached(root / "dropping", compute)}


def _decoder_measures(model: Any, d: dict[str, Any]) -> list[Measure]:  # noqa: ANN401
    text = [" ".join(s.words) for s in d["gum_eval"][:16]]
    batch = tokenize(model, text)
    loss = next_token_loss(batch)
    facts = [f for f in FACTS if _single(model, f.answer)]
    fact_batch = tokenize(model, [f.prompt for f in facts])
    answers = torch.tensor(target_ids(model, [f.answer for f in facts]))
    last = fact_batch.attention_mask.sum(1) - 1
    ioi = ioi_pairs(model, 24)
    ioi_metric = ioi.logit_diff()
    pronoun_batch, pronoun = pronoun_metric(model)
    return [
        Measure("LM loss", lambda m: float(loss(m(batch.tokens))), higher_is_better=False),
        Measure("fact answer log-prob",
                lambda m: -float(answer_loss(m(fact_batch.tokens), answers, last))),
        Measure("IOI logit diff", lambda m: float(ioi_metric(m(ioi.clean.tokens)))),
        Measure("pronoun logit diff", lambda m: float(pronoun(m(pronoun_batch.tokens)))),
    ]  # fmt: skip


def finetuning(model: Any, cfg: Config, d: dict[str, Any], root: Path) -> dict[str, Result]:  # noqa: ANN401
    """Encoders: fine-tuned on SST-2 with the lowest k blocks frozen, k = 0..n_layers."""
    if not cfg.finetune or adapt(model).causal:
        return {}
    settings = FinetuneSettings(epochs=cfg.finetune_epochs)
    return {"finetune": cached(root / "finetune", lambda: frozen_sweep(
        model, d["sst2_train"][: cfg.finetune_train], d["sst2_eval"][: cfg.finetune_eval],
        seeds=cfg.finetune_seeds, settings=settings))}  # fmt: skip
