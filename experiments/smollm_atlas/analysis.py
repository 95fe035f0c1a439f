"""The head atlas: every head for every kind, syntax, a causal check, thirds of the depth."""

import time
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from experiments.smollm_atlas.config import Config
from mechscope.core import (
    HeadId,
    MechscopeError,
    Outcome,
    Result,
    pad_token_lists,
    second_copy_metric,
)
from mechscope.data import DATA_ENV, read_conllu
from mechscope.executors import Executor, ExecutorKind, ModelRecipe, sharded_detect_heads
from mechscope.heads import (
    THRESHOLDS,
    DependencyAccumulator,
    DetectionSettings,
    HeadKind,
    HeadScores,
    SyntaxScores,
    align_all,
    detect_heads,
    repeated_rows,
    sentence_attention,
)
from mechscope.interventions import ablation_effects
from mechscope.models import load_model
from mechscope.viz import Report, attention_heads_view, head_heatmap

KINDS = [k for k in HeadKind if not k.needs_gradient and not k.needs_annotation]
THIRD_KINDS = (
    HeadKind.PREVIOUS_TOKEN, HeadKind.LOCAL_WINDOW, HeadKind.EFFECTIVE_SPAN,
    HeadKind.FIRST_TOKEN, HeadKind.MAX_WEIGHT, HeadKind.ENTROPY, HeadKind.INDUCTION,
)  # fmt: skip
"""What the seeds' table speaks of: diagonal/local, long-range, sink ("vertical stripe"),
sparse heads, and induction."""


@dataclass(frozen=True)
class AtlasResult(Result):
    """Head scores, syntax scores, the causal check and the per-third summary."""

    kind: ClassVar[str] = "head-atlas"
    scores: HeadScores
    syntax: SyntaxScores
    check: list[dict[str, Any]]
    """Second-copy loss change with each top induction head and each random control ablated."""
    thirds: list[dict[str, Any]]
    """Per third of the depth: mean score of each kind, and the best syntax accuracy."""
    seconds: dict[str, float]

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """The per-third summary, one row per third."""
        import pandas as pd

        return pd.DataFrame(self.thirds)


def run(cfg: Config) -> Outcome:
    """Score, check, summarise, save and write the report."""
    if not cfg.conllu.is_file():
        raise MechscopeError(
            f"no treebank at {cfg.conllu}; pass --conllu PATH, or set {DATA_ENV} to the "
            "directory holding ud_english_ewt/."
        )
    seconds = {}
    start = time.perf_counter()
    model = load_model(cfg.model)
    sentences = read_conllu(cfg.conllu, cfg.max_sentences)
    aligned, skipped = align_all(model, sentences)
    accumulator = DependencyAccumulator(model, aligned, skipped)
    settings = DetectionSettings(
        induction_rows=cfg.induction_rows, induction_half_length=20, batch_size=cfg.batch_size,
        seed=cfg.seed,
    )  # fmt: skip
    executor = Executor(ExecutorKind(cfg.executor), cfg.workers, cfg.address)
    if executor.in_process:
        scores = detect_heads(model, accumulator.tokens, KINDS, settings, consumers=[accumulator])
    else:  # shards of the sentences on workers, merged into the same scores and accuracies
        scores = sharded_detect_heads(ModelRecipe(cfg.model), accumulator.tokens, KINDS, settings,
                                      executor, syntax=accumulator, model=model)  # fmt: skip
    syntax = accumulator.result()
    seconds["scoring (every kind and syntax, one pass per chunk)"] = time.perf_counter() - start
    began = time.perf_counter()
    check = causal_check(model, scores, settings, cfg.seed, cfg.check_heads, cfg.controls)
    seconds["causal check"] = time.perf_counter() - began
    result = AtlasResult(
        scores=scores,
        syntax=syntax,
        check=check,
        thirds=thirds(scores, syntax),
        seconds=seconds,
    ).with_provenance(cfg, cfg.model)
    example = " ".join(aligned[0].sentence.words)
    return Outcome({"": result}, {"sample": sentence_attention(model, example)})


def report(outcome: Outcome, cfg: Config) -> Report:  # noqa: ARG001 - Job contract
    """The page, with one sentence's attention views."""
    return render(outcome.main, outcome.context["sample"])  # pyright: ignore[reportArgumentType]


def causal_check(
    model,
    scores: HeadScores,
    settings: DetectionSettings,
    seed: int,
    k: int = 3,  # noqa: ANN001
    controls: int = 3,
) -> list[dict[str, Any]]:
    """Ablate each of the top ``k`` induction heads, and ``controls`` random heads of its layer.

    Every top-``k`` head is reported, whatever its effect. A control is drawn (seeded, without
    replacement) from the heads of the same layer whose induction score is below the label
    threshold, so it is a random head that is not itself an induction head. Each row carries
    the change's standard error over the repeated-token rows; each top head's row also the
    paired difference from its controls' mean change, with its standard error.
    """
    top = [h for h, _ in scores.top(HeadKind.INDUCTION, k)]
    induction = scores.score(HeadKind.INDUCTION)
    threshold = THRESHOLDS[HeadKind.INDUCTION].value
    generator = torch.Generator().manual_seed(seed)
    drawn: list[list[HeadId]] = []
    for head in top:
        others = [
            HeadId(head.layer, h)
            for h in range(model.cfg.n_heads)
            if HeadId(head.layer, h) not in top and float(induction[head.layer, h]) < threshold
        ]
        order = torch.randperm(len(others), generator=generator)[:controls].tolist()
        drawn.append([others[i] for i in order])
    heads = [*top, *(c for group in drawn for c in group)]
    batch = pad_token_lists(repeated_rows(model, settings), 0)
    half = settings.induction_half_length or 20
    metric = second_copy_metric(batch, half, per_prompt=True)
    effects = ablation_effects(model, batch, metric, heads, per_prompt=True)
    assert effects.ablated_rows is not None and effects.clean_rows is not None
    changes = effects.ablated_rows - effects.clean_rows  # head row
    n_rows = changes.shape[1]
    rows: list[dict[str, Any]] = []
    for i, head in enumerate(top):
        mine = [heads.index(c) for c in drawn[i]]
        row = _check_row("top", head, float(induction[head]), changes[i], effects.clean)
        if mine:
            difference = changes[i] - changes[mine].mean(0)  # paired over rows
            row["minus_controls"] = float(difference.mean())
            row["minus_controls_stderr"] = float(difference.std() / n_rows**0.5)
        rows.append(row)
    for i, group in enumerate(drawn):
        for control in group:
            row = _check_row(f"random non-induction, same layer as {top[i]}", control,
                             float(induction[control]), changes[heads.index(control)],
                             effects.clean)  # fmt: skip
            rows.append(row)
    return rows


def _pm(value: float, stderr: float | None, sign: str = "+") -> str:
    shown = f"{value:{sign}.3f}"
    return shown if stderr is None else f"{shown} ± {stderr:.3f}"


def _check_row(
    group: str, head: HeadId, score: float, change: Tensor, clean: float
) -> dict[str, Any]:
    return {"group": group, "head": str(head), "induction": score, "change": float(change.mean()),
            "change_stderr": float(change.std() / change.numel() ** 0.5), "rows": change.numel(),
            "clean": clean}  # fmt: skip


def thirds(scores: HeadScores, syntax: SyntaxScores) -> list[dict[str, Any]]:
    """Per third of the layers: each kind's mean over its heads, and syntax at its best.

    Each mean comes with its standard error over the third's heads (``KIND se``).
    """
    n = scores.n_layers
    bounds = [(0, n // 3), (n // 3, 2 * n // 3), (2 * n // 3, n)]
    rows = []
    for name, (lo, hi) in zip(("early", "middle", "late"), bounds, strict=True):
        row: dict[str, Any] = {"third": name, "layers": f"{lo}-{hi - 1}"}
        for kind in THIRD_KINDS:
            values = scores.score(kind)[lo:hi].flatten()
            values = values[~values.isnan()]
            row[kind.value] = float(values.mean())
            row[f"{kind.value} se"] = float(values.std() / values.numel() ** 0.5)
        frequent = [r for r in syntax.table(min_count=50)]
        best = [float(syntax.accuracy[:, syntax.relations.index(r["relation"]), lo:hi].max())
                for r in frequent]  # fmt: skip
        row["syntax (mean best accuracy)"] = sum(best) / len(best) if best else float("nan")
        rows.append(row)
    return rows


def render(result: AtlasResult, sample) -> Report:  # noqa: ANN001 - a SentenceAttention
    """The page: per-third table, syntax, the causal check, every kind's map, views."""
    scores, syntax = result.scores, result.syntax
    report = Report(f"Head atlas: {result.provenance.model}")
    report.paragraph(
        f"{scores.n_prompts} UD English EWT dev sentences (skipped: {syntax.skipped or 'none'}) "
        "plus repeated random tokens for the induction kind, all kinds in one pass per chunk. "
        "Figures on SmolLM2 describe its 4-bit-dequantised weights."
    )
    report.heading("By thirds of the depth")
    report.paragraph(
        "Each kind's mean score over the heads of a third, ± its standard error over heads."
    )
    columns = [c for c in result.thirds[0] if not c.endswith(" se")]
    report.table(columns, [[_pm(row[c], row[f"{c} se"], sign="") if f"{c} se" in row else row[c]
                            for c in columns] for row in result.thirds])  # fmt: skip
    report.heading("Syntactic heads")
    report.paragraph(
        "A causal model sees only leftward words, so each relation can be found only in the "
        "direction whose partner lies to the left: dependent -> head when the head word comes "
        "first, head -> dependent (the head word attending back to its dependent) when the "
        "dependent comes first. Both directions are scored and the better one is kept; the "
        "baseline is the best fixed offset (-5..5)."
    )
    table = syntax.table(min_count=50)
    report.table(
        ["relation", "count", "best head", "direction", "accuracy", "offset", "baseline"],
        [[r["relation"], r["count"], r["head"], r["direction"], r["accuracy"],
          r["baseline_offset"], r["baseline"]] for r in table],
    )  # fmt: skip
    report.heading("Causal check: the top induction heads against random heads of their layers")
    rows = result.check[0].get("rows", "?")
    report.paragraph(
        "Each top induction head is zero-ablated alone, and so is each of several random heads "
        "of its layer whose induction score is below the label threshold. The change is the "
        f"second-copy loss (nats) on {rows} repeated-random-token rows, with its standard "
        "error over rows; for a top head, the paired difference from its controls' mean."
    )
    report.table(
        ["group", "head", "induction score", "loss change", "minus its controls' mean"],
        [[r["group"], r["head"], r["induction"], _pm(r["change"], r.get("change_stderr")),
          _pm(r["minus_controls"], r["minus_controls_stderr"]) if "minus_controls" in r
          else ""] for r in result.check],
    )  # fmt: skip
    report.heading("Every kind, layer x head")
    for i, kind in enumerate(scores.kinds):
        report.figure(head_heatmap(scores.mean[i].tolist(), kind))
    report.heading("Attention of the top heads on a sentence")
    for kind in (HeadKind.PREVIOUS_TOKEN, HeadKind.INDUCTION, HeadKind.FIRST_TOKEN):
        top = [h for h, _ in scores.top(kind, 3)]
        report.heading(kind.value, level=3)
        report.view(
            attention_heads_view(
                sample.str_tokens,
                sample.patterns[[h.layer for h in top], [h.head for h in top]],
                [str(h) for h in top],
                causal=True,
            )
        )
    report.table(["step", "seconds"], [[k, v] for k, v in result.seconds.items()])
    return report
