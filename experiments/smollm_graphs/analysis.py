"""SmolLM2's attribution graphs on facts, IOI and induction, checked in the real model.

Each prompt's graph (`mechscope.circuits.attribution_graph`) is built over the per-layer
transcoders, then its most influential features are ablated one at a time in the real model
(`validate_graph`): the measured change in the target against the graph's prediction (the
total effect through the explored graph) and against the direct effect alone. The
correlations are pooled over each task's prompts, with a Fisher interval.
"""

import math
import resource
import time
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import torch
from jaxtyping import Float, Int
from torch import Tensor

from experiments.smollm_graphs.config import Config
from mechscope.circuits import (
    AttributionGraph,
    GraphValidation,
    Replacement,
    Target,
    attribution_graph,
    validate_graph,
)
from mechscope.core import MechscopeError, Outcome, Result
from mechscope.data import FACTS
from mechscope.features import load_transcoders
from mechscope.interventions import ioi_pairs, repeated_pairs
from mechscope.models import load_model, target_ids
from mechscope.viz import Report, add_graph, line_chart, scatter

TASKS = ("facts", "ioi", "induction")


def prompts(model: Any, cfg: Config) -> list[tuple[str, Tensor, Target]]:  # noqa: ANN401
    """(task, tokens, target) of every prompt graphed."""
    out = []
    capitals = [f for f in FACTS if f.relation == "capital"]
    capitals.sort(key=lambda f: "France" not in f.prompt)  # France first
    for fact in capitals[: cfg.facts]:
        out.append(("facts", model.to_tokens(fact.prompt)[0],
                    Target(target_ids(model, [fact.answer], "answer")[0])))  # fmt: skip
    if cfg.ioi:
        pairs = ioi_pairs(model, cfg.ioi, template=0, seed=cfg.seed)
        for i in range(cfg.ioi):
            end = int(pairs.positions[i]) + 1
            out.append(("ioi", pairs.clean.tokens[i, :end],
                        Target(int(pairs.answers[i]), int(pairs.wrong[i]))))  # fmt: skip
    if cfg.induction:
        pairs = repeated_pairs(model, cfg.induction, half=10, seed=cfg.seed)
        for i in range(cfg.induction):
            end = int(pairs.positions[i]) + 1
            out.append(("induction", pairs.clean.tokens[i, :end], Target(int(pairs.answers[i]))))
    return out


def _r(measured: Tensor, predicted: Tensor) -> float:
    """Pearson correlation (nan for fewer than 3 pairs)."""
    if len(measured) < 3:
        return float("nan")
    return GraphValidation("", 0.0, [""] * len(measured), measured, predicted,
                           predicted).correlation()  # fmt: skip


def fisher(r: float, n: int) -> tuple[float, float]:
    """The 95 % interval of a Pearson correlation ``r`` over ``n`` pairs (Fisher z)."""
    if n < 4 or not math.isfinite(r) or abs(r) >= 1:
        return float("nan"), float("nan")
    z, se = math.atanh(r), 1 / math.sqrt(n - 3)
    return math.tanh(z - 1.96 * se), math.tanh(z + 1.96 * se)


def _shares(graph: AttributionGraph) -> tuple[list[float], list[float]]:
    """The kept features' influence, as shares per position and per layer."""
    n_layers = int(graph.layer.max())
    by_pos, by_layer = [0.0] * len(graph.tokens), [0.0] * n_layers
    for i, name in enumerate(graph.nodes):
        if name.startswith("f"):
            by_pos[int(graph.pos[i])] += float(graph.influence[i])
            by_layer[int(graph.layer[i])] += float(graph.influence[i])
    total = sum(by_pos) or 1.0
    return [v / total for v in by_pos], [v / total for v in by_layer]


def _describe(graph: AttributionGraph, check: GraphValidation, task: str,
              seconds: float) -> dict[str, Any]:  # fmt: skip
    index = {name: i for i, name in enumerate(graph.nodes)}
    by_pos, by_layer = _shares(graph)
    top = [{"node": name, "label": graph.labels[index[name]], "influence": value,
            "direct": float(graph.direct[index[name]]), "total": float(graph.total[index[name]])}
           for name, value in graph.top(10)]  # fmt: skip
    paths = {}
    for pos in range(1, len(graph.tokens)):
        if f"emb@{pos}" in index:
            path, value = graph.strongest_path(f"emb@{pos}")
            paths[f"emb@{pos}"] = {"path": path, "value": value}
    return {
        "task": task, "prompt": "".join(graph.tokens), "tokens": graph.tokens,
        "target": graph.target, "value": graph.value, "n_active": graph.n_active,
        "n_explored": graph.n_explored, "n_nodes": len(graph.nodes),
        "n_features": sum(n.startswith("f") for n in graph.nodes),
        "n_edges": int((graph.adjacency != 0).sum()), "scores": graph.scores, "top": top,
        "position_share": by_pos, "layer_share": by_layer, "paths": paths,
        "r_total": check.correlation("total"), "r_direct": check.correlation("direct"),
        "n_checked": len(check.features), "seconds": seconds,
    }  # fmt: skip


@dataclass(frozen=True)
class SmolGraphs(Result):
    """Every graph's summary, the transcoders' quality and the pooled real-model checks."""

    kind: ClassVar[str] = "smollm-graphs"
    transcoders: list[dict[str, Any]]
    """Per layer: explained variance, L0, dead fraction, loss recovered (held-out text)."""
    graphs: list[dict[str, Any]]
    pooled: dict[str, dict[str, Any]]
    """Per task: n, r_total (with a 95 % Fisher interval low..high) and r_direct."""
    features: list[str]
    """Every ablated feature (``fLAYER.FEATURE@POS``), graphs concatenated."""
    measured: Float[Tensor, " feature"]
    """Each one's measured change of its target in the real model."""
    measured_frozen: Float[Tensor, " feature"]
    """The same with the attention patterns frozen at their clean values."""
    measured_replacement: Float[Tensor, " feature"]
    """The same in the replacement model (patterns, norm scales and error nodes frozen,
    every feature recomputed through its encoder and ReLU)."""
    measured_half: Float[Tensor, " feature"]
    """Each one set to ``half_scale`` x its activation instead, in the real model."""
    measured_half_replacement: Float[Tensor, " feature"]
    """And in the replacement model."""
    predicted_total: Float[Tensor, " feature"]
    predicted_direct: Float[Tensor, " feature"]
    graph_of: Int[Tensor, " feature"]
    """Which graph (row of ``graphs``) each feature belongs to."""
    peak_rss_gb: float
    """The process's peak resident memory over the whole run (model, transcoders, graphs)."""

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per graph."""
        import pandas as pd

        return pd.DataFrame([{k: v for k, v in g.items() if not isinstance(v, list | dict)}
                             for g in self.graphs])  # fmt: skip


def transcoder_metrics(cfg: Config, layers: list[int]) -> list[dict[str, Any]]:
    """Each transcoder's held-out measurements (its metrics.json)."""
    import json

    rows = []
    for layer in layers:
        path = cfg.transcoders / f"transcoder-{layer}" / "metrics.json"
        if path.is_file():
            rows.append({"layer": layer, **json.loads(path.read_text())})
    return rows


def run(cfg: Config) -> Outcome:
    """Graph every prompt, check each in the real model, pool (each graph saved in graphs/)."""
    transcoders = load_transcoders(cfg.transcoders)  # refused before the model loads
    model = load_model(cfg.model)
    missing = sorted(set(range(model.cfg.n_layers)) - set(transcoders))
    if len(missing) == model.cfg.n_layers:
        raise MechscopeError(f"{cfg.transcoders} has no transcoder for this model's layers.")
    rows, checks, graphs, held, replaced, halves, halves_inside = [], [], {}, [], [], [], []
    for k, (task, tokens, target) in enumerate(prompts(model, cfg)):
        start = time.perf_counter()
        replacement = Replacement.of(model, transcoders, tokens)
        graph = attribution_graph(replacement, target, max_features=cfg.max_features,
                                  batch_size=cfg.batch_size, node_threshold=cfg.node_threshold,
                                  edge_threshold=cfg.edge_threshold, progress=False)  # fmt: skip
        settings = {"n_features": cfg.validate, "by": cfg.validate_by, "scale": cfg.scale}
        check = validate_graph(replacement, graph, target, **settings)
        frozen = validate_graph(replacement, graph, target, freeze_attention=True, **settings)
        inside = validate_graph(replacement, graph, target, against="replacement", **settings)
        settings["scale"] = cfg.half_scale
        half = validate_graph(replacement, graph, target, **settings)
        half_inside = validate_graph(replacement, graph, target, against="replacement",
                                     **settings)  # fmt: skip
        seconds = time.perf_counter() - start
        graphs[f"graphs/{k:02d}-{task}"] = graph.with_provenance(cfg, cfg.model)
        rows.append(_describe(graph, check, task, seconds) | {
            "r_frozen": frozen.correlation("total"),
            "r_replacement": inside.correlation("total")})  # fmt: skip
        checks.append(check)
        held.append(frozen.measured)
        replaced.append(inside.measured)
        halves.append(half.measured)
        halves_inside.append(half_inside.measured)
    measured = torch.cat([c.measured for c in checks])
    measured_frozen = torch.cat(held)
    measured_replacement = torch.cat(replaced)
    measured_half, measured_half_replacement = torch.cat(halves), torch.cat(halves_inside)
    features = [name for c in checks for name in c.features]
    layer_of = torch.tensor([int(name[1:].split(".")[0]) for name in features])
    total = torch.cat([c.predicted_total for c in checks])
    direct = torch.cat([c.predicted_direct for c in checks])
    graph_of = torch.cat([torch.full((len(c.features),), i) for i, c in enumerate(checks)])
    pooled = {}
    for task in TASKS:
        chosen = torch.tensor([rows[int(g)]["task"] == task for g in graph_of])
        if chosen.any():
            pick = GraphValidation("", 0.0, [""] * int(chosen.sum()), measured[chosen],
                                   total[chosen], direct[chosen])  # fmt: skip
            r = pick.correlation("total")
            low, high = fisher(r, int(chosen.sum()))
            pooled[task] = {"n": int(chosen.sum()), "r_total": r, "low": low, "high": high,
                            "r_direct": pick.correlation("direct"),
                            "r_frozen": _r(measured_frozen[chosen], total[chosen]),
                            "r_replacement": _r(measured_replacement[chosen],
                                                total[chosen])}  # fmt: skip
            shrunk = total[chosen] * (cfg.half_scale - 1) / (cfg.scale - 1)
            pooled[task] |= {
                "r_half": _r(measured_half[chosen], shrunk),
                "r_half_replacement": _r(measured_half_replacement[chosen], shrunk),
            }
            for part, keep in (("early", layer_of < 10), ("late", layer_of >= 20)):
                both = chosen & keep
                pooled[task][f"n_{part}"] = int(both.sum())
                pooled[task][f"r_{part}"] = _r(measured[both], total[both])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kB -> GB
    result = SmolGraphs(transcoder_metrics(cfg, sorted(transcoders)), rows, pooled, features,
                        measured, measured_frozen, measured_replacement, measured_half,
                        measured_half_replacement, total, direct, graph_of,
                        peak).with_provenance(cfg, cfg.model)  # fmt: skip
    return Outcome({"": result, **graphs})


def report(outcome: Outcome, cfg: Config) -> Report:
    """The transcoders, then each graph (the interactive view of the first of each task)."""
    result = cast("SmolGraphs", outcome.main)
    page = Report("SmolLM2's attribution graphs: facts, IOI and induction")
    page.paragraph(
        "Per-layer transcoders (ReLU, L1) read every MLP; attention patterns and normalisation "
        "scales are frozen on each prompt, so every edge is an exact direct effect. Each "
        f"graph explores up to {cfg.max_features} features by influence and is pruned at node "
        f"threshold {cfg.node_threshold} and edge threshold {cfg.edge_threshold}. Figures "
        "describe SmolLM2's 4-bit (Q4_1) weights dequantised."
    )
    page.heading("The transcoders")
    t = result.transcoders
    if t:
        layers = [r["layer"] for r in t]
        page.figure(line_chart(
            {"explained variance": (layers, [r["explained_variance"] for r in t]),
             "loss recovered (vs zero-ablating the MLP)": (layers,
                                                           [r["loss_recovered_zero"] for r in t])},
            title="Each transcoder spliced in alone, on held-out text", x_title="layer",
            y_title="share",
        ))  # fmt: skip
        page.table(["layer", "explained variance", "L0", "dead", "loss clean", "spliced",
                    "recovered"],
                   [[r["layer"], r["explained_variance"], f"{r['l0']:.1f}", r["dead_fraction"],
                     r["loss_clean"], r["loss_spliced"], r["loss_recovered_zero"]]
                    for r in t])  # fmt: skip
    page.heading("Checked in the real model, pooled per task")
    page.paragraph(
        f"The {cfg.validate} top features of each graph (by {cfg.validate_by}), each set to "
        f"{cfg.scale:g} x its activation alone in the real model (transcoder splice, error "
        "term kept): the measured change of the target against the graph's total effect, "
        "against the direct effect alone, measured with the attention patterns frozen, and "
        "measured in the replacement model itself (patterns, norm scales and error nodes "
        "frozen, features recomputed through their ReLUs). Early: features of layers 0-9; "
        "late: 20-29."
    )
    page.table(["task", "features checked", "r (graph's total effect)", "95 % interval",
                "r (direct effect only)", "r (attention frozen)", "r (in the replacement)",
                "r early (n)", "r late (n)", f"r at {cfg.half_scale:g} x (real / replacement)"],
               [[task, p["n"], p["r_total"], f"{p['low']:.3f} to {p['high']:.3f}", p["r_direct"],
                 p["r_frozen"], p["r_replacement"], f"{p['r_early']:.3f} ({p['n_early']})",
                 f"{p['r_late']:.3f} ({p['n_late']})",
                 f"{p['r_half']:.3f} / {p['r_half_replacement']:.3f}"]
                for task, p in result.pooled.items()])  # fmt: skip
    page.figure(scatter(
        {task: (result.predicted_total[[result.graphs[int(g)]["task"] == task
                                        for g in result.graph_of]].tolist(),
                result.measured[[result.graphs[int(g)]["task"] == task
                                 for g in result.graph_of]].tolist())
         for task in result.pooled},
        title="Ablating one feature: the graph's prediction against the real model",
        x_title="predicted change of the target (graph)", y_title="measured change (real model)",
    ))  # fmt: skip
    page.heading("The graphs")
    page.table(
        ["task", "prompt", "target", "value", "active", "nodes", "edges", "replacement",
         "completeness", "r total", "r direct", "seconds"],
        [[g["task"], g["prompt"][-48:], g["target"], g["value"], g["n_active"], g["n_nodes"],
          g["n_edges"], g["scores"]["replacement_pruned"], g["scores"]["completeness_pruned"],
          g["r_total"], g["r_direct"], f"{g['seconds']:.0f}"] for g in result.graphs],
    )  # fmt: skip
    shown: set[str] = set()
    for k, g in enumerate(result.graphs):
        if g["task"] in shown:
            continue
        shown.add(g["task"])
        graph = cast("AttributionGraph", outcome.results[f"graphs/{k:02d}-{g['task']}"])
        page.heading(f"{g['task']}: {g['prompt']!r} -> {g['target']}", level=3)
        add_graph(page, graph, title=f"{g['target']} = {g['value']:.2f}")
        page.table(["node", "label", "influence", "direct", "total"],
                   [[f["node"], f["label"], f"{f['influence']:.4f}", f"{f['direct']:+.3f}",
                     f"{f['total']:+.3f}"] for f in g["top"]])  # fmt: skip
    return page
