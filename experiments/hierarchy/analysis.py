"""The whole claim on one page: where each kind of information lives, and seven verdicts.

Every measurement is a *profile*: one value per layer (probes: per boundary, 0 = the
embeddings, L = after the last block; heads: per layer, placed at the middle of its block,
``(l + 0.5) / L``), with a 95 % interval per layer where the measurement has one. Its *peak*
is the layer of the highest value; the peak's *tied range* spans every layer whose interval
reaches the peak's lower bound (the layers the data cannot tell from the peak). Probes also
have Tenney et al.'s expected layer (centre of gravity of the gains) with a bootstrap
interval over sentences. Depths are relative (0..1) so SmolLM2 (30 layers) and MiniLM (6)
share one axis; "early", "middle" and "late" are its thirds.

A claim's verdict per model: **right** when the evidence's tied range lies inside the thirds
the claim names, **partly** when it overlaps them, **wrong** when it lies outside; the
evidence and the rule are printed with each verdict.
"""

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from jaxtyping import Float
from torch import Tensor

from experiments.hierarchy import measure
from experiments.hierarchy.config import Config
from mechscope.core import Outcome, Result, load_result, mean_and_sem
from mechscope.heads import HeadKind
from mechscope.models import load_model
from mechscope.representations import boundary_numbers
from mechscope.viz import Report, depth_figure, heatmap, line_chart

SHORT = {"smollm2-135m": "SmolLM2", "minilm": "MiniLM"}
EWT = "UD EWT, layer-hierarchy"
"""The source of the profiles read from the layer-hierarchy experiment's saved probes."""
THIRDS = {"early": (0.0, 1 / 3), "middle": (1 / 3, 2 / 3), "late": (2 / 3, 1.0)}


def profile(what: str, model: str, source: str, positions: list[float], values: list[float],
            low: list[float] | None = None, high: list[float] | None = None, *,
            expected: tuple[float, float, float] | None = None,
            higher_is_better: bool = True) -> dict[str, Any]:  # fmt: skip
    """One measurement by depth, with its peak and tied range (module docstring)."""
    sign = 1.0 if higher_is_better else -1.0
    scored = [sign * v if not math.isnan(v) else -math.inf for v in values]
    best = max(range(len(values)), key=scored.__getitem__)
    if low is not None and high is not None:
        if higher_is_better:  # every layer whose upper bound reaches the peak's lower bound
            tied = [positions[i] for i in range(len(values)) if high[i] >= low[best]]
        else:
            tied = [positions[i] for i in range(len(values)) if low[i] <= high[best]]
    else:
        tied = []
    tied = tied or [positions[best]]
    row = {"what": what, "model": SHORT.get(model, model), "source": source,
           "positions": positions, "values": values, "low": low, "high": high,
           "peak": positions[best], "tied_low": min(tied), "tied_high": max(tied),
           "peak_value": values[best]}  # fmt: skip
    if expected is not None:
        row |= {"expected": expected[0], "expected_low": expected[1], "expected_high": expected[2]}
    return row


def where(low: float, high: float, claim: str) -> str:
    """Right / partly / wrong: is ``[low, high]`` inside the thirds named in ``claim``?"""
    ranges = [THIRDS[t] for t in claim.split("+")]
    inside = all(any(a - 1e-9 <= x <= b + 1e-9 for a, b in ranges) for x in (low, high))
    overlaps = any(low <= b and high >= a for a, b in ranges)
    return "right" if inside else "partly" if overlaps else "wrong"


def _probe_profile(result: Any, what: str, model: str, n_layers: int, source: str,  # noqa: ANN401
                   random: Any = None) -> dict:  # noqa: ANN401  # fmt: skip
    """A probe's profile; ``random``: the same probe on the random-init twin (its best kept)."""
    positions = [layer / n_layers for layer in result.layers]
    expected = None
    if result.correct is not None:
        low, high = result.expected_layer_interval(n_boot=300)
        expected = (result.expected_layer / n_layers, low / n_layers, high / n_layers)
    row = profile(what, model, source, positions, result.accuracy.tolist(),
                  result.ci_low.tolist(), result.ci_high.tolist(), expected=expected)  # fmt: skip
    if random is not None:
        best = int(random.accuracy.argmax())
        row |= {"random_values": random.accuracy.tolist(),
                "random_peak_value": float(random.accuracy[best]),
                "random_peak": random.layers[best] / n_layers}  # fmt: skip
    return row


def _head_positions(n_layers: int) -> list[float]:
    return [(layer + 0.5) / n_layers for layer in range(n_layers)]


def _per_layer(values: Tensor) -> tuple[list[float], list[float], list[float]]:
    """Mean over prompts of a [prompt, layer] tensor, with a 95 % normal interval."""
    values = values[~values.isnan().any(1)]
    stats = [mean_and_sem(column) for column in values.T]
    mean = [m for m, _ in stats]
    return (mean, [m - 1.96 * se for m, se in stats], [m + 1.96 * se for m, se in stats])


def model_profiles(spec: str, parts: dict[str, Result], n_layers: int,
                   ewt: dict[str, Result]) -> tuple[list[dict], dict[str, Any]]:  # fmt: skip
    """Every profile of one model, and facts the verdicts need besides."""
    rows, extra = [], {}
    gum = "GUM"
    names = {"probe-upos": "part of speech (UPOS probe)", "probe-deprel": "syntax (relation probe)",
             "probe-entity": "entity type (probe)", "probe-chain": "in a coreference chain (probe)",
             "probe-genre": "genre (sentence probe)"}  # fmt: skip
    for key, what in names.items():
        rows.append(_probe_profile(parts[key], what, spec, n_layers, gum,
                                   parts.get(f"random-{key}")))  # fmt: skip
    for key, what in (("probe-upos", "part of speech (UPOS probe)"),
                      ("probe-deprel", "syntax (relation probe)")):  # fmt: skip
        if key in ewt:
            rows.append(_probe_profile(ewt[key], what, spec, n_layers, EWT))
    structural = parts["structural"]
    uuas = structural.metric("uuas").tolist()  # type: ignore[attr-defined]
    positions = [x / n_layers for x in boundary_numbers(structural.boundaries)]  # type: ignore[attr-defined]
    rows.append(profile("syntax (structural probe UUAS)", spec, gum, positions, uuas))
    for key in ("probe-sentiment-sentence-mean", "probe-sentiment-sentence-last"):
        if key in parts:
            pooling = key.rsplit("-", 1)[-1]
            rows.append(_probe_profile(parts[key], f"sentiment (SST-2, {pooling} pooled)", spec,
                                       n_layers, "SST-2", parts.get(f"random-{key}")))  # fmt: skip
    coref = parts["coreference"]
    accuracy = coref.accuracy()  # type: ignore[attr-defined]
    best_head = accuracy.argmax(1)
    low, high = [], []
    for layer in range(n_layers):
        a, b = coref.interval(coref.correct[:, layer, int(best_head[layer])], n_boot=300)  # type: ignore[attr-defined]
        low.append(a)
        high.append(b)
    rows.append(profile("coreference (best head per layer)", spec, gum, _head_positions(n_layers),
                        accuracy.amax(1).tolist(), low, high))  # fmt: skip
    extra["coref_baselines"] = (float(coref.nearest.mean()), float(coref.head_match.mean()))  # type: ignore[attr-defined]
    (head, value), (pronoun_head, pronoun_value) = coref.best(), coref.best(pronouns=True)  # type: ignore[attr-defined]
    extra["coref_best"] = [str(head), value, str(pronoun_head), pronoun_value,
                           coref.n_mentions]  # type: ignore[attr-defined]  # fmt: skip
    if "verify-coreference" in parts:
        extra["verify_coreference"] = parts["verify-coreference"].verdict()  # type: ignore[attr-defined]
    mentions = parts["mentions"]
    m_low, m_high = zip(*(mentions.interval(i, n_boot=300)  # type: ignore[attr-defined]
                          for i in range(len(mentions.boundaries))), strict=True)  # type: ignore[attr-defined]  # fmt: skip
    rows.append(profile("coreference (mention retrieval)", spec, gum,
                        [x / n_layers for x in boundary_numbers(mentions.boundaries)],  # type: ignore[attr-defined]
                        mentions.accuracy.tolist(), list(m_low), list(m_high)))  # type: ignore[attr-defined]  # fmt: skip
    if mentions.separation is not None:  # type: ignore[attr-defined]
        extra["mention_distributions"] = _distributions(mentions, n_layers)
    heads = parts["heads"]
    for kind, what in (("previous-token", "attention: previous token"),
                       ("local-window", "attention: local window"),
                       ("first-token", "attention: sink (first token)"),
                       ("max-weight", "attention: sparsity (max weight)")):  # fmt: skip
        i = heads.kinds.index(HeadKind(kind))  # type: ignore[attr-defined]
        per = heads.per_prompt[i, : heads.n_prompts].mean(-1)  # type: ignore[attr-defined]
        mean, lo, hi = _per_layer(per)
        rows.append(profile(what, spec, gum, _head_positions(n_layers), mean, lo, hi))
    syntax = parts["syntax"]
    counts_list = syntax.counts.tolist()  # type: ignore[attr-defined]
    frequent = [i for i, c in enumerate(counts_list) if c >= min(50, max(counts_list))]
    best = syntax.accuracy.amax(0)[frequent].amax(-1)  # type: ignore[attr-defined]  # relation layer
    counts = syntax.counts[frequent].float()[:, None]  # type: ignore[attr-defined]
    se = ((best * (1 - best) / counts).sum(0)).sqrt() / len(frequent)
    mean = best.mean(0)
    rows.append(profile("syntax (best dependency head per layer)", spec, gum,
                        _head_positions(n_layers), mean.tolist(), (mean - 1.96 * se).tolist(),
                        (mean + 1.96 * se).tolist()))  # fmt: skip
    aggregation = parts["aggregation"]
    for target in aggregation.targets:  # type: ignore[attr-defined]
        rows.append(profile(f"aggregation onto {target} words (best enrichment)", spec,
                            "SST-2" if target == "sentiment" else gum, _head_positions(n_layers),
                            aggregation.by_layer(target).tolist()))  # type: ignore[attr-defined]  # fmt: skip
    if "lens-facts" in parts:
        rows.append(_lens_profile(parts["lens-facts"], "fact answer (logit lens top-1)", spec,
                                  n_layers))  # fmt: skip
        rows.append(_sentiment_lens(parts["lens-sentiment"], parts["lens-sentiment-wrong"], spec,
                                    n_layers))  # fmt: skip
    if "dla-sentiment" in parts:
        rows.append(_dla_profile(parts["dla-sentiment"], spec, n_layers))
    if "induction" in [k.value for k in heads.kinds]:  # type: ignore[attr-defined]
        extra["induction"] = _composition(heads)
    return rows, extra


def _last_positions(trajectory: Any) -> Tensor:  # noqa: ANN401
    return trajectory.attention_mask.sum(1) - 1


def _lens_profile(trajectory: Any, what: str, spec: str, n_layers: int) -> dict:  # noqa: ANN401
    """Share of prompts whose answer is the lens's top token at each boundary (Wilson CI)."""
    last = _last_positions(trajectory)
    rows = torch.arange(trajectory.rank.shape[1])
    top1 = (trajectory.rank[:, rows, last] == 1).float()  # boundary prompt
    n = top1.shape[1]
    p = top1.mean(1)
    se = (p * (1 - p) / n).sqrt()
    positions = [b / n_layers for b in range(top1.shape[0])]
    row = profile(what, spec, "facts", positions, p.tolist(), (p - 1.96 * se).tolist(),
                  (p + 1.96 * se).tolist())  # fmt: skip
    final = float(p[-1])
    first_half = next((b for b in range(len(p)) if float(p[b]) >= final / 2), len(p) - 1)
    row["forms_at"] = first_half / n_layers
    row["n"] = n
    return row


def _sentiment_lens(right: Any, wrong: Any, spec: str, n_layers: int) -> dict:  # noqa: ANN401
    """The logit lens's log-prob of the right minus the wrong polarity word, per boundary."""
    last = _last_positions(right)
    rows = torch.arange(right.log_prob.shape[1])
    diff = right.log_prob[:, rows, last] - wrong.log_prob[:, rows, last]  # boundary prompt
    mean, lo, hi = _per_layer(diff.T)
    row = profile("sentiment completion (logit lens, good - bad)", spec, "templates",
                  [b / n_layers for b in range(diff.shape[0])], mean, lo, hi)  # fmt: skip
    final = mean[-1]
    row["forms_at"] = next((b for b, v in enumerate(lo) if v > 0 and mean[b] >= final / 2),
                           len(mean) - 1) / n_layers  # fmt: skip
    row["n"] = diff.shape[1]
    return row


def _dla_profile(dla: Any, spec: str, n_layers: int) -> dict:  # noqa: ANN401
    """Each block's direct effect (its heads and MLP) on the right-minus-wrong logit."""
    labels, values = dla.grouped()
    last = _last_positions(dla)
    rows = torch.arange(values.shape[1])
    at_last = values[:, rows, last]  # part prompt
    per_layer = torch.stack([
        sum((at_last[labels.index(name)] for name in (f"attn {layer}", f"mlp {layer}")
             if name in labels), torch.zeros(at_last.shape[1]))
        for layer in range(n_layers)
    ], 1)  # prompt layer  # fmt: skip
    mean, lo, hi = _per_layer(per_layer)
    return profile("sentiment completion (DLA per block)", spec, "templates",
                   _head_positions(n_layers), mean, lo, hi)  # fmt: skip


def _composition(heads: Any) -> dict[str, Any]:  # noqa: ANN401
    """Layers of the top induction and previous-token heads (SmolLM2: composition)."""
    induction = heads.top("induction", 3)
    previous = heads.top("previous-token", 3)
    return {
        "induction": [(str(h), v) for h, v in induction],
        "previous": [(str(h), v) for h, v in previous],
        "holds": min(h.layer for h, _ in induction) > min(h.layer for h, _ in previous),
    }


CLAIMS = (
    (1, "parts of speech are read best early", ("part of speech (UPOS probe)",), "early"),
    (2, "syntax (trees, dependency heads) in the middle",
     ("syntax (relation probe)", "syntax (structural probe UUAS)",
      "syntax (best dependency head per layer)"), "middle"),
    (3, "coreference in the middle",
     ("coreference (best head per layer)", "coreference (mention retrieval)",
      "in a coreference chain (probe)"), "middle"),
    (4, "sentiment and other sentence meaning late",
     ("sentiment (SST-2, mean pooled)", "sentiment (SST-2, last pooled)", "genre (sentence probe)",
      "sentiment completion (logit lens, good - bad)", "sentiment completion (DLA per block)"),
     "late"),
    (5, "the answer to a fact forms late (logit lens)", ("fact answer (logit lens top-1)",),
     "late"),
    (6, "induction needs composition (induction heads above previous-token heads)", (), ""),
    (7, "attention: local early, syntactic middle, sink and sparse late",
     ("attention: previous token", "attention: local window",
      "syntax (best dependency head per layer)", "attention: sink (first token)",
      "attention: sparsity (max weight)"), "early,early,middle,late,late"),
)  # fmt: skip


def verdicts(rows: list[dict], extras: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One verdict per claim and model, with the evidence (module docstring's rule)."""
    out = []
    for number, statement, whats, thirds in CLAIMS:
        for model in dict.fromkeys([*(r["model"] for r in rows), *extras]):
            mine = {r["what"]: r for r in rows
                    if r["model"] == model and r["source"] != EWT}  # fmt: skip
            if number == 6:
                comp = extras.get(model, {}).get("induction")
                if comp is None:
                    continue
                word = "right" if comp["holds"] else "wrong"
                named = {k: ", ".join(f"{h} ({v:.2f})" for h, v in comp[k])
                         for k in ("induction", "previous")}  # fmt: skip
                evidence = (
                    f"top induction heads {named['induction']}; top previous-token "
                    f"heads {named['previous']}"
                )
                if model == "MiniLM":
                    word = "not applicable"
                    evidence += " (an encoder reads both sides; the score is prefix matching)"
                out.append({"claim": number, "statement": statement, "model": model,
                            "verdict": word, "evidence": evidence})  # fmt: skip
                continue
            wanted = thirds.split(",") if "," in thirds else [thirds] * len(whats)
            words, evidence = [], []
            for what, third in zip(whats, wanted, strict=True):
                if what not in mine:
                    continue
                r = mine[what]
                low, high = r["tied_low"], r["tied_high"]
                if number in (4, 5) and "forms_at" in r:
                    low = high = r["forms_at"]
                word = where(low, high, third)
                words.append(word)
                exp = (f", expected {r['expected']:.2f} [{r['expected_low']:.2f}, "
                       f"{r['expected_high']:.2f}]" if "expected" in r else "")  # fmt: skip
                forms = f", forms at {r['forms_at']:.2f}" if "forms_at" in r else ""
                evidence.append(f"{what}: peak {r['peak']:.2f} (tied {r['tied_low']:.2f}-"
                                f"{r['tied_high']:.2f}){exp}{forms}, expected {third}: "
                                f"{word}")  # fmt: skip
            if not words:
                continue
            overall = ("right" if all(w == "right" for w in words) else
                       "wrong" if all(w == "wrong" for w in words) else "partly")  # fmt: skip
            out.append({"claim": number, "statement": statement, "model": model,
                        "verdict": overall, "evidence": "; ".join(evidence)})  # fmt: skip
    return out


@dataclass(frozen=True)
class Hierarchy(Result):
    """Every profile by depth, and a verdict per claim and model."""

    kind: ClassVar[str] = "hierarchy"
    profiles: list[dict[str, Any]]
    verdicts: list[dict[str, Any]]
    extras: dict[str, Any]
    peaks: Float[Tensor, " profile"]
    """Each profile's relative peak depth (for a quick look without the JSON)."""

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per profile: what, model, peak, tied range, expected layer."""
        import pandas as pd

        keys = ("what", "model", "source", "peak", "tied_low", "tied_high", "peak_value",
                "expected", "expected_low", "expected_high")  # fmt: skip
        return pd.DataFrame([{k: r.get(k) for k in keys} for r in self.profiles])


def run(cfg: Config) -> Outcome:
    """Measure every part of every model (cached), then the profiles and verdicts."""
    d = measure.data(cfg)
    rows, extras, saved = [], {}, {}
    for spec in cfg.models:
        model = load_model(spec)
        root = cfg.out / "runs" / spec.replace("/", "_")
        parts: dict[str, Result] = {}
        parts |= measure.probes(model, cfg, d, root)
        parts |= measure.random_controls(model, cfg, d, root)
        parts |= measure.coreference(model, cfg, d, root)
        parts |= measure.attention(model, d, root)
        parts |= measure.lens(model, cfg, root)
        parts |= measure.dropping(model, cfg, d, root)
        parts |= measure.finetuning(model, cfg, d, root)
        ewt = _layer_hierarchy(cfg.layer_hierarchy, spec)
        mine, extra = model_profiles(spec, parts, model.cfg.n_layers, ewt)
        rows += mine
        extras[SHORT.get(spec, spec)] = extra | _dropping_extra(parts) | _finetune_extra(parts)
        saved[spec] = {k: v for k, v in parts.items() if k in ("dropping", "finetune",
                                                                "verify-coreference")}  # fmt: skip
        del model
    result = Hierarchy(
        rows, verdicts(rows, extras), _jsonable(extras), torch.tensor([r["peak"] for r in rows])
    )
    result = result.with_provenance(cfg, ",".join(cfg.models))
    return Outcome({"": result}, {"parts": saved})


def _jsonable(value: Any) -> Any:  # noqa: ANN401
    return json.loads(json.dumps(value, default=str))


def _layer_hierarchy(directory: Path, spec: str) -> dict[str, Result]:
    out = {}
    for key in ("probe-upos", "probe-deprel"):
        path = directory / spec / key
        if (path / "result.json").exists():
            out[key] = load_result(path)
    return out


def _dropping_extra(parts: dict[str, Result]) -> dict[str, Any]:
    drop = parts.get("dropping")
    if drop is None:
        return {}
    return {"dropping": {m: {"intact": drop.value("intact", m),  # type: ignore[attr-defined]
                             "single": drop.single(m).tolist(),  # type: ignore[attr-defined]
                             "cumulative": drop.cumulative(m).tolist(),  # type: ignore[attr-defined]
                             "top_ks": drop.top_ks,  # type: ignore[attr-defined]
                             "most_needed": drop.most_needed(m)}  # type: ignore[attr-defined]
                         for m in drop.measures}}  # type: ignore[attr-defined]  # fmt: skip


def _finetune_extra(parts: dict[str, Result]) -> dict[str, Any]:
    sweep = parts.get("finetune")
    if sweep is None:
        return {}
    return {"finetune": sweep.table(), "finetune_majority": sweep.majority}  # type: ignore[attr-defined]


def _resampled(row: dict[str, Any], grid: list[float]) -> list[float]:
    """A profile scaled to 0..1 and read at ``grid`` (linear between its layers)."""
    xs, ys = row["positions"], row["values"]
    low, high = min(ys), max(ys)
    span = (high - low) or 1.0
    out = []
    for x in grid:
        i = max((j for j in range(len(xs)) if xs[j] <= x), default=0)
        k = min(i + 1, len(xs) - 1)
        t = 0.0 if k == i or x <= xs[i] else min(1.0, (x - xs[i]) / (xs[k] - xs[i]))
        out.append(((ys[i] + t * (ys[k] - ys[i])) - low) / span)
    return out


def _distributions(mentions: Any, n_layers: int) -> dict[str, Any]:  # noqa: ANN401
    """Coreferent vs other cosines by depth, and both densities where they separate most."""
    separation = mentions.separation.tolist()
    peak = max(range(len(separation)), key=separation.__getitem__)
    density = {}
    for index in (peak, len(separation) - 1):
        centres, same, other = mentions.density(index)
        density[mentions.boundaries[index]] = {"centres": centres, "coreferent": same,
                                               "other": other}  # fmt: skip
    return {
        "depth": [x / n_layers for x in boundary_numbers(mentions.boundaries)],
        "coreferent": mentions.coreferent.tolist(), "other": mentions.other.tolist(),
        "separation": separation, "peak": mentions.boundaries[peak], "density": density,
    }  # fmt: skip


def _distribution_figures(page: Report, model: str, values: dict[str, Any]) -> None:
    page.heading(f"{model}: coreferent and other mentions in the stream", level=3)
    page.paragraph(
        "The cosine between a mention's head word and each earlier mention's head word in its "
        "window (centred word vectors): mentions of its own chain against the others. "
        "Separation: P(coreferent cosine > other cosine), 0.5 where the two distributions "
        "coincide.",
        note=True,
    )
    depth = values["depth"]
    page.figure(line_chart(
        {"coreferent (mean cosine)": (depth, values["coreferent"]),
         "other (mean cosine)": (depth, values["other"]),
         "separation P(coreferent > other)": (depth, values["separation"])},
        title=f"{model}: mention similarity by depth (separation peaks {values['peak']})",
        x_title="relative depth", y_title="cosine / probability"))  # fmt: skip
    series = {}
    for boundary, d in values["density"].items():
        series[f"coreferent, {boundary}"] = (d["centres"], d["coreferent"])
        series[f"other, {boundary}"] = (d["centres"], d["other"])
    page.figure(line_chart(series, title=f"{model}: the two cosine distributions",
                           x_title="cosine", y_title="density"))  # fmt: skip


def report(outcome: Outcome, cfg: Config) -> Report:
    """The page: the verdicts, the figure, then each model's profiles and the extra tables."""
    result: Hierarchy = outcome.main  # type: ignore[assignment]
    page = Report("Why deeper layers are more abstract: the whole claim, measured")
    page.paragraph(
        f"Models: {', '.join(cfg.models)}. Each kind of information is a profile by relative "
        "depth (0 = embeddings, 1 = after the last block); its peak and the layers tied with "
        "it at 95 % (the error bar), and for probes Tenney et al.'s expected layer with a "
        "bootstrap interval over sentences (open diamonds). Thirds: early < 0.33 < middle < "
        "0.67 < late. Verdict: right when the tied range lies in the thirds the claim names, "
        "partly when it overlaps them, wrong otherwise."
    )
    page.heading("Verdicts")
    page.table(["claim", "model", "verdict", "evidence"],
               [[f"{v['claim']}. {v['statement']}", v["model"], v["verdict"], v["evidence"]]
                for v in result.verdicts])  # fmt: skip
    page.heading("Where each kind of information peaks")
    peaks = [{"what": r["what"] + ("" if r["source"] != EWT else " [EWT]"),
              "model": r["model"], "peak": r["peak"], "low": r["tied_low"],
              "high": r["tied_high"], "source": r["source"],
              **({"expected": r["expected"], "expected_low": r["expected_low"],
                  "expected_high": r["expected_high"]} if "expected" in r else {})}
             for r in result.profiles]  # fmt: skip
    page.figure(depth_figure(peaks))
    for model in dict.fromkeys(r["model"] for r in result.profiles):
        page.heading(f"{model}: every profile", level=2)
        mine = [r for r in result.profiles if r["model"] == model]
        grid = [i / 20 for i in range(21)]
        page.figure(heatmap(
            [_resampled(r, grid) for r in mine], x_labels=[f"{x:.2f}" for x in grid],
            y_labels=[f"{r['what']} [{r['source']}]" for r in mine],
            title=f"{model}: each profile scaled to 0..1 (its minimum to its maximum)",
            x_title="relative depth", y_title="", value_name="scaled", zmin=0.0, zmax=1.0,
            annotate=False))  # fmt: skip
        page.table(["what", "source", "peak", "tied", "peak value", "expected layer",
                    "random-init twin's best"],
                   [[r["what"], r["source"], r["peak"], f"{r['tied_low']:.2f}-{r['tied_high']:.2f}",
                     r["peak_value"], (f"{r['expected']:.2f} [{r['expected_low']:.2f}, "
                                       f"{r['expected_high']:.2f}]" if "expected" in r else "-"),
                     (f"{r['random_peak_value']:.3f} at {r['random_peak']:.2f}"
                      if "random_peak_value" in r else "-")]
                    for r in result.profiles if r["model"] == model])  # fmt: skip
        extra = result.extras.get(model, {})
        if "mention_distributions" in extra:
            _distribution_figures(page, model, extra["mention_distributions"])
        if "dropping" in extra:
            page.heading(f"{model}: layer dropping", level=3)
            for name, values in extra["dropping"].items():
                n = len(values["single"])
                kept = [n - k for k in values["top_ks"]]
                page.figure(line_chart(
                    {"block x dropped alone": (list(range(n)), values["single"]),
                     "only blocks below x kept (top n - x dropped)": (kept, values["cumulative"])},
                    title=f"{name} (intact {values['intact']:.3f}); most needed block "
                          f"{values['most_needed']}", x_title="block", y_title=name))  # fmt: skip
        if "finetune" in extra:
            page.heading(f"{model}: fine-tuned on SST-2 with the lowest k blocks frozen", level=3)
            rows = extra["finetune"]
            cka = [k for k in rows[0] if k.startswith("cka ")]
            page.table(["frozen k", "accuracy", "95 % interval", "seeds min-max", *cka],
                       [[r["frozen"], r["accuracy"], f"{r['ci_low']:.3f}-{r['ci_high']:.3f}",
                         f"{r['min']:.3f}-{r['max']:.3f}", *(r[k] for k in cka)]
                        for r in rows])  # fmt: skip
    return page
