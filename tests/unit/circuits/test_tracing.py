"""Attribution graphs: exact rows, batched as one-by-one, total effects, pruning, real checks."""

import pytest
import torch

from mechscope.circuits import (
    AttributionGraph,
    Replacement,
    Target,
    attribution_graph,
    validate_graph,
)
from mechscope.circuits.tracing import _nodes, _Rows
from mechscope.core.errors import MechscopeError
from mechscope.features import FeatureEdit, mlp_hooks, splice_transcoder
from mechscope.models import TinyConfig, load_model
from tests.transcoders import random_transcoder

sae_lens = pytest.importorskip("sae_lens", reason="install mechscope[sae] for transcoders")


@pytest.fixture(scope="module")
def model():
    return load_model(TinyConfig(n_layers=3, n_heads=2, d_model=16, d_vocab=32, n_ctx=16,
                                 attn_only=False, seed=7))  # fmt: skip


@pytest.fixture(scope="module")
def replacement(model):
    transcoders = {layer: random_transcoder(16, seed=layer) for layer in range(3)}
    return Replacement.of(model, transcoders, torch.tensor([3, 9, 4, 1, 5, 7, 2]))


def _target(replacement) -> Target:
    ranked = replacement.logits[-1].argsort(descending=True)
    return Target(int(ranked[0]), int(ranked[1]))


@pytest.fixture(scope="module")
def full(replacement):
    """Every feature explored, nothing pruned."""
    return attribution_graph(replacement, _target(replacement), max_features=10_000,
                             batch_size=256, node_threshold=1.0, edge_threshold=1.0,
                             progress=False)  # fmt: skip


@pytest.fixture(scope="module")
def pruned(replacement):
    return attribution_graph(replacement, _target(replacement), max_features=10_000,
                             batch_size=256, node_threshold=0.5, edge_threshold=0.9,
                             progress=False)  # fmt: skip


def test_each_row_adds_up_to_its_pre_activation_in_the_real_model(model, replacement):
    nodes = _nodes(replacement)
    target = _target(replacement)
    rows_of = _Rows(replacement, nodes, target)
    chosen = [nodes.target, *range(0, nodes.n_features, 7)]
    rows, pre = rows_of(chosen)
    bias = rows_of.bias(chosen)
    torch.testing.assert_close(rows.sum(-1) + bias, pre, atol=1e-4, rtol=0)
    # The pre-activations are the real model's: its logit difference, the encoders' readings.
    with torch.no_grad():
        logits, cache = model.run_with_cache(replacement.tokens[None])
    assert float(pre[0]) == pytest.approx(float(target.of(logits.detach())[0]), abs=1e-4)
    for row, node in zip(pre[1:], chosen[1:], strict=True):
        layer, pos, feature = nodes.features[node].tolist()
        transcoder = replacement.transcoders[layer]
        read = cache[mlp_hooks(model, layer)[0]][0, pos].detach()
        encoded = read @ transcoder.W_enc[:, feature] + transcoder.b_enc[feature]
        assert float(row) == pytest.approx(float(encoded.detach()), abs=1e-4)
    # Batched rows are the rows of one backward pass each.
    for i in (0, 2):
        one, _ = rows_of([chosen[i]])
        torch.testing.assert_close(one[0], rows[i], atol=1e-5, rtol=0)
    # An edge is what the target's pre-activation loses when its source alone goes to zero.
    node = chosen[-1]
    layer = int(nodes.features[node, 0])
    source = int(rows[-1, : nodes.n_features].abs().argmax())
    s_layer, s_pos, s_feature = nodes.features[source].tolist()
    assert s_layer < layer
    features = {k: v.clone()[None] for k, v in replacement.features.items()}
    features[s_layer][0, s_pos, s_feature] = 0
    errors = {k: v[None] for k, v in replacement.errors.items()}
    with torch.no_grad():
        logits, seen = replacement.run(replacement.embeddings[None], features, errors,
                                       list(rows_of.reads.values()))  # fmt: skip
    without = rows_of.pre([node], logits, seen).detach()
    assert float(pre[-1] - without[0]) == pytest.approx(float(rows[-1, source]), abs=1e-4)


def _linear_response(replacement, target, ablate):
    """The target with feature ``ablate`` zeroed and every active feature downstream answering
    linearly to its pre-activation (the reference for the graph's total effects)."""
    nodes = _nodes(replacement)
    rows_of = _Rows(replacement, nodes, target)
    active = {k: (v > 0) for k, v in replacement.features.items()}
    features = {k: v.clone()[None] for k, v in replacement.features.items()}
    errors = {k: v[None] for k, v in replacement.errors.items()}
    layer, pos, feature = ablate
    for _ in range(len(features) + 1):  # layer by layer to the fixed point
        features[layer][0, pos, feature] = 0
        with torch.no_grad():
            logits, seen = replacement.run(replacement.embeddings[None], features, errors,
                                           list(rows_of.reads.values()))  # fmt: skip
        for later, read in rows_of.reads.items():
            if later > layer:
                transcoder = replacement.transcoders[later]
                pre = seen[read][0] @ transcoder.W_enc + transcoder.b_enc
                features[later][0] = pre * active[later]
    return float(target.of(logits)[0])


@pytest.mark.parametrize("explored", [10_000, 12])
def test_total_effects_are_the_linear_response_of_every_active_feature(replacement, full,
                                                                        explored):  # fmt: skip
    target = _target(replacement)
    graph = full if explored > 100 else attribution_graph(
        replacement, target, max_features=explored, node_threshold=1.0, edge_threshold=1.0,
        progress=False)  # fmt: skip
    # Every feature with a path to the target got a row: all but the last layer's features
    # away from the last position.
    last = replacement.features[2][:-1]
    if explored > 100:
        assert graph.n_explored == graph.n_active - int((last > 0).sum())
    assert graph.value == pytest.approx(float(target.of(replacement.logits[None])[0]), abs=1e-4)
    for name, _ in graph.top(3):
        i = graph.nodes.index(name)
        layer, rest = name[1:].split(".")
        feature, pos = (int(x) for x in rest.split("@"))
        without = _linear_response(replacement, target, (int(layer), pos, feature))
        assert graph.value - without == pytest.approx(float(graph.total[i]), abs=1e-3), name
    # With every feature explored, tokens and error nodes hold all the influence.
    assert 0 < graph.scores["replacement_explored"] <= 1
    assert 0 < graph.scores["completeness_explored"] <= 1


def test_pruning_and_the_checks_in_the_real_model(model, replacement, full, pruned):
    target = _target(replacement)
    assert len(pruned.nodes) < len(full.nodes)
    assert (pruned.adjacency != 0).sum() < (full.adjacency != 0).sum()
    assert pruned.top(1) == full.top(1)
    assert pruned.nodes[-1] == "target"
    few = attribution_graph(replacement, target, max_features=5, batch_size=2, progress=False)
    assert few.n_explored == 5 and few.provenance.config["backward_passes"] == 4
    # Every kept edge runs upward, from an earlier layer.
    index = {name: i for i, name in enumerate(full.nodes)}
    edges = [(index[source], index[sink]) for source, sink, _ in full.edges()]
    assert len(edges) == int((full.adjacency != 0).sum())
    assert all(full.layer[s] < full.layer[t] for s, t in edges)
    # Validation: each intervention is the real model's, through the transcoder splice.
    check = validate_graph(replacement, full, target, n_features=4, batch_size=3)
    tokens = replacement.tokens[None]
    for name, measured in zip(check.features, check.measured.tolist(), strict=True):
        layer, rest = name[1:].split(".")
        feature, pos = (int(x) for x in rest.split("@"))
        edit = FeatureEdit((feature,), positions=(pos,))
        spliced = splice_transcoder(model, replacement.transcoders[int(layer)], int(layer), [edit])
        with spliced, torch.no_grad():
            changed = float(target.of(model(tokens))[0])
        assert measured == pytest.approx(changed - full.value, abs=1e-4)
    i = [full.nodes.index(n) for n in check.features]
    torch.testing.assert_close(check.predicted_total, -full.total[i])
    # Attention patterns frozen as in the graph: the measurement changes (here the MLPs are
    # real, so their nonlinearity and the normalisations still separate it from the graph).
    frozen = validate_graph(replacement, full, target, n_features=4, freeze_attention=True)
    assert frozen.features == check.features and frozen.provenance.config["freeze_attention"]
    assert not torch.allclose(frozen.measured, check.measured)
    # In the replacement model itself a small change is the graph's total effect exactly (no
    # feature switches on or off); ablation there differs only where features switch.
    near = validate_graph(replacement, full, target, n_features=6, scale=0.99,
                          against="replacement")  # fmt: skip
    torch.testing.assert_close(near.measured, near.predicted_total, atol=2e-5, rtol=1e-3)
    ablated = validate_graph(replacement, full, target, n_features=6, against="replacement")
    assert ablated.correlation() > 0.8  # measured 0.85 (features switching off: random weights)
    largest = validate_graph(replacement, full, target, n_features=3, by="total")
    assert largest.predicted_total.abs().min() >= check.predicted_total.abs().min()
    assert float(largest.predicted_total.abs().max()) == pytest.approx(
        float(full.total[[n.startswith("f") for n in full.nodes]].abs().max())
    )
    with pytest.raises(MechscopeError, match="influence or total"):
        validate_graph(replacement, full, target, by="size")
    assert -1 <= check.correlation() <= 1


def test_the_strongest_path_is_the_best_product_of_shares(pruned):
    graph = pruned
    weights = graph.adjacency.abs()
    weights = weights / weights.sum(-1, keepdim=True).clamp_min(1e-30)

    def paths(node: int):  # every path to the target, by brute force
        if node == len(graph.nodes) - 1:
            yield [node], 1.0
        for t in weights[:, node].nonzero()[:, 0].tolist():
            for rest, value in paths(t):
                yield [node, *rest], float(weights[t, node]) * value

    source = next(n for n in graph.nodes if n.startswith("emb") and n != "target")
    best = max(paths(graph.nodes.index(source)), key=lambda p: p[1])
    path, value = graph.strongest_path(source)
    assert value == pytest.approx(best[1]) and path == [graph.nodes[i] for i in best[0]]
    assert path[-1] == "target"


def test_supernodes_merge_nodes_and_sum_their_edges(full):
    graph = full
    members = [name for name, _ in graph.top(3)]
    grouped = graph.group({"top three": members})
    assert len(grouped.nodes) == len(graph.nodes) - 2 and "top three" in grouped.nodes
    at = grouped.nodes.index("top three")
    into_target = graph.adjacency[-1, [graph.nodes.index(m) for m in members]].sum()
    assert float(grouped.adjacency[-1, at]) == pytest.approx(float(into_target), abs=1e-5)
    assert grouped.groups == {"top three": members}
    assert float(grouped.influence[at]) == pytest.approx(sum(v for _, v in graph.top(3)))
    with pytest.raises(MechscopeError, match="not a node"):
        graph.group({"x": ["f9.9@9"]})
    with pytest.raises(MechscopeError, match="two supernodes"):
        graph.group({"a": members[:1], "b": members[:1]})
    assert isinstance(AttributionGraph.load(grouped.save(_tmp := __import__("tempfile").mkdtemp())),
                      AttributionGraph)  # fmt: skip


def test_bad_thresholds_are_refused(replacement):
    with pytest.raises(MechscopeError, match="node-threshold"):
        attribution_graph(replacement, Target(1), node_threshold=0.0, progress=False)
    with pytest.raises(MechscopeError, match="max-features"):
        attribution_graph(replacement, Target(1), batch_size=0, progress=False)
