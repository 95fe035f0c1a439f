"""Attribution graphs: the edges between a prompt's nodes, pruned, and checked in the real model.

Following Ameisen et al. 2025 ("Circuit Tracing") on the replacement model of `graphs`: the
nodes are the input embeddings, every active transcoder feature at each (layer, position),
the error nodes and the target (a logit, or a logit difference). Because the replacement
model is linear in its nodes, the edge from node ``s`` to node ``t`` is exactly
``value(s) x d pre(t) / d value(s)``, where ``pre(t)`` is the target's metric or a feature's
pre-activation (the encoder's reading of its MLP input): each row of the adjacency matrix is
one backward pass, and the rows of a batch of targets come from one batched backward pass
(the prompt repeated once per target). Each row adds up exactly to ``pre(t)`` minus its
value with every node at zero (tested).

**Which features get rows.** A graph has tens of thousands of active features; mechscope
explores them by influence, as circuit-tracer does: it starts from the target's row, and
repeatedly gives rows to the ``batch_size`` unexplored features of greatest *influence* on
the target (the sum over paths of products of row-normalised absolute edge weights), until
``max_features`` have rows. Features never explored are left out of the graph; their share
of the target shows in the scores below.

**Pruning.** Features are kept, largest influence first, until they hold ``node_threshold``
of the features' total influence; then edges, largest first by ``normalised weight x
influence of their target``, until they hold ``edge_threshold`` of the total; then nodes left
without a path to the target go.

**Scores** (circuit-tracer's definitions): the *replacement score* is the share of the
end-to-end influence on the target that starts at input tokens rather than error nodes; the
*completeness score* is the influence-weighted share of each node's incoming edges that do
not come from error nodes. Both are given for the explored graph and the pruned one.

**Checks in the real model** (`validate_graph`): ablate (or scale) one feature at a time
through the transcoder splice (the MLP's output loses ``activation x decoder row``; every
other part of the real model, attention patterns and the other MLPs included, recomputes)
and compare the change in the target with the graph's predictions: the direct effect alone,
and the total effect (every active feature downstream answering linearly through its
transcoder, error nodes, attention patterns and norm scales fixed: one more backward pass).
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from mechscope.circuits.graphs import Replacement
from mechscope.core.errors import MechscopeError
from mechscope.core.results import Provenance, Result
from mechscope.core.sites import Component, hook_name
from mechscope.features.transcoders import mlp_hooks
from mechscope.models.adapter import model_spec
from mechscope.models.tokens import str_tokens

if TYPE_CHECKING:
    import pandas as pd

TARGET = "target"
"""The target node's name."""


@dataclass(frozen=True)
class _Nodes:
    """Every candidate node of a replacement: features, error nodes, embeddings, target."""

    features: Tensor
    """(layer, pos, feature) of each active feature, by layer then position."""
    values: Float[Tensor, " node"]
    """Each node's value: a feature's activation, an error or embedding vector's norm."""
    n_layers: int
    n_pos: int

    @property
    def n_features(self) -> int:
        return len(self.features)

    @property
    def n(self) -> int:
        return self.n_features + (self.n_layers + 1) * self.n_pos + 1

    def error(self, layer: int, pos: int) -> int:
        return self.n_features + layer * self.n_pos + pos

    def embedding(self, pos: int) -> int:
        return self.n_features + self.n_layers * self.n_pos + pos

    @property
    def target(self) -> int:
        return self.n - 1

    def name(self, node: int) -> str:
        if node < self.n_features:
            layer, pos, feature = self.features[node].tolist()
            return f"f{layer}.{feature}@{pos}"
        if node == self.target:
            return TARGET
        rest = node - self.n_features
        if rest >= self.n_layers * self.n_pos:
            return f"emb@{rest - self.n_layers * self.n_pos}"
        return f"err{rest // self.n_pos}@{rest % self.n_pos}"

    def place(self, node: int) -> tuple[int, int]:
        """(layer, position) to draw ``node`` at: embeddings at -1, the target above the top."""
        if node < self.n_features:
            layer, pos, _ = self.features[node].tolist()
            return layer, pos
        if node == self.target:
            return self.n_layers, self.n_pos - 1
        rest = node - self.n_features
        if rest >= self.n_layers * self.n_pos:
            return -1, rest - self.n_layers * self.n_pos
        return rest // self.n_pos, rest % self.n_pos


def _nodes(replacement: Replacement) -> _Nodes:
    index, values = [], []
    for layer, acts in sorted(replacement.features.items()):
        active = acts.nonzero()
        index.append(torch.cat([torch.full((len(active), 1), layer), active], 1))
        values.append(acts[active[:, 0], active[:, 1]])
    features = torch.cat(index) if index else torch.zeros(0, 3, dtype=torch.long)
    n_layers, n_pos = replacement.model.cfg.n_layers, len(replacement.tokens)
    errors = torch.stack([replacement.errors[layer].norm(dim=-1) for layer in range(n_layers)])
    return _Nodes(features, torch.cat([*values, errors.flatten(),
                                       replacement.embeddings.norm(dim=-1), torch.ones(1)]),
                  n_layers, n_pos)  # fmt: skip


@dataclass(frozen=True)
class Target:
    """What the graph explains: logit ``token`` at ``position`` minus logit ``contrast``."""

    token: int
    contrast: int | None = None
    position: int = -1

    def of(self, logits: Float[Tensor, "batch pos d_vocab"]) -> Float[Tensor, " batch"]:
        """The target in each run of ``logits``."""
        value = logits[:, self.position, self.token]
        if self.contrast is not None:
            value = value - logits[:, self.position, self.contrast]
        return value


class _Rows:
    """Rows of the adjacency matrix of one replacement, by batched backward passes."""

    def __init__(self, replacement: Replacement, nodes: _Nodes, target: Target) -> None:
        self.replacement, self.nodes, self.target = replacement, nodes, target
        self.reads = {layer: mlp_hooks(replacement.model, layer)[0]
                      for layer in replacement.transcoders}  # fmt: skip
        self.backward_passes = 0

    def pre(self, rows: Sequence[int], logits: Tensor, seen: Mapping[str, Tensor]) -> Tensor:
        """Each row's target (the metric, or a feature's pre-activation), one per replica."""
        out = []
        for b, node in enumerate(rows):
            if node == self.nodes.target:
                out.append(self.target.of(logits[b : b + 1])[0])
                continue
            layer, pos, feature = self.nodes.features[node].tolist()
            transcoder = self.replacement.transcoders[layer]
            read = seen[self.reads[layer]][b, pos].to(transcoder.dtype)
            out.append(read @ transcoder.W_enc[:, feature] + transcoder.b_enc[feature])
        return torch.stack(out).float()

    @torch.no_grad()
    def bias(self, rows: Sequence[int]) -> Float[Tensor, " row"]:
        """Each row's target with every node at zero."""
        r = self.replacement
        zero = {k: torch.zeros_like(v)[None] for k, v in r.features.items()}
        errors = {k: torch.zeros_like(v)[None] for k, v in r.errors.items()}
        logits, seen = r.run(torch.zeros_like(r.embeddings)[None], zero, errors,
                             list(self.reads.values()))  # fmt: skip
        expand = {name: act.expand(len(rows), *act.shape[1:]) for name, act in seen.items()}
        return self.pre(rows, logits.expand(len(rows), *logits.shape[1:]), expand)

    def __call__(self, rows: Sequence[int]) -> tuple[Float[Tensor, "row node"], Tensor]:
        """The rows of ``rows`` (their edge weights from every node) and their targets."""
        r, nodes, batch = self.replacement, self.nodes, len(rows)
        embeddings = r.embeddings.expand(batch, -1, -1).clone().requires_grad_(True)
        features = {k: v.expand(batch, -1, -1).clone().requires_grad_(True)
                    for k, v in r.features.items()}  # fmt: skip
        errors = {k: v.expand(batch, -1, -1).clone().requires_grad_(True)
                  for k, v in r.errors.items()}  # fmt: skip
        with torch.enable_grad():
            logits, seen = r.run(embeddings, features, errors, list(self.reads.values()))
            pre = self.pre(rows, logits, seen)
            leaves = [embeddings, *features.values(), *errors.values()]
            grads = torch.autograd.grad(pre.sum(), leaves, allow_unused=True)
        self.backward_passes += 1
        pairs = zip(leaves, grads, strict=True)
        grads = [torch.zeros_like(leaf) if g is None else g for leaf, g in pairs]
        g_features = dict(zip(features, grads[1 : 1 + len(features)], strict=True))
        g_errors = dict(zip(errors, grads[1 + len(features) :], strict=True))
        out = torch.zeros(batch, nodes.n)
        index = nodes.features
        for layer, grad in g_features.items():
            at = (index[:, 0] == layer).nonzero()[:, 0]
            if len(at):
                out[:, at] = grad[:, index[at, 1], index[at, 2]] * nodes.values[at]
        for layer, grad in g_errors.items():
            start = nodes.error(layer, 0)
            out[:, start : start + nodes.n_pos] = (grad * r.errors[layer]).sum(-1)
        start = nodes.embedding(0)
        out[:, start : start + nodes.n_pos] = (grads[0] * r.embeddings).sum(-1)
        return out.detach(), pre.detach()


def _normalise(matrix: Tensor) -> Tensor:
    """Absolute weights, each row summing to 1 (rows of zeros stay zero)."""
    weights = matrix.abs()
    return weights / weights.sum(-1, keepdim=True).clamp_min(1e-30)


def _influence(normalised: Float[Tensor, "row node"], rows: Tensor, depth: int) -> Tensor:
    """Each node's influence on row 0 (the target): the sum over paths of products of weights.

    ``rows[i]`` is the node whose inputs ``normalised[i]`` holds; the graph is acyclic with at
    most ``depth`` steps.
    """
    influence = torch.zeros(normalised.shape[1])
    current = normalised[0]
    for _ in range(depth):
        influence += current
        current = current[rows[1:]] @ normalised[1:]
        if float(current.abs().sum()) < 1e-12:
            break
    return influence


def _recomputed(
    replacement: Replacement,
    embeddings: Tensor,
    errors: Mapping[int, Tensor],
    *,
    linear: bool,
    offsets: Mapping[int, Tensor] | None = None,
    scales: Mapping[int, Tensor] | None = None,
) -> Tensor:
    """The replacement model with its features recomputed from the stream (a batch of runs).

    Each transcoder's encoder reads its MLP input (attention patterns and norm scales stay
    frozen, error nodes as given); a feature active on the prompt passes its pre-activation
    on when ``linear`` (every other one stays at zero), or every feature goes through its
    ReLU when not. ``offsets[layer]`` is added to the features, ``scales[layer]`` multiplies
    them (both ``[batch, pos, feature]``). Returns the logits.
    """
    r = replacement
    reads = {layer: mlp_hooks(r.model, layer)[0] for layer in r.transcoders}

    def features_at(layer: int, seen: dict[str, Tensor]) -> Tensor:
        transcoder = r.transcoders[layer]
        pre = seen[reads[layer]].to(transcoder.dtype) @ transcoder.W_enc + transcoder.b_enc
        if linear:
            features = pre * (r.features[layer] > 0)
        else:
            features = torch.relu(pre)
            if r.bos_zeroed:
                features = torch.cat([torch.zeros_like(features[:, :1]), features[:, 1:]], 1)
        if scales is not None and layer in scales:
            features = features * scales[layer]
        if offsets is not None:
            features = features + offsets[layer]
        return features

    return r.run_with(embeddings, errors, features_at, list(reads.values()))[0]


def _total_effects(replacement: Replacement, nodes: _Nodes, target: Target) -> Tensor:
    """Each node's total effect on the target (one backward pass).

    What zeroing the node changes in the replacement model when every active feature
    downstream answers linearly (`_recomputed` with ``linear``; a zero offset on each feature
    carries the gradient; at zero offsets the run is the replacement model itself).
    """
    r = replacement
    embeddings = r.embeddings[None].clone().requires_grad_(True)
    errors = {k: v[None].clone().requires_grad_(True) for k, v in r.errors.items()}
    offsets = {k: torch.zeros_like(v)[None].requires_grad_(True) for k, v in r.features.items()}
    with torch.enable_grad():
        value = target.of(_recomputed(r, embeddings, errors, linear=True, offsets=offsets))[0]
        grads = torch.autograd.grad(value, [embeddings, *offsets.values(), *errors.values()],
                                    allow_unused=True)  # fmt: skip
    g_offsets = dict(zip(offsets, grads[1 : 1 + len(offsets)], strict=True))
    g_errors = dict(zip(errors, grads[1 + len(offsets) :], strict=True))
    total = torch.zeros(nodes.n)
    index = nodes.features
    for layer, grad in g_offsets.items():
        at = (index[:, 0] == layer).nonzero()[:, 0]
        if grad is not None and len(at):
            total[at] = grad[0, index[at, 1], index[at, 2]].detach() * nodes.values[at]
    for layer, grad in g_errors.items():
        if grad is not None:
            start = nodes.error(layer, 0)
            total[start : start + nodes.n_pos] = (grad[0] * r.errors[layer]).sum(-1).detach()
    if grads[0] is not None:
        start = nodes.embedding(0)
        total[start : start + nodes.n_pos] = (grads[0][0] * r.embeddings).sum(-1).detach()
    return total


def _cumulative_keep(scores: Tensor, share: float) -> Tensor:
    """True at the largest ``scores`` that together reach ``share`` of their total."""
    order = scores.argsort(descending=True)
    cumulative = scores[order].cumsum(0)
    total = float(cumulative[-1]) if len(cumulative) else 0.0
    keep = torch.zeros_like(scores, dtype=torch.bool)
    if total <= 0:
        return keep
    n = int((cumulative < share * total).sum()) + 1
    keep[order[: min(n, len(order))]] = True
    return keep & (scores > 0)


def _scores(matrix: Tensor, rows: Tensor, nodes: _Nodes, depth: int) -> tuple[float, float]:
    """(replacement score, completeness score) of the graph with these rows."""
    normalised = _normalise(matrix)
    influence = _influence(normalised, rows, depth)
    errors = slice(nodes.error(0, 0), nodes.embedding(0))
    tokens = slice(nodes.embedding(0), nodes.target)
    from_tokens, from_errors = float(influence[tokens].sum()), float(influence[errors].sum())
    replacement = from_tokens / (from_tokens + from_errors) if from_tokens + from_errors else 0.0
    non_error = 1 - normalised[:, errors].sum(-1)
    weight = influence[rows].clone()
    weight[0] += 1.0  # the target itself
    completeness = float((non_error * weight).sum() / weight.sum())
    return replacement, completeness


@dataclass(frozen=True)
class AttributionGraph(Result):
    """A prompt's pruned attribution graph: its nodes, their edges and how complete it is."""

    kind: ClassVar[str] = "attribution-graph"
    tokens: list[str]
    target: str
    """The target's description: ``logit(' Paris')`` or ``logit(' Mary') - logit(' John')``."""
    value: float
    """The target in the real model (and in the replacement model: they are equal)."""
    nodes: list[str]
    """Kept nodes: ``fLAYER.FEATURE@POS``, ``errLAYER@POS``, ``emb@POS`` and ``target``."""
    layer: Int[Tensor, " node"]
    """Each node's layer (embeddings -1, the target n_layers)."""
    pos: Int[Tensor, " node"]
    activation: Float[Tensor, " node"]
    """A feature's activation; an error or embedding vector's norm; the target's value."""
    influence: Float[Tensor, " node"]
    """Influence on the target in the explored graph (normalised weights, all paths)."""
    direct: Float[Tensor, " node"]
    """Exact direct effect on the target."""
    total: Float[Tensor, " node"]
    """Total effect on the target (signed): what zeroing the node changes in the replacement
    model with every active feature downstream answering linearly, explored or not."""
    adjacency: Float[Tensor, "row col"]
    """Kept edges' weights, ``adjacency[t, s]``: node s's contribution to node t's
    pre-activation (0 where the edge was pruned)."""
    n_active: int
    """Active features in the prompt."""
    n_explored: int
    """Features given rows (their inputs computed)."""
    scores: dict[str, float] = field(default_factory=dict)
    """``replacement`` and ``completeness`` of the explored graph and of the pruned one."""
    groups: dict[str, list[str]] = field(default_factory=dict)
    """Supernodes: each group's name and the nodes merged into it."""
    labels: list[str] = field(default_factory=list)
    """Each node in words: the tokens a feature's decoder promotes most through the
    unembedding, an embedding's token, the target's description."""

    def _summary(self) -> dict[str, Any]:
        features = [n for n in self.nodes if n.startswith("f")]
        return {"target": self.target, "value": self.value, "nodes": len(self.nodes),
                "features": len(features), "edges": int((self.adjacency != 0).sum()),
                "n_active": self.n_active, "n_explored": self.n_explored, **self.scores,
                "top": self.top(8)}  # fmt: skip

    def top(self, n: int, prefix: str = "f") -> list[tuple[str, float]]:
        """The ``n`` nodes (names starting with ``prefix``) of greatest influence."""
        chosen = [i for i, name in enumerate(self.nodes) if name.startswith(prefix)]
        chosen.sort(key=lambda i: -float(self.influence[i]))
        return [(self.nodes[i], float(self.influence[i])) for i in chosen[:n]]

    def edges(self) -> Iterator[tuple[str, str, float]]:
        """Every kept edge as (source, target, weight)."""
        for t, s in self.adjacency.nonzero().tolist():
            yield self.nodes[s], self.nodes[t], float(self.adjacency[t, s])

    def strongest_path(self, source: str) -> tuple[list[str], float]:
        """The path from ``source`` to the target of greatest weight, and that weight.

        A path's weight is the product of its edges' shares of their targets' inputs (the
        row-normalised absolute weights).

        Raises:
            MechscopeError: a node not in the graph.
        """
        if source not in self.nodes:
            raise MechscopeError(f"{source!r} is not a node of this graph (see graph.nodes).")
        weights = self.adjacency.abs()
        weights = weights / weights.sum(-1, keepdim=True).clamp_min(1e-30)
        n = len(self.nodes)
        best = torch.zeros(n)
        step = torch.full((n,), -1, dtype=torch.long)
        best[n - 1] = 1.0  # the target
        for node in sorted(range(n - 1), key=lambda i: -int(self.layer[i])):
            through = weights[:, node] * best
            if float(through.max()) > 0:
                best[node], step[node] = through.max(), through.argmax()
        path, node = [source], self.nodes.index(source)
        while node != n - 1 and int(step[node]) >= 0:
            node = int(step[node])
            path.append(self.nodes[node])
        return path, float(best[self.nodes.index(source)])

    def group(self, supernodes: Mapping[str, Sequence[str]]) -> "AttributionGraph":
        """The graph with each group of nodes merged into one supernode (edges summed).

        A supernode sits at its members' mean layer and position; its activation, influence
        and effects are their sums.

        Raises:
            MechscopeError: a node not in the graph, or in two groups.
        """
        index = {name: i for i, name in enumerate(self.nodes)}
        owner: dict[int, str] = {}
        for group, members in supernodes.items():
            for member in members:
                if member not in index:
                    raise MechscopeError(f"supernode {group!r}: {member!r} is not a node of "
                                         "this graph (see graph.nodes).")  # fmt: skip
                if index[member] in owner:
                    raise MechscopeError(f"{member!r} is in two supernodes.")
                owner[index[member]] = group
        names = [name for i, name in enumerate(self.nodes) if i not in owner and name != TARGET]
        names += [g for g in supernodes if supernodes[g]] + [TARGET]  # the target stays last
        new = {name: i for i, name in enumerate(names)}
        assign = torch.tensor([new[owner.get(i, name)] for i, name in enumerate(self.nodes)])
        merge = torch.zeros(len(names), len(self.nodes))
        merge[assign, torch.arange(len(self.nodes))] = 1.0
        counts = merge.sum(1)

        def mean(values: Tensor) -> Tensor:
            return (merge @ values.float() / counts).round().long()

        adjacency = merge @ self.adjacency @ merge.T
        adjacency.fill_diagonal_(0.0)
        return AttributionGraph(
            self.tokens, self.target, self.value, names, mean(self.layer), mean(self.pos),
            merge @ self.activation, merge @ self.influence, merge @ self.direct,
            merge @ self.total, adjacency, self.n_active, self.n_explored, dict(self.scores),
            {**self.groups, **{g: list(m) for g, m in supernodes.items()}},
            [n if n in supernodes else self.labels[index[n]] for n in names] if self.labels else [],
            provenance=self.provenance,
        )  # fmt: skip

    def to_dataframe(self) -> "pd.DataFrame":
        """One row per node: name, layer, position, activation, influence, effects."""
        import pandas as pd

        names = ("layer", "pos", "activation", "influence", "direct", "total")
        columns = {name: getattr(self, name).tolist() for name in names}
        return pd.DataFrame({"node": self.nodes, **columns})


def target_name(model: Any, target: Target) -> str:  # noqa: ANN401 - a model
    """``logit('tok')`` or ``logit('a') - logit('b')``."""
    name = f"logit({str_tokens(model, [target.token])[0]!r})"
    if target.contrast is not None:
        name += f" - logit({str_tokens(model, [target.contrast])[0]!r})"
    return name


def attribution_graph(
    replacement: Replacement,
    target: Target,
    *,
    max_features: int = 256,
    batch_size: int = 32,
    node_threshold: float = 0.8,
    edge_threshold: float = 0.98,
    progress: bool = True,
) -> AttributionGraph:
    """The pruned attribution graph of ``target`` in ``replacement`` (module docstring).

    ``max_features``: features given rows, explored by influence ``batch_size`` at a time
    (each batch is one forward and one backward pass of the prompt repeated ``batch_size``
    times).

    Raises:
        MechscopeError: thresholds outside (0, 1], or sizes below 1.
    """
    if not (0 < node_threshold <= 1 and 0 < edge_threshold <= 1):
        raise MechscopeError("--node-threshold and --edge-threshold are shares in (0, 1].")
    if max_features < 0 or batch_size < 1:
        raise MechscopeError("--max-features must be at least 0 and --batch-size at least 1.")
    nodes = _nodes(replacement)
    rows_of = _Rows(replacement, nodes, target)
    depth = nodes.n_layers + 2
    row_nodes = [nodes.target]
    first, value = rows_of([nodes.target])
    matrix = [first]
    explored = torch.zeros(nodes.n, dtype=torch.bool)
    limit = min(max_features, nodes.n_features)
    with tqdm(total=limit, desc="attribution graph rows", disable=not progress) as bar:
        while int(explored.sum()) < limit:
            influence = _influence(_normalise(torch.cat(matrix)), torch.tensor(row_nodes), depth)
            candidates = influence[: nodes.n_features].clone()
            candidates[explored[: nodes.n_features]] = 0
            take = min(batch_size, limit - int(explored.sum()), int((candidates > 0).sum()))
            if take == 0:
                break
            chosen = candidates.argsort(descending=True)[:take].tolist()
            rows, _ = rows_of(chosen)
            matrix.append(rows)
            row_nodes += chosen
            explored[chosen] = True
            bar.update(take)
    full = torch.cat(matrix)
    rows = torch.tensor(row_nodes)
    # Unexplored features leave the graph: their columns are dropped.
    keep_columns = torch.ones(nodes.n, dtype=torch.bool)
    keep_columns[: nodes.n_features] = explored[: nodes.n_features]
    full = full * keep_columns
    explored_scores = _scores(full, rows, nodes, depth)
    normalised = _normalise(full)
    influence = _influence(normalised, rows, depth)
    total = _total_effects(replacement, nodes, target)
    # Prune nodes: features by influence; every other node stays for now.
    keep = torch.ones(nodes.n, dtype=torch.bool)
    keep[: nodes.n_features] = _cumulative_keep(influence[: nodes.n_features] *
                                                explored[: nodes.n_features],
                                                node_threshold)  # fmt: skip
    kept_rows = keep[rows]
    pruned = full[kept_rows] * keep
    rows_kept = rows[kept_rows]
    # Prune edges by normalised weight x the influence of their target.
    normalised = _normalise(pruned)
    target_weight = _influence(normalised, rows_kept, depth)[rows_kept]
    target_weight[0] += 1.0
    edge_scores = normalised * target_weight[:, None]
    edges = _cumulative_keep(edge_scores.flatten(), edge_threshold).view_as(edge_scores)
    pruned = pruned * edges
    # Drop nodes with no path to the target.
    reaches = torch.zeros(nodes.n, dtype=torch.bool)
    reaches[nodes.target] = True
    for _ in range(depth):
        grown = reaches.clone()
        grown |= (pruned[reaches[rows_kept]] != 0).any(0)
        if torch.equal(grown, reaches):
            break
        reaches = grown
    keep &= reaches
    pruned_scores = _scores(pruned * keep, rows_kept, nodes, depth)
    order = [int(i) for i in keep.nonzero()[:, 0]]
    position = {node: i for i, node in enumerate(order)}
    adjacency = torch.zeros(len(order), len(order))
    for r, node in enumerate(rows_kept.tolist()):
        if node in position:
            adjacency[position[node]] = pruned[r, order]
    places = torch.tensor([nodes.place(i) for i in order])
    labels = _labels(replacement, nodes, order, target)
    activation = nodes.values[order].clone()
    activation[-1] = float(value[0])
    model = replacement.model
    return AttributionGraph(
        str_tokens(model, replacement.tokens.tolist()), target_name(model, target),
        float(value[0]), [nodes.name(i) for i in order], places[:, 0], places[:, 1],
        activation, influence[order], first[0, order], total[order], adjacency,
        nodes.n_features, int(explored.sum()),
        {"replacement_explored": explored_scores[0], "completeness_explored": explored_scores[1],
         "replacement_pruned": pruned_scores[0], "completeness_pruned": pruned_scores[1]},
        {}, labels,
        provenance=Provenance(config={"target": target.token, "contrast": target.contrast,
                                      "position": target.position,
                                      "max_features": max_features, "batch_size": batch_size,
                                      "node_threshold": node_threshold,
                                      "edge_threshold": edge_threshold,
                                      "transcoders": sorted(replacement.transcoders),
                                      "backward_passes": rows_of.backward_passes},
                              model=model_spec(model)),
    )  # fmt: skip


@torch.no_grad()
def _labels(replacement: Replacement, nodes: _Nodes, order: Sequence[int], target: Target,
            n: int = 3) -> list[str]:  # fmt: skip
    """Each node in words (`AttributionGraph.labels`)."""
    model = replacement.model
    tokens = str_tokens(model, replacement.tokens.tolist())
    labels = []
    for node in order:
        if node == nodes.target:
            labels.append(target_name(model, target))
        elif node < nodes.n_features:
            layer, _, feature = nodes.features[node].tolist()
            direction = replacement.transcoders[layer].W_dec[feature].float()
            promoted = (direction @ model.W_U.float()).topk(n).indices.tolist()
            labels.append("promotes " + ", ".join(repr(t) for t in str_tokens(model, promoted)))
        elif node >= nodes.embedding(0):
            labels.append(repr(tokens[node - nodes.embedding(0)]))
        else:
            labels.append("")
    return labels


@dataclass(frozen=True)
class GraphValidation(Result):
    """A graph's features intervened on in the real model, against the graph's predictions."""

    kind: ClassVar[str] = "graph-validation"
    target: str
    scale: float
    """Each feature was set to ``scale`` x its activation (0: ablated)."""
    features: list[str]
    measured: Float[Tensor, " feature"]
    """Change in the target in the real model (spliced transcoder, error term kept)."""
    predicted_total: Float[Tensor, " feature"]
    """The graph's prediction: ``(scale - 1) x`` the node's total effect."""
    predicted_direct: Float[Tensor, " feature"]
    """The direct effect alone, ``(scale - 1) x`` direct effect."""

    def correlation(self, prediction: str = "total") -> float:
        """Pearson correlation of measured and predicted changes (``total`` or ``direct``)."""
        predicted = self.predicted_total if prediction == "total" else self.predicted_direct
        return _pearson(self.measured, predicted)

    def _summary(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "n": len(self.features),
            "r_total": self.correlation("total"),
            "r_direct": self.correlation("direct"),
        }

    def to_dataframe(self) -> "pd.DataFrame":
        """One row per feature: measured and predicted changes."""
        import pandas as pd

        return pd.DataFrame({"feature": self.features, "measured": self.measured.tolist(),
                             "predicted_total": self.predicted_total.tolist(),
                             "predicted_direct": self.predicted_direct.tolist()})  # fmt: skip


def _pearson(a: Tensor, b: Tensor) -> float:
    a, b = a.double() - a.double().mean(), b.double() - b.double().mean()
    denominator = float(a.norm() * b.norm())
    return float(a @ b) / denominator if denominator else float("nan")


def parse_feature(name: str) -> tuple[int, int, int]:
    """(layer, feature, position) of ``fLAYER.FEATURE@POS``.

    Raises:
        MechscopeError: another kind of name.
    """
    try:
        head, pos = name[1:].split("@")
        layer, feature = head.split(".")
        assert name.startswith("f")
        return int(layer), int(feature), int(pos)
    except (ValueError, AssertionError):
        raise MechscopeError(f"{name!r} is not a feature node (fLAYER.FEATURE@POS).") from None


def _shift(delta: Tensor) -> Any:  # noqa: ANN401 - a hook
    """A hook adding ``delta`` to its activation."""

    def hook(act: Tensor, hook: Any) -> Tensor:  # noqa: ANN401, ARG001
        return act + delta.to(act.dtype)

    return hook


def _hold(value: Tensor) -> Any:  # noqa: ANN401 - a hook
    """A hook replacing its activation with ``value`` (batch 1), repeated over the batch."""

    def hook(act: Tensor, hook: Any) -> Tensor:  # noqa: ANN401, ARG001
        return value.expand(act.shape[0], *value.shape[1:]).to(act.dtype)

    return hook


def _replacement_ablations(replacement: Replacement, names: Sequence[str], scale: float,
                           target: Target) -> Tensor:  # fmt: skip
    """The target with each feature of ``names`` (one per run) scaled in the replacement."""
    r = replacement
    scales = {k: torch.ones(len(names), *v.shape) for k, v in r.features.items()}
    for b, name in enumerate(names):
        layer, feature, pos = parse_feature(name)
        scales[layer][b, pos, feature] = scale
    batch = len(names)
    embeddings = r.embeddings[None].expand(batch, -1, -1)
    errors = {k: v[None].expand(batch, -1, -1) for k, v in r.errors.items()}
    return target.of(_recomputed(r, embeddings, errors, linear=False, scales=scales))


@torch.no_grad()
def validate_graph(
    replacement: Replacement,
    graph: AttributionGraph,
    target: Target,
    *,
    n_features: int = 20,
    scale: float = 0.0,
    batch_size: int = 16,
    freeze_attention: bool = False,
    by: str = "influence",
    against: str = "model",
) -> GraphValidation:
    """Intervene on the graph's ``n_features`` top features in the real model.

    ``by``: which features are top, ``influence`` (on the target, through every path) or
    ``total`` (the largest |total effect|, the graph's largest predicted changes).
    ``against="replacement"``: intervene in the replacement model instead (attention
    patterns, norm scales and error nodes frozen, every feature recomputed through its
    encoder and ReLU), where only features switching on or off separate the measurement from
    the graph's total effect; the gap between the two checks is the replacement's.

    Each feature, alone, is set to ``scale`` x its activation at its (layer, position): the
    MLP's output there changes by ``(scale - 1) x activation x decoder row`` and the rest of
    the real model runs as usual. The measured change in the target is compared with the
    graph's predictions (`GraphValidation`). ``freeze_attention``: hold every attention
    pattern at its clean value (as the graph does), so that the MLPs' nonlinearity and the
    normalisations are what separates the measurement from the prediction. (Holding the
    normalisation scales too, with real MLPs downstream, overflows on SmolLM2: its first
    position carries outlier activations that the frozen scale no longer tames.)
    """
    model = replacement.model
    index = {name: i for i, name in enumerate(graph.nodes)}
    if by == "influence":
        chosen = [name for name, _ in graph.top(n_features)]
    elif by == "total":
        features = [name for name in graph.nodes if name.startswith("f")]
        features.sort(key=lambda name: -abs(float(graph.total[index[name]])))
        chosen = features[:n_features]
    else:
        raise MechscopeError(f"features are ranked by influence or total, not {by!r}.")
    if against not in ("model", "replacement"):
        raise MechscopeError(f"validate against the model or the replacement, not {against!r}.")
    tokens = replacement.tokens[None]
    clean = float(target.of(model(tokens))[0])
    measured = []
    for start in range(0, len(chosen), batch_size):
        part = chosen[start : start + batch_size]
        if against == "replacement":
            measured.append(_replacement_ablations(replacement, part, scale, target) - clean)
            continue
        deltas: dict[int, Tensor] = {}
        for b, name in enumerate(part):
            layer, feature, pos = parse_feature(name)
            transcoder = replacement.transcoders[layer]
            value = replacement.features[layer][pos, feature]
            row = transcoder.W_dec[feature].float() * value * (scale - 1)
            deltas.setdefault(layer, torch.zeros(len(part), *replacement.embeddings.shape))
            deltas[layer][b, pos] += row

        hooks = [(hook_name(Component.MLP_OUT, layer), _shift(delta))
                 for layer, delta in deltas.items()]  # fmt: skip
        if freeze_attention:
            hooks += [(name, _hold(value)) for name, value in replacement.frozen.items()
                      if name.endswith(Component.PATTERN.value)]  # fmt: skip
        with model.hooks(fwd_hooks=hooks):  # pyright: ignore[reportArgumentType]
            logits = model(tokens.expand(len(part), -1))
        measured.append(target.of(logits) - clean)
    picked = [index[name] for name in chosen]
    return GraphValidation(
        graph.target, scale, chosen, torch.cat(measured) if measured else torch.zeros(0),
        graph.total[picked] * (scale - 1), graph.direct[picked] * (scale - 1),
        provenance=Provenance(config={"n_features": n_features, "scale": scale, "by": by,
                                      "freeze_attention": freeze_attention,
                                      "against": against},
                              model=model_spec(model)),
    )  # fmt: skip
