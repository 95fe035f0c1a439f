"""The model as a graph of components, and every edge's attribution score (EAP, EAP-IG).

Nodes (Syed et al. 2023; Hanna et al. 2024). *Upstream* nodes write into the residual
stream: the input (the stream entering block 0: the embeddings), every attention head's
output (``z @ W_O`` of that head; the attention bias is a constant and belongs to no node)
and every MLP's output. *Downstream* nodes read from it: every head's query, key and value
input (grouped-query models: one key and one value input per key/value head), every MLP's
input and the logits (the stream after the last block). An edge runs from an upstream node
to every downstream node after it: heads of layer l read the input and layers < l; an MLP of
layer l also reads the heads of its own layer (not in parallel-attention blocks); the logits
read everything.

With TransformerLens's per-head Q/K/V input hooks and the MLP input hook switched on, the
stream each downstream node reads is a copy of its own, so the gradient of a metric with
respect to it is that node's alone (its LayerNorm included). The score of edge (u, v):

    EAP(u, v) = sum over prompts and positions of (a_u(corrupted) - a_u(clean)) . dM/dx_v

with the gradient taken on the clean run: the first-order change of the metric when the
edge carries the corrupted activation instead (one clean pass with gradients and one
corrupted pass without, for every edge at once). EAP-IG (Hanna et al. 2024, "inputs"
variant) averages the gradient over ``steps`` runs whose input stream is interpolated from
the corrupted to the clean one (alpha = k / steps, k = 1..steps; one step is EAP).

`edge_forward` runs the model with any set of edges ablated: the stream a downstream node
reads is the clean stream minus, for every ablated incoming edge, the upstream node's
current output plus its ablated output (the corrupted run's, or its mean over the
corrupted prompts). Circuits, faithfulness and ACDC are built on it
(`mechscope.circuits.discovery`).
"""

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

import torch
from jaxtyping import Bool, Float
from torch import Tensor
from transformer_lens.hook_points import HookPoint

from mechscope.core.errors import MechscopeError
from mechscope.core.metrics import Metric, scalar
from mechscope.core.results import Provenance, Result
from mechscope.core.sites import Component, hook_name
from mechscope.interventions import TaskPairs
from mechscope.models.adapter import adapt, model_spec
from mechscope.models.base import Decoder, Model
from mechscope.models.run import keep_for_gradient, keyed_hooks

INPUT = "input"
LOGITS = "logits"


class EdgeMethod(Enum):
    """How edge scores are computed."""

    EAP = "eap"
    """Edge attribution patching: the gradient on the clean run."""
    EAP_IG = "eap-ig"
    """Integrated gradients over inputs interpolated from corrupted to clean."""


class Ablation(Enum):
    """What an ablated edge carries instead of the clean activation."""

    RESAMPLE = "resample"
    """The upstream node's output on the corrupted prompt (the pair's other side)."""
    MEAN = "mean"
    """Its output averaged over the corrupted prompts, position by position."""


@dataclass(frozen=True)
class ComponentGraph:
    """The upstream and downstream nodes of a decoder and which edges exist."""

    upstream: tuple[str, ...]
    downstream: tuple[str, ...]
    valid: Bool[Tensor, "upstream downstream"]
    """True where an edge exists (the upstream node runs before the downstream one)."""
    n_layers: int
    n_heads: int
    n_kv_heads: int
    has_mlp: bool

    @classmethod
    def of(cls, model: Model) -> "ComponentGraph":
        """The graph of ``model``.

        Raises:
            MechscopeError: an encoder (its stream runs both ways; edges need a decoder).
        """
        decoder = adapt(model).decoder("edge attribution (it needs a decoder's logits)")
        cfg = decoder.cfg
        n_kv = cfg.n_key_value_heads or cfg.n_heads
        has_mlp = not cfg.attn_only
        parallel = bool(cfg.parallel_attn_mlp)
        upstream, up_stage = [INPUT], [(-1, 0)]
        downstream, down_stage = [], []
        for layer in range(cfg.n_layers):
            for h in range(cfg.n_heads):
                upstream.append(f"a{layer}.{h}")
                up_stage.append((layer, 0))
            if has_mlp:
                upstream.append(f"m{layer}")
                up_stage.append((layer, 1))
            for part, count in (("q", cfg.n_heads), ("k", n_kv), ("v", n_kv)):
                for h in range(count):
                    downstream.append(f"a{layer}.{h}<{part}>")
                    down_stage.append((layer, 0))
            if has_mlp:
                downstream.append(f"m{layer}")
                down_stage.append((layer, 0 if parallel else 1))
        downstream.append(LOGITS)
        down_stage.append((cfg.n_layers, 0))
        valid = torch.tensor([[u < d for d in down_stage] for u in up_stage])
        return cls(tuple(upstream), tuple(downstream), valid, cfg.n_layers, cfg.n_heads, n_kv,
                   has_mlp)  # fmt: skip

    @property
    def n_edges(self) -> int:
        """How many edges the graph has."""
        return int(self.valid.sum())

    def layer_up(self, layer: int) -> tuple[slice, int | None]:
        """The upstream indices of layer ``layer``'s heads, and of its MLP (None: none)."""
        per_layer = self.n_heads + int(self.has_mlp)
        start = 1 + layer * per_layer
        return slice(start, start + self.n_heads), (start + self.n_heads) if self.has_mlp else None

    def layer_down(self, layer: int) -> dict[str, slice]:
        """The downstream indices of layer ``layer``'s q, k, v and MLP inputs."""
        per_layer = self.n_heads + 2 * self.n_kv_heads + int(self.has_mlp)
        start = layer * per_layer
        q = slice(start, start + self.n_heads)
        k = slice(q.stop, q.stop + self.n_kv_heads)
        v = slice(k.stop, k.stop + self.n_kv_heads)
        out = {"q": q, "k": k, "v": v}
        if self.has_mlp:
            out["mlp"] = slice(v.stop, v.stop + 1)
        return out

    def edge_name(self, u: int, d: int) -> str:
        """``upstream->downstream``, e.g. ``a0.1->a1.4<k>``."""
        return f"{self.upstream[u]}->{self.downstream[d]}"

    def index(self, edge: str) -> tuple[int, int]:
        """The (upstream, downstream) indices of an edge name.

        Raises:
            MechscopeError: no such edge.
        """
        up, _, down = edge.partition("->")
        if up not in self.upstream or down not in self.downstream:
            raise MechscopeError(f"no edge {edge!r}; edges read like 'a0.1->a1.4<k>', "
                                 "'m0->logits' or 'input->a0.0<q>'.")  # fmt: skip
        u, d = self.upstream.index(up), self.downstream.index(down)
        if not self.valid[u, d]:
            raise MechscopeError(f"{up} runs after {down}: there is no edge {edge!r}.")
        return u, d


@contextmanager
def edge_hooks_on(model: Decoder) -> Iterator[Decoder]:
    """Per-head Q/K/V input hooks and the MLP input hook on; as they were on every exit."""
    split, mlp_in = model.cfg.use_split_qkv_input, model.cfg.use_hook_mlp_in
    # the setters, not the config flags: the Bridge forks its inputs only through them
    has_mlp = not model.cfg.attn_only  # (TransformerLens refuses hook_mlp_in without MLPs)
    model.set_use_split_qkv_input(True)
    if has_mlp:
        model.set_use_hook_mlp_in(True)
    try:
        yield model
    finally:
        model.set_use_split_qkv_input(split)
        if has_mlp:
            model.set_use_hook_mlp_in(mlp_in)


def _head_outputs(model: Decoder, z: Tensor, layer: int) -> Tensor:
    """Each head's output ``z @ W_O`` (``batch pos head d_model``)."""
    return torch.einsum("bphe,hed->bphd", z, model.blocks[layer].attn.W_O)


def _upstream_writes(model: Decoder, graph: ComponentGraph) -> list[tuple[str, Callable]]:
    """(hook name, fn(act) -> ``nodes batch pos d_model``) per writer, in forward order."""

    def one(act: Tensor) -> Tensor:
        return act[None]

    def heads(layer: int) -> Callable:
        return lambda act: _head_outputs(model, act, layer).movedim(2, 0)

    writers: list[tuple[str, Callable]] = [(hook_name(Component.RESID_PRE, 0), one)]
    for layer in range(graph.n_layers):
        writers.append((hook_name(Component.Z, layer), heads(layer)))
        if graph.has_mlp:
            writers.append((hook_name(Component.MLP_OUT, layer), one))
    return writers


def _writer_hooks(
    model: Decoder, graph: ComponentGraph, out: Tensor, sign: float = 1.0
) -> list[tuple[str, Callable]]:
    """Hooks that add ``sign`` times every upstream node's output to ``out`` as the pass runs.

    On zeros with ``sign`` 1 they store the outputs; with -1 they subtract them from what an
    ablated edge carries (`edge_forward`).
    """

    def writer(fn: Callable, where: slice) -> Callable:
        def hook(act: Tensor, hook: HookPoint) -> None:  # noqa: ARG001
            out[where] += sign * fn(act).to(out.dtype)

        return hook

    writes = zip(_upstream_writes(model, graph), _writer_slices(graph), strict=True)
    return [(name, writer(fn, where)) for (name, fn), where in writes]


def _writer_slices(graph: ComponentGraph) -> list[slice]:
    slices = [slice(0, 1)]
    for layer in range(graph.n_layers):
        heads, mlp = graph.layer_up(layer)
        slices.append(heads)
        if mlp is not None:
            slices.append(slice(mlp, mlp + 1))
    return slices


def _readers(graph: ComponentGraph) -> list[tuple[str, slice, bool]]:
    """(hook name, downstream slice, per-head input) per reader, in forward order."""
    readers = []
    for layer in range(graph.n_layers):
        down = graph.layer_down(layer)
        readers += [(hook_name(Component.Q_INPUT, layer), down["q"], True),
                    (hook_name(Component.K_INPUT, layer), down["k"], True),
                    (hook_name(Component.V_INPUT, layer), down["v"], True)]  # fmt: skip
        if "mlp" in down:
            readers.append((hook_name(Component.MLP_IN, layer), down["mlp"], False))
    n = len(graph.downstream)
    readers.append((hook_name(Component.RESID_POST, graph.n_layers - 1), slice(n - 1, n), False))
    return readers


@torch.no_grad()
def upstream_activations(
    model: Decoder,
    graph: ComponentGraph,
    tokens: Tensor,
    kwargs: dict[str, Any],
    metric: Metric | None = None,
) -> tuple[Float[Tensor, "upstream batch pos d_model"], float]:
    """Every upstream node's output on one batch, and ``metric`` on its logits (NaN: none).

    Without a metric the pass stops at the final residual (no unembedding).
    """
    out = torch.zeros(len(graph.upstream), *tokens.shape, model.cfg.d_model,
                      device=tokens.device)  # fmt: skip
    with model.hooks(fwd_hooks=_writer_hooks(model, graph, out)):  # pyright: ignore[reportArgumentType]
        if metric is None:
            model(tokens, return_type=None, stop_at_layer=model.cfg.n_layers, **kwargs)
            return out, float("nan")
        return out, scalar(metric(model(tokens, **kwargs)))


@dataclass(frozen=True)
class EdgeScores(Result):
    """Every edge's attribution score for one task and metric."""

    kind: ClassVar[str] = "edge-scores"
    upstream: list[str]
    downstream: list[str]
    scores: Float[Tensor, "upstream downstream"]
    """Estimated change of the metric when the edge carries the corrupted activation (NaN: no
    such edge)."""
    method: str
    metric: str
    clean_value: float
    corrupted_value: float
    n_prompts: int
    steps: int = 1

    def _summary(self) -> dict[str, Any]:
        return {"edges": int((~self.scores.isnan()).sum()), "top": self.top(10)}

    def top(self, n: int, absolute: bool = True) -> list[tuple[str, float]]:
        """The ``n`` edges with the largest scores (by magnitude unless ``absolute=False``)."""
        flat = self.scores.flatten()
        key = flat.abs() if absolute else flat
        key = key.nan_to_num(-torch.inf)
        order = key.argsort(descending=True)[: max(n, 0)]
        n_down = len(self.downstream)
        return [(f"{self.upstream[int(i) // n_down]}->{self.downstream[int(i) % n_down]}",
                 float(flat[i])) for i in order if not flat[i].isnan()]  # fmt: skip

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per edge: upstream, downstream, score."""
        import pandas as pd

        rows = [{"upstream": self.upstream[u], "downstream": self.downstream[d],
                 "score": float(self.scores[u, d])}
                for u, d in (~self.scores.isnan()).nonzero().tolist()]  # fmt: skip
        return pd.DataFrame(rows)


def _check_pairs(model: Decoder, pairs: TaskPairs) -> None:
    if pairs.clean.tokens.shape != pairs.corrupted.tokens.shape:
        raise MechscopeError("the clean and corrupted prompts must have the same shape; "
                             "pad both sides alike (TaskPairs).")  # fmt: skip
    if not torch.equal(pairs.clean.attention_mask, pairs.corrupted.attention_mask):
        raise MechscopeError("each clean prompt must have as many tokens as its corrupted "
                             "twin; edges compare them position by position.")  # fmt: skip
    if pairs.clean.tokens.shape[1] > model.cfg.n_ctx:
        raise MechscopeError(f"the prompts have {pairs.clean.tokens.shape[1]} tokens; the "
                             f"model's context is {model.cfg.n_ctx}.")  # fmt: skip


def edge_attribution(
    model: Model,
    pairs: TaskPairs,
    metric: Metric | str = "logit-diff",
    *,
    method: EdgeMethod | str = EdgeMethod.EAP,
    steps: int = 5,
) -> EdgeScores:
    """Every edge's EAP (or EAP-IG, ``steps`` interpolations) score on ``pairs``.

    ``metric``: a `Metric` or one of the task's (`TaskMetric`: logit-diff, loss,
    probability). Costs one corrupted pass and one (EAP) or ``steps`` (EAP-IG) clean passes
    with a backward pass each, whatever the number of edges.

    Raises:
        MechscopeError: an encoder, mismatched pairs, or steps < 1.
    """
    method = EdgeMethod(method)
    graph = ComponentGraph.of(model)
    decoder = adapt(model).decoder("edge attribution")
    _check_pairs(decoder, pairs)
    if steps < 1:
        raise MechscopeError(f"steps must be >= 1 (EAP-IG's interpolations); got {steps}.")
    chosen = metric if isinstance(metric, Metric) else pairs.metric(metric)
    n_steps = steps if method is EdgeMethod.EAP_IG else 1
    kwargs = adapt(decoder).forward_kwargs(pairs.clean)
    with edge_hooks_on(decoder):
        clean, _ = upstream_activations(decoder, graph, pairs.clean.tokens, kwargs)
        corrupted, corrupted_value = upstream_activations(
            decoder, graph, pairs.corrupted.tokens, kwargs, chosen
        )
        grads = torch.zeros(len(graph.downstream), *pairs.clean.tokens.shape,
                            decoder.cfg.d_model, device=clean.device)  # fmt: skip
        clean_value = float("nan")
        for k in range(1, n_steps + 1):  # the last step is the clean run itself
            start = corrupted[0] + k / n_steps * (clean[0] - corrupted[0])
            clean_value, step_grads = _gradients(decoder, graph, pairs, chosen, kwargs, start)
            grads += step_grads / n_steps
    delta = (corrupted - clean).flatten(1)
    scores = delta @ grads.flatten(1).T
    scores[~graph.valid] = torch.nan
    return EdgeScores(
        list(graph.upstream), list(graph.downstream), scores.cpu(), method.value, chosen.name,
        clean_value, corrupted_value, int(pairs.clean.tokens.shape[0]), n_steps,
        provenance=Provenance(config={"method": method.value, "steps": n_steps,
                                      "metric": chosen.name, "task": pairs.name},
                              model=model_spec(model)),
    )  # fmt: skip


def _gradients(
    model: Decoder,
    graph: ComponentGraph,
    pairs: TaskPairs,
    metric: Metric,
    kwargs: dict[str, Any],
    start: Tensor,
) -> tuple[float, Tensor]:
    """The metric and its gradient at every downstream node's input, the input set to ``start``."""
    kept: dict[str, Tensor] = {}

    def set_input(act: Tensor, hook: HookPoint) -> Tensor:  # noqa: ARG001
        return start.clone().requires_grad_(True)

    readers = _readers(graph)
    hooks = [(hook_name(Component.RESID_PRE, 0), set_input)]
    hooks += keyed_hooks([name for name, _, _ in readers], keep_for_gradient(kept))
    with torch.enable_grad(), model.hooks(fwd_hooks=hooks):  # pyright: ignore[reportArgumentType]
        value = metric(model(pairs.clean.tokens, **kwargs))
        got = torch.autograd.grad(value, [kept[name] for name, _, _ in readers])
    grads = torch.zeros(len(graph.downstream), *pairs.clean.tokens.shape, model.cfg.d_model,
                        device=start.device)  # fmt: skip
    for (_, where, per_head), grad in zip(readers, got, strict=True):
        grads[where] = grad.movedim(2, 0) if per_head else grad[None]
    return scalar(value.detach()), grads


def ablated_activations(
    corrupted: Float[Tensor, "upstream batch pos d_model"], ablation: Ablation | str
) -> Float[Tensor, "upstream batch pos d_model"]:
    """What ablated edges carry: the corrupted outputs, or their mean over prompts."""
    if Ablation(ablation) is Ablation.MEAN:
        return corrupted.mean(1, keepdim=True).expand_as(corrupted)
    return corrupted


@torch.no_grad()
def edge_forward(
    model: Decoder,
    graph: ComponentGraph,
    tokens: Tensor,
    kwargs: dict[str, Any],
    ablated: Float[Tensor, "upstream batch pos d_model"],
    keep: Bool[Tensor, "replica upstream downstream"],
) -> Float[Tensor, "replica batch pos d_vocab"]:
    """The logits with every edge not in ``keep`` ablated, one replica of the batch per mask.

    ``ablated``: what an ablated edge carries (`ablated_activations`); ``keep``: per replica,
    True for the edges kept (edges that do not exist are ignored).
    """
    n_rep, batch = keep.shape[0], tokens.shape[0]
    drop = (~keep & graph.valid).to(ablated.dtype)  # replica upstream downstream
    # delta[u] = what u's ablated edges carry minus what u writes in this run (upstream nodes
    # are in forward order, so a reader needs a prefix of it: a view, never a copy)
    delta = ablated.repeat(1, n_rep, 1, 1)

    def reader(where: slice, per_head: bool) -> Callable:
        coeff = drop[:, :, where]  # replica upstream n
        used = coeff.any(0).any(-1).nonzero()[:, 0]
        if len(used) == 0:
            return lambda act, hook: None  # noqa: ARG005
        prefix = int(used.max()) + 1
        coeff = coeff[:, :prefix]

        def hook(act: Tensor, hook: HookPoint) -> Tensor:  # noqa: ARG001
            before = delta[:prefix].unflatten(1, (n_rep, batch))
            change = torch.einsum("run,urbpd->rbpnd", coeff, before).flatten(0, 1)
            return act + (change if per_head else change[..., 0, :])

        return hook

    hooks = _writer_hooks(model, graph, delta, sign=-1.0)
    hooks += [(name, reader(where, per_head)) for name, where, per_head in _readers(graph)]
    repeated = tokens.repeat(n_rep, 1)
    kwargs = {k: (v.repeat(n_rep, 1) if isinstance(v, Tensor) else v) for k, v in kwargs.items()}
    with edge_hooks_on(model), model.hooks(fwd_hooks=hooks):  # pyright: ignore[reportArgumentType]
        logits = model(repeated, **kwargs)
    return logits.unflatten(0, (n_rep, batch))


def keep_masks(graph: ComponentGraph, edges: Sequence[Sequence[str]]) -> Tensor:
    """One keep mask per list of edge names (`edge_forward`)."""
    masks = torch.zeros(len(edges), len(graph.upstream), len(graph.downstream), dtype=torch.bool)
    for r, names in enumerate(edges):
        for name in names:
            u, d = graph.index(name)
            masks[r, u, d] = True
    return masks
