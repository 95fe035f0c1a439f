"""The layer hierarchy: measurement, Result, report.

Tenney et al. (2019) found BERT's part of speech early, syntax (dependencies) later and
higher-level tasks later still; Hewitt & Manning (2019) found BERT-base's syntax best at layer
7 of 12. Here the same probes run on MiniLM (a 6-layer BERT) and SmolLM2-135M (a 30-layer
decoder, 4-bit weights dequantised), with their controls, and the answer is given as numbers.
"""

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from experiments.induction_heads.result import find_phase_change
from experiments.layer_hierarchy.config import Config
from experiments.runs import trained_records
from mechscope.core import MechscopeError, Outcome, Result
from mechscope.data import BOS_ID, load_corpus, read_conllu, repeated_random_tokens
from mechscope.models import boundary_stream, load_model, random_like
from mechscope.representations import (
    Activations,
    Pooling,
    ProbeResult,
    ProbeSettings,
    ProbeTask,
    collect,
    linear_cka,
    probe_layers,
    similarity_matrix,
    structural_probe,
    task_labels,
)
from mechscope.training import (
    N_BYTE_TOKENS,
    TrainConfig,
    eval_text_batch,
    list_checkpoints,
    read_config,
    read_metrics,
)
from mechscope.viz import Report, line_chart, probe_figure, similarity_figure, structural_figure

WORD_TASKS = (ProbeTask.UPOS, ProbeTask.DEPREL, ProbeTask.DEPTH, ProbeTask.DISTANCE)
DEEP = 12
"""Models with more layers than this get the ``deep_*`` settings."""


def sentence_means(words: Activations) -> Activations:
    """Each sentence as the mean of its word vectors (no second pass over the treebank)."""
    n = len(words.sentences)
    counts = torch.bincount(words.group, minlength=n).float()
    values = torch.zeros(words.n_boundaries, n, words.values.shape[-1])
    values.index_add_(1, words.group, words.values.float())
    return Activations(values / counts[None, :, None], words.boundaries,
                       tuple(" ".join(s.words) for s in words.sentences), torch.arange(n),
                       words.sentences, Pooling.SENTENCE_MEAN, words.skipped,
                       provenance=words.provenance)  # fmt: skip


def probed_boundaries(n_layers: int, stride: int) -> list[int]:
    """Every ``stride``-th boundary from the embeddings, and always the last."""
    chosen = list(range(0, n_layers + 1, stride))
    return chosen if chosen[-1] == n_layers else [*chosen, n_layers]


def spread(sentences: list[Any], limit: int | None) -> list[Any]:
    """At most ``limit`` sentences, evenly spaced through the file.

    The treebank is ordered by document (and so by genre); the first ``limit`` sentences
    would hold one or two genres, an even spread holds them all.
    """
    if limit is None or limit >= len(sentences):
        return sentences
    return [sentences[i * len(sentences) // limit] for i in range(limit)]


def _slug(spec: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", spec)


def _tied(result: ProbeResult) -> list[int]:
    """Layers whose accuracy lies inside the best layer's 95 % interval."""
    low = float(result.ci_low[result.best_index])
    return [layer for layer, a in zip(result.layers, result.accuracy.tolist(), strict=True)
            if a >= low]  # fmt: skip


def measure_model(spec: str, cfg: Config) -> dict[str, Any]:
    """Every probe, the structural probe and the CKA matrix of one model.

    ``results`` names each by the subdirectory of ``out/MODEL`` it is saved to.
    """
    model = load_model(spec, device="cpu")
    deep = model.cfg.n_layers > DEEP
    boundaries = probed_boundaries(model.cfg.n_layers, cfg.deep_layer_stride if deep else 1)
    limit = cfg.deep_train_sentences if deep else cfg.train_sentences
    train = read_conllu(cfg.ud_dir / "en_ewt-ud-train.conllu")
    dev = read_conllu(cfg.ud_dir / "en_ewt-ud-dev.conllu")
    splits = {"train": spread(train, limit), "eval": spread(dev, cfg.eval_sentences)}
    models = {"model": model, "random": random_like(model, seed=cfg.seed)}

    def gather(pooling: Pooling) -> dict[str, dict[str, Any]]:
        return {name: {split: collect(m, sentences, pooling=pooling, boundaries=boundaries,
                                      batch_size=32, desc=f"{spec} {name} {split}")
                       for split, sentences in splits.items()}
                for name, m in models.items()}  # fmt: skip

    words = gather(Pooling.WORD_MEAN)
    sentences = {name: {split: sentence_means(acts) for split, acts in by_split.items()}
                 for name, by_split in words.items()}  # fmt: skip
    settings = ProbeSettings(seed=cfg.seed)
    probes = []
    for task in (*WORD_TASKS, ProbeTask.GENRE):
        source = sentences if task is ProbeTask.GENRE else words
        train, dev = source["model"]["train"], source["model"]["eval"]
        probes.append(probe_layers(
            train, task_labels(task, train.sentences, len(train.units)),
            dev, task_labels(task, dev.sentences, len(dev.units)), task=task.value,
            settings=settings, random_train=source["random"]["train"],
            random_eval=source["random"]["eval"],
        ).with_provenance(cfg, spec))  # fmt: skip
    structural = structural_probe(
        words["model"]["train"], words["model"]["eval"], rank=cfg.structural_rank,
        seed=cfg.seed, random_train=words["random"]["train"], random_eval=words["random"]["eval"],
    ).with_provenance(cfg, spec)  # fmt: skip
    cka = similarity_matrix(words["model"]["eval"]).with_provenance(cfg, spec)
    standardized = similarity_matrix(words["model"]["eval"], standardize=True, progress=False)
    results = {f"probe-{probe.task}": probe for probe in probes}
    results |= {"structural": structural, "cka": cka}
    train_words = words["model"]["train"]
    curves = {
        probe.task: {
            "accuracy": probe.accuracy.tolist(),
            "selectivity": probe.selectivity.tolist(),
            "random_init": probe.random_init.tolist(),
        }
        for probe in probes
    }
    curves |= {f"structural {m}": {"accuracy": structural.metric(m).tolist()}
               for m in ("uuas", "dspr", "root_accuracy", "nspr")}  # fmt: skip
    checks = {"curves": curves, "cka": cka.matrix.tolist(),
              "cka_standardized": standardized.matrix.tolist(),
              "n_eval_words": cka.n_units, "outliers": outlier_features(words["model"]["eval"]),
              "structural": structural_checks(words["model"], structural, cfg)
              if cfg.structural_checks else {}}  # fmt: skip
    return {"spec": spec, "results": results, "boundaries": boundaries, "probes": probes,
            "structural": structural, "cka": cka, "n_train_sentences": len(train_words.sentences),
            "n_train_words": len(train_words.units), "checks": checks,
            "skipped": {**train_words.skipped, **words["model"]["eval"].skipped}}  # fmt: skip


OUTLIERS = 3
"""Features counted as outliers: the few with the largest variance."""


def outlier_features(words: Activations) -> list[dict[str, float]]:
    """Per boundary: the ``OUTLIERS`` largest-variance features' share of the variance.

    With the largest feature's mean |x| against the median feature's.
    """
    out = []
    for values in words.values.float():
        variance = values.var(0)
        magnitude = values.abs().mean(0)
        top = int(variance.argmax())
        out.append({"top_share": float(variance.topk(OUTLIERS).values.sum() / variance.sum()),
                    "top_feature": top, "top_mean_abs": float(magnitude[top]),
                    "median_mean_abs": float(magnitude.median()),
                    "n_features": values.shape[-1]})  # fmt: skip
    return out


def structural_checks(
    words: dict[str, Activations],
    structural: Any,
    cfg: Config,  # noqa: ANN401 - a StructuralResult
) -> dict[str, Any]:
    """Is a low structural-probe score the features' scale or the optimiser?

    At the boundary (past the embeddings) where the raw probe's UUAS is lowest, the probe is
    refitted on standardised features, and on standardised features with 10x the learning
    rate.
    """
    uuas = structural.metric("uuas")
    index = 1 + int(uuas[1:].argmin()) if len(uuas) > 1 else 0
    out: dict[str, Any] = {"index": index, "raw_uuas": float(uuas[index])}
    for name, lr in (("standardized", 1e-3), ("standardized_lr10", 1e-2)):
        refit = structural_probe(words["train"], words["eval"], rank=cfg.structural_rank,
                                 seed=cfg.seed, boundaries=[index], standardize=True, lr=lr,
                                 progress=False)  # fmt: skip
        out[f"{name}_uuas"] = float(refit.metric("uuas")[-1])
    return out


def summary_rows(measured: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per task: the best and expected layer (as boundary numbers) and baselines."""
    boundaries = measured["boundaries"]
    rows = []
    for probe in measured["probes"]:
        best = probe.best_index
        expected = probe.expected_layer
        rows.append({
            "model": measured["spec"], "task": probe.task, "best_layer": boundaries[best],
            "best": float(probe.accuracy[best]), "ci_low": float(probe.ci_low[best]),
            "ci_high": float(probe.ci_high[best]),
            "tied_layers": _tied(probe),
            "expected_layer": expected,
            "selectivity": float(probe.selectivity[best]),
            "max_selectivity": float(probe.selectivity.max()),
            "max_selectivity_layer": boundaries[int(probe.selectivity.argmax())],
            "control": float(probe.control[best]), "random_init": float(probe.random_init[best]),
            "best_random_init": float(probe.random_init.max()), "majority": probe.majority,
            "n_train": probe.n_train, "n_eval": probe.n_eval,
        })  # fmt: skip
    structural = measured["structural"]
    for metric in ("uuas", "dspr", "root_accuracy", "nspr"):
        values = structural.metric(metric)
        best = int(values.argmax())
        rows.append({
            "model": measured["spec"], "task": f"structural {metric}",
            "best_layer": boundaries[best], "best": float(values[best]),
            "ci_low": math.nan, "ci_high": math.nan, "tied_layers": [],
            "expected_layer": math.nan, "selectivity": math.nan, "max_selectivity": math.nan,
            "max_selectivity_layer": -1, "control": math.nan,
            "random_init": float(structural.random_init[structural_index(metric), best]),
            "best_random_init": float(structural.random_init[structural_index(metric)].max()),
            "majority": structural.right_branching if metric == "uuas" else math.nan,
            "n_train": structural.n_train, "n_eval": structural.n_eval,
        })  # fmt: skip
    return rows


def structural_index(metric: str) -> int:
    """Row of ``metric`` in a StructuralResult's scores."""
    return ("uuas", "dspr", "root_accuracy", "nspr").index(metric)


def verdicts(rows: list[dict[str, Any]]) -> list[str]:
    """Does part of speech peak before syntax, and syntax before the sentence task?"""
    lines = []
    for spec in dict.fromkeys(r["model"] for r in rows):
        by = {r["task"]: r for r in rows if r["model"] == spec}
        order = [("upos", "part of speech"), ("deprel", "dependency relation"),
                 ("structural uuas", "tree (structural probe)"), ("genre", "genre")]  # fmt: skip
        parts = [f"{name} best {by[t]['best_layer']} (tied {by[t]['tied_layers'] or '-'})"
                 + (f", expected {by[t]['expected_layer']:.2f}"
                    if math.isfinite(by[t]["expected_layer"]) else "")
                 for t, name in order if t in by]  # fmt: skip
        pos, dep, tree = by["upos"], by["deprel"], by["structural uuas"]
        genre = by.get("genre")
        claims = [
            ("part of speech peaks before dependency relations (expected layer)",
             pos["expected_layer"] < dep["expected_layer"]),
            ("part of speech peaks no later than dependency relations (best layer)",
             pos["best_layer"] <= dep["best_layer"]),
            ("part of speech peaks no later than the tree (best layer)",
             pos["best_layer"] <= tree["best_layer"]),
        ]  # fmt: skip
        if genre is not None:
            syntax = max(dep["best_layer"], tree["best_layer"])
            claims.append(("syntax peaks before the genre (best layer)",
                           syntax < genre["best_layer"]))  # fmt: skip
        lines.append(f"{spec}: " + "; ".join(parts))
        lines += [f"  {'holds' if ok else 'does not hold'}: {claim}" for claim, ok in claims]
    return lines


def phase_change_cka(cfg: Config) -> dict[str, Any]:
    """Train (or read back) the checkpointed 2-layer run; CKA of its checkpoints' streams."""
    recipe = TrainConfig(n_layers=2, steps=cfg.phase_steps, checkpoint_every=cfg.checkpoint_every,
                         icl_windows=64, seed=cfg.seed)  # fmt: skip
    if cfg.phase_run is not None:
        run_dir = Path(cfg.phase_run)
        if differences := read_config(run_dir).differences(recipe):
            raise MechscopeError(f"--phase-run {run_dir} is another recipe: {differences}.")
    else:
        run_dir = cfg.out / "runs" / "induction-2l-checkpoints"
        trained_records(recipe, run_dir, progress=True)
    metrics = read_metrics(run_dir)
    phase = find_phase_change(metrics)
    held_out = load_corpus(None).held_out
    text = eval_text_batch(recipe, held_out)
    repeated = repeated_random_tokens(text.shape[0], (recipe.n_ctx - 1) // 2, N_BYTE_TOKENS,
                                      BOS_ID, seed=cfg.seed)  # fmt: skip
    inputs = {"text": text, "repeated": repeated}
    streams: dict[str, list[Tensor]] = {name: [] for name in inputs}
    steps = []
    for step, path in tqdm(list_checkpoints(run_dir), desc="checkpoints"):
        model = load_model(path, device="cpu")
        steps.append(step)
        for name, tokens in inputs.items():
            stream = boundary_stream(model, tokens)  # boundary batch pos d_model (no grad)
            streams[name].append(stream.flatten(1, 2))
    out: dict[str, Any] = {"steps": steps, "phase_step": phase.loss_drop_step}
    for name, per_step in streams.items():
        n_boundaries = per_step[0].shape[0]
        previous = torch.full((len(steps), n_boundaries), math.nan)
        final = torch.full((len(steps), n_boundaries), math.nan)
        for i in range(len(steps)):
            for b in range(n_boundaries):
                final[i, b] = linear_cka(per_step[i][b], per_step[-1][b])
                if i:
                    previous[i, b] = linear_cka(per_step[i][b], per_step[i - 1][b])
        out[f"{name}_previous"], out[f"{name}_final"] = previous, final
    return out


def phase_summary(phase: dict[str, Any], min_step: int = 500) -> str:
    """Which boundary's representation changes most between checkpoints, and when."""
    steps = phase["steps"]
    min_step = min_step if steps[-1] > min_step else steps[0]  # a short run: every step
    lines = [f"phase change (repeated-token loss drops fastest) at step {phase['phase_step']}; "
             f"CKA between consecutive checkpoints (every {steps[1] - steps[0]} steps), its "
             f"lowest value after step {min_step} per boundary:"]  # fmt: skip
    for name in ("repeated", "text"):
        previous = phase[f"{name}_previous"]
        parts = []
        for b in range(previous.shape[1]):
            late = [(float(previous[i, b]), steps[i]) for i in range(1, len(steps))
                    if steps[i] > min_step]  # fmt: skip
            low, at = min(late)
            parts.append(f"boundary {b}: {low:.3f} at step {at}")
        lines.append(f"  on {name} tokens: " + ", ".join(parts))
    return "\n".join(lines)


@dataclass(frozen=True)
class HierarchyResult(Result):
    """The summary rows of every model, the ordering verdicts, and the phase-change CKA."""

    kind: ClassVar[str] = "layer-hierarchy"
    rows: list[dict[str, Any]]
    verdicts: list[str]
    steps: Int[Tensor, " step"]
    phase_step: int
    repeated_previous: Float[Tensor, "step boundary"]
    repeated_final: Float[Tensor, "step boundary"]
    text_previous: Float[Tensor, "step boundary"]
    text_final: Float[Tensor, "step boundary"]
    phase_summary: str
    extra: dict[str, Any]

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per model and task."""
        import pandas as pd

        return pd.DataFrame(self.rows)


def run(cfg: Config) -> Outcome:
    """Measure every model and the phase change, save, write the report."""
    measured = [measure_model(spec, cfg) for spec in cfg.models]
    rows = [row for m in measured for row in summary_rows(m)]
    phase = phase_change_cka(cfg)
    extra = {m["spec"]: {"boundaries": m["boundaries"], "train_sentences": m["n_train_sentences"],
                         "train_words": m["n_train_words"], "skipped": m["skipped"],
                         "checks": m["checks"]} for m in measured}  # fmt: skip
    result = HierarchyResult(
        rows, verdicts(rows), torch.tensor(phase["steps"]), phase["phase_step"],
        phase["repeated_previous"], phase["repeated_final"], phase["text_previous"],
        phase["text_final"], phase_summary(phase), extra,
    ).with_provenance(cfg, ",".join(cfg.models))  # fmt: skip
    saved = {f"{_slug(m['spec'])}/{name}": r for m in measured for name, r in m["results"].items()}
    return Outcome({"": result, **saved}, {"measured": measured})


def report(outcome: Outcome, cfg: Config) -> Report:  # noqa: ARG001 - Job contract
    """The page: the summary and verdicts, then each model's figures."""
    return render(outcome.main, outcome.context["measured"])  # pyright: ignore[reportArgumentType]


def render(result: HierarchyResult, measured: list[dict[str, Any]]) -> Report:
    """Summary table and verdicts; per model the probes, structural probe and CKA.

    Then the phase-change CKA curves.
    """
    report = Report("The layer hierarchy: probes by layer, and CKA across a phase change")
    report.paragraph(
        "Linear probes fitted on UD English EWT train, scored on dev; 95 % intervals resample "
        "dev sentences; selectivity = accuracy - control-task accuracy (Hewitt & Liang 2019). "
        "Layers: 0 = embeddings, l = after block l. SmolLM2 figures describe its 4-bit "
        "(Q4_1) weights dequantised."
    )
    report.table(
        ["model", "task", "best layer", "accuracy [95 % CI]", "layers tied with the best",
         "expected layer", "selectivity", "random-init", "majority / chain"],
        [[r["model"], r["task"], r["best_layer"],
          f"{r['best']:.3f}" + (f" [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
                                if math.isfinite(r["ci_low"]) else ""),
          ", ".join(map(str, r["tied_layers"])) or "-",
          f"{r['expected_layer']:.2f}" if math.isfinite(r["expected_layer"]) else "-",
          f"{r['selectivity']:.3f}" if math.isfinite(r["selectivity"]) else "-",
          f"{r['random_init']:.3f}",
          f"{r['majority']:.3f}" if math.isfinite(r["majority"]) else "-"]
         for r in result.rows],
    )  # fmt: skip
    for line in result.verdicts:
        report.paragraph(line)
    for m in measured:
        report.heading(m["spec"])
        report.paragraph(f"Boundaries probed: {m['boundaries']}; train sentences: "
                         f"{m['n_train_sentences']}.")  # fmt: skip
        for probe in m["probes"]:
            report.figure(probe_figure(probe))
        report.figure(structural_figure(m["structural"]))
        report.figure(similarity_figure(m["cka"], f"Linear CKA between the layers of {m['spec']}"))
    report.heading("CKA across the induction model's phase change")
    report.paragraph(result.phase_summary)
    steps = result.steps.tolist()
    marker = [(float(result.phase_step), f"phase change (step {result.phase_step})")]
    for name in ("repeated", "text"):
        previous = getattr(result, f"{name}_previous")
        series = {f"boundary {b}": (steps, previous[:, b].tolist())
                  for b in range(previous.shape[1])}  # fmt: skip
        report.figure(line_chart(
            series, title=f"Linear CKA with the previous checkpoint, on {name} tokens",
            x_title="step", y_title="CKA", markers=marker))  # fmt: skip
        final = getattr(result, f"{name}_final")
        series = {f"boundary {b}": (steps, final[:, b].tolist()) for b in range(final.shape[1])}
        report.figure(line_chart(
            series, title=f"Linear CKA with the final model, on {name} tokens",
            x_title="step", y_title="CKA", markers=marker))  # fmt: skip
    return report
