"""Circuits from edge scores: faithfulness against size, ACDC, and exact edge effects.

A circuit is a set of edges (`mechscope.circuits.edges`); it is evaluated by running the
model with every other edge ablated (`edge_forward`). Its *faithfulness* is

    (M(circuit) - M(nothing)) / (M(full model) - M(nothing))

with M(nothing) the metric when every edge is ablated (with resample ablation: the corrupted
run) and M(full model) the clean run: 1 when the circuit does the whole task, 0 when it
does none of it (Hanna et al. 2024). `discover_circuit` keeps the top edges by absolute
score at a grid of sizes, reports faithfulness against size, and picks the smallest size
reaching a target. `acdc` (Conmy et al. 2023) is the slow exact reference: from the logits
backwards it removes every edge whose ablation moves the metric by less than ``tau``, one
forward pass per edge tried. `edge_effects` measures single edges exactly (the full model
with that edge alone ablated), the reference EAP scores are checked against.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from jaxtyping import Float, Int
from scipy.stats import rankdata
from torch import Tensor
from tqdm.auto import tqdm

from mechscope.circuits.edges import (
    INPUT,
    LOGITS,
    Ablation,
    ComponentGraph,
    EdgeScores,
    ablated_activations,
    edge_forward,
    edge_hooks_on,
    upstream_activations,
)
from mechscope.core.errors import MechscopeError
from mechscope.core.metrics import Metric, scalar
from mechscope.core.results import Provenance, Result
from mechscope.interventions import TaskPairs
from mechscope.models.adapter import adapt, model_spec
from mechscope.models.base import Model

MAX_ELEMENTS = 2 * 10**8
"""Floats the batched ablation run may hold for the upstream outputs (800 MB): replicas of
the batch (one circuit each) are run this many at a time."""


class EdgeRunner:
    """Runs one task with chosen edges ablated (the corrupted outputs read once)."""

    def __init__(
        self,
        model: Model,
        pairs: TaskPairs,
        metric: Metric | str = "logit-diff",
        ablation: Ablation | str = Ablation.RESAMPLE,
    ) -> None:
        self.model = adapt(model).decoder("circuit discovery (it needs a decoder's logits)")
        self.graph = ComponentGraph.of(model)
        self.pairs = pairs
        self.metric = metric if isinstance(metric, Metric) else _task_metric(pairs, metric)
        self.ablation = Ablation(ablation)
        self.kwargs = adapt(self.model).forward_kwargs(pairs.clean)
        with edge_hooks_on(self.model):
            corrupted, _ = upstream_activations(self.model, self.graph, pairs.corrupted.tokens,
                                             self.kwargs)  # fmt: skip
        self.ablated = ablated_activations(corrupted, self.ablation)
        self.runs = 0
        per_replica = self.ablated[0].numel() * len(self.graph.upstream)
        self.chunk = max(1, MAX_ELEMENTS // max(per_replica, 1))

    def values(self, keep: Tensor, progress: bool = False) -> list[float]:
        """The metric with only each mask's edges kept (``keep``: replica upstream downstream)."""
        out: list[float] = []
        chunks = range(0, keep.shape[0], self.chunk)
        for start in tqdm(chunks, desc="circuits", disable=not progress, leave=False):
            part = keep[start : start + self.chunk]
            logits = edge_forward(self.model, self.graph, self.pairs.clean.tokens, self.kwargs,
                                  self.ablated, part)  # fmt: skip
            self.runs += 1
            out += [scalar(self.metric(replica)) for replica in logits]
        return out

    def full(self) -> Tensor:
        """The mask keeping every edge."""
        return self.graph.valid.clone()


def _task_metric(pairs: TaskPairs, name: str) -> Metric:
    try:
        return pairs.metric(name)
    except ValueError:
        raise MechscopeError(
            f"{name!r} is not a task metric (logit-diff, loss, probability); "
            "pass the Metric itself."
        ) from None


def faithfulness(values: Tensor, full: float, nothing: float) -> Tensor:
    """(M(circuit) - M(nothing)) / (M(full) - M(nothing)); NaN where full equals nothing."""
    span = full - nothing
    return (values - nothing) / (span if span != 0 else float("nan"))


def _spearman(a: Tensor, b: Tensor) -> float:
    """Spearman's rank correlation (average ranks for ties, as the structural probe ranks)."""
    ra, rb = (torch.from_numpy(rankdata(x.double().numpy())) for x in (a, b))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float((ra * rb).sum() / (ra.norm() * rb.norm()).clamp(min=1e-12))


@dataclass(frozen=True)
class CircuitDiscovery(Result):
    """Faithfulness against circuit size for the top edges of an `EdgeScores`."""

    kind: ClassVar[str] = "circuit-discovery"
    edges: list[str]
    """Every edge, ranked by absolute score (the circuit of size n is the first n)."""
    sizes: Int[Tensor, " size"]
    values: Float[Tensor, " size"]
    """The metric with only the top ``size`` edges kept."""
    clean_value: float
    ablated_value: float
    """The metric with every edge ablated."""
    target: float
    chosen: int
    """The smallest measured size whose faithfulness reaches ``target`` (0: none does)."""
    ablation: str
    metric: str
    n_edges: int

    def _summary(self) -> dict[str, Any]:
        return {"chosen": self.chosen, "faithfulness_at_chosen": self.faithfulness_at(self.chosen),
                "nodes": self.nodes()}  # fmt: skip

    @property
    def faithfulness(self) -> Float[Tensor, " size"]:
        """(M(circuit) - M(nothing)) / (M(full) - M(nothing)) at each size."""
        return faithfulness(self.values, self.clean_value, self.ablated_value)

    def faithfulness_at(self, size: int) -> float:
        """Faithfulness at a measured size (NaN where it was not measured)."""
        hits = (self.sizes == size).nonzero()
        return float(self.faithfulness[int(hits[0])]) if len(hits) else float("nan")

    def circuit(self, size: int | None = None) -> list[str]:
        """The edges of the circuit of ``size`` (default: the chosen one)."""
        return self.edges[: self.chosen if size is None else size]

    def nodes(self, size: int | None = None) -> list[str]:
        """The components the circuit's edges touch (heads ``aL.H``, MLPs ``mL``)."""
        seen: dict[str, None] = {}
        for edge in self.circuit(size):
            up, _, down = edge.partition("->")
            for node in (up, down.split("<")[0]):
                if node not in (INPUT, LOGITS):
                    seen[node] = None
        return list(seen)

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per measured size: the metric and faithfulness."""
        import pandas as pd

        return pd.DataFrame({"size": self.sizes.tolist(), "value": self.values.tolist(),
                             "faithfulness": self.faithfulness.tolist()})  # fmt: skip


def size_grid(n_edges: int, points: int = 24) -> list[int]:
    """Sizes from 1 to ``n_edges``, spaced geometrically (every small size kept)."""
    if n_edges < 1:
        return []
    grid = torch.logspace(0, torch.log10(torch.tensor(float(n_edges))), points).round().long()
    return sorted({int(s) for s in grid.tolist()} | {n_edges})


def discover_circuit(
    model: Model,
    pairs: TaskPairs,
    scores: EdgeScores,
    *,
    sizes: Sequence[int] | None = None,
    target: float = 0.8,
    ablation: Ablation | str = Ablation.RESAMPLE,
    metric: Metric | str | None = None,
    progress: bool = True,
) -> CircuitDiscovery:
    """Faithfulness of the top-n edges of ``scores`` for each n in ``sizes`` (default: a grid).

    ``metric``: default the one ``scores`` were computed on.

    Raises:
        MechscopeError: scores from a model of another shape, or sizes out of range.
    """
    runner = EdgeRunner(model, pairs, metric or scores.metric, ablation)
    graph = runner.graph
    if tuple(scores.upstream) != graph.upstream or tuple(scores.downstream) != graph.downstream:
        raise MechscopeError("these edge scores were computed on a model of another shape; "
                             "score this model's edges first (edge_attribution).")  # fmt: skip
    ranked = [name for name, _ in scores.top(graph.n_edges)]
    grid = list(sizes) if sizes is not None else size_grid(len(ranked))
    if bad := [s for s in grid if not 0 <= s <= len(ranked)]:
        raise MechscopeError(f"circuit size {bad[0]} is outside 0..{len(ranked)} edges.")
    order = [graph.index(name) for name in ranked]
    keep = torch.zeros(len(grid) + 2, len(graph.upstream), len(graph.downstream),
                       dtype=torch.bool)  # fmt: skip
    keep[0] = graph.valid  # everything: the clean model
    for r, size in enumerate(grid, start=2):  # keep[1]: nothing
        for u, d in order[:size]:
            keep[r, u, d] = True
    values = runner.values(keep, progress)
    clean, nothing, measured = values[0], values[1], torch.tensor(values[2:])
    faithful = faithfulness(measured, clean, nothing)
    reached = [s for s, f in zip(grid, faithful.tolist(), strict=True) if f >= target]
    return CircuitDiscovery(
        ranked, torch.tensor(grid), measured, clean, nothing, target,
        min(reached) if reached else 0, runner.ablation.value, runner.metric.name, graph.n_edges,
        provenance=Provenance(config={"target": target, "ablation": runner.ablation.value,
                                      "scores": scores.method, "task": pairs.name},
                              model=model_spec(model)),
    )  # fmt: skip


@dataclass(frozen=True)
class AcdcResult(Result):
    """The circuit ACDC kept at threshold ``tau``, with its metric and faithfulness."""

    kind: ClassVar[str] = "acdc"
    edges: list[str]
    tau: float
    value: float
    clean_value: float
    ablated_value: float
    n_edges: int
    forward_passes: int
    ablation: str
    metric: str

    def _summary(self) -> dict[str, Any]:
        return {"kept": len(self.edges), "faithfulness": self.faithfulness}

    @property
    def faithfulness(self) -> float:
        """(M(circuit) - M(nothing)) / (M(full) - M(nothing))."""
        return float(faithfulness(torch.tensor(self.value), self.clean_value, self.ablated_value))

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per kept edge."""
        import pandas as pd

        return pd.DataFrame({"edge": self.edges})


def _consumer(graph: ComponentGraph, d: int) -> list[int]:
    """The upstream nodes whose output a downstream node feeds (a K/V input feeds its group)."""
    name = graph.downstream[d]
    if name == LOGITS:
        return []
    node, _, part = name.partition("<")
    if not part:  # an MLP input
        return [graph.upstream.index(node)]
    layer, head = (int(x) for x in node[1:].split("."))
    if part.startswith("q"):
        return [graph.upstream.index(node)]
    group = graph.n_heads // graph.n_kv_heads
    return [graph.upstream.index(f"a{layer}.{h}") for h in range(head * group, (head + 1) * group)]


def acdc(
    model: Model,
    pairs: TaskPairs,
    *,
    tau: float,
    metric: Metric | str = "logit-diff",
    ablation: Ablation | str = Ablation.RESAMPLE,
    progress: bool = True,
) -> AcdcResult:
    """ACDC: remove every edge whose ablation moves the metric by less than ``tau``.

    Downstream nodes are visited from the logits backwards, their incoming edges from the
    latest upstream node back; an edge is removed for good when the metric with it ablated
    (and every edge removed so far) is within ``tau`` of the current circuit's. The inputs of
    a component whose output no kept edge reads are removed without a test. One forward pass
    per edge tried: for small models.

    Raises:
        MechscopeError: tau < 0.
    """
    if tau < 0:
        raise MechscopeError(f"tau must be >= 0 (a change in the metric); got {tau}.")
    runner = EdgeRunner(model, pairs, metric, ablation)
    graph = runner.graph
    keep = graph.valid.clone()
    clean, nothing = runner.values(torch.stack([keep, torch.zeros_like(keep)]))
    current = clean
    tried = 0
    downstream = list(range(len(graph.downstream)))[::-1]
    for d in tqdm(downstream, desc="acdc", disable=not progress, leave=False):
        consumers = _consumer(graph, d)
        if consumers and not keep[consumers].any():  # nothing reads what this input feeds
            keep[:, d] = False
            continue
        for u in reversed(range(len(graph.upstream))):
            if not keep[u, d]:
                continue
            trial = keep.clone()
            trial[u, d] = False
            (value,) = runner.values(trial[None])
            tried += 1
            if abs(value - current) < tau:
                keep, current = trial, value
    edges = [graph.edge_name(u, d) for u, d in keep.nonzero().tolist()]
    return AcdcResult(edges, tau, current, clean, nothing, graph.n_edges, tried + 1,
                      runner.ablation.value, runner.metric.name,
                      provenance=Provenance(config={"tau": tau, "task": pairs.name},
                                            model=model_spec(model)))  # fmt: skip


@dataclass(frozen=True)
class EdgeEffects(Result):
    """The exact change of the metric when one edge alone is ablated, for chosen edges."""

    kind: ClassVar[str] = "edge-effects"
    edges: list[str]
    effects: Float[Tensor, " edge"]
    estimates: Float[Tensor, " edge"]
    """The same edges' attribution scores (NaN: not given)."""
    clean_value: float
    ablation: str
    metric: str

    def _summary(self) -> dict[str, Any]:
        return {"spearman": self.spearman(), "edges": len(self.edges)}

    def spearman(self) -> float:
        """Rank correlation of the scores with the exact effects."""
        ok = ~(self.estimates.isnan() | self.effects.isnan())
        return (
            _spearman(self.estimates[ok], self.effects[ok]) if int(ok.sum()) > 1 else float("nan")
        )

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per edge: exact effect and score."""
        import pandas as pd

        return pd.DataFrame({"edge": self.edges, "effect": self.effects.tolist(),
                             "score": self.estimates.tolist()})  # fmt: skip


def edge_effects(
    model: Model,
    pairs: TaskPairs,
    edges: Sequence[str],
    *,
    scores: EdgeScores | None = None,
    metric: Metric | str = "logit-diff",
    ablation: Ablation | str = Ablation.RESAMPLE,
    progress: bool = True,
) -> EdgeEffects:
    """M(every edge but one) - M(clean) for each of ``edges``, batched over edges.

    ``scores``: their attribution scores, kept beside for `EdgeEffects.spearman`.
    """
    runner = EdgeRunner(model, pairs, scores.metric if scores is not None else metric, ablation)
    graph = runner.graph
    indices = [graph.index(name) for name in edges]
    keep = graph.valid[None].repeat(len(indices) + 1, 1, 1)
    for r, (u, d) in enumerate(indices, start=1):
        keep[r, u, d] = False
    values = runner.values(keep, progress)
    clean = values[0]
    estimates = torch.full((len(indices),), float("nan"))
    if scores is not None:
        estimates = torch.tensor([float(scores.scores[u, d]) for u, d in indices])
    provenance = Provenance(config={"task": pairs.name}, model=model_spec(model))
    effects = torch.tensor(values[1:]) - clean
    return EdgeEffects(list(edges), effects, estimates, clean, runner.ablation.value,
                       runner.metric.name, provenance=provenance)  # fmt: skip
