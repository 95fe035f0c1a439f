"""Edge attribution and circuit discovery against references: finite differences, exact
ablation, and the hand-built induction circuit."""

import pytest
import torch

from mechscope.circuits import (
    ComponentGraph,
    EdgeRunner,
    acdc,
    discover_circuit,
    edge_attribution,
    edge_effects,
)
from mechscope.circuits.edges import edge_forward, keep_masks
from mechscope.core.errors import MechscopeError
from mechscope.core.metrics import scalar
from mechscope.interventions import repeated_pairs
from mechscope.models import TinyConfig, load_model
from mechscope.models.hand_built import induction_circuit_model

BUILT = {"input->a0.0<v>", "a0.0->a1.0<k>", "input->a1.0<v>", "a1.0->logits"}
"""The hand-built model's induction path where the corrupted prompts differ (their first copy):
the token into the previous-token head's values, that head into the induction head's keys,
the token into the induction head's values, its output into the logits. (The positional
queries and keys of head 0.0 and the induction head's query, the current token, are the same
on both sides of every pair: resample ablation leaves them as they are.)"""


@pytest.fixture(scope="module")
def hand_built():
    return induction_circuit_model()


@pytest.fixture(scope="module")
def mlp_model():
    return load_model(TinyConfig(n_layers=2, n_heads=2, d_model=16, d_vocab=32, n_ctx=16,
                                 attn_only=False, seed=3))  # fmt: skip


def test_the_graph_of_a_decoder_with_mlps_and_of_grouped_query_attention(mlp_model, hf_dirs):
    graph = ComponentGraph.of(mlp_model)
    assert graph.upstream == ("input", "a0.0", "a0.1", "m0", "a1.0", "a1.1", "m1")
    assert graph.downstream[:7] == ("a0.0<q>", "a0.1<q>", "a0.0<k>", "a0.1<k>", "a0.0<v>",
                                    "a0.1<v>", "m0")  # fmt: skip
    # layer 0 heads read the input (6 edges); m0 reads input and both heads (3); layer 1
    # heads read input, a0.*, m0 (6 x 4); m1 also reads a1.* (6); the logits read all 7.
    assert graph.n_edges == 6 + 3 + 24 + 6 + 7
    assert graph.index("a0.1->m0") == (2, 6)
    with pytest.raises(MechscopeError, match="no edge"):
        graph.index("m1->m0")
    gqa = ComponentGraph.of(load_model(hf_dirs["llama-gqa"], device="cpu"))
    assert "a0.1<k>" in gqa.downstream and "a0.2<k>" not in gqa.downstream  # 2 key/value heads
    with pytest.raises(MechscopeError, match="decoder"):
        ComponentGraph.of(load_model(TinyConfig(encoder=True)))


def test_every_edge_kept_is_the_clean_run_and_none_the_corrupted_one(mlp_model, hf_dirs):
    for model in (mlp_model, load_model(hf_dirs["llama-gqa"], device="cpu")):
        pairs = repeated_pairs(model, n_prompts=3, half=5)
        runner = EdgeRunner(model, pairs)
        everything, nothing = runner.values(torch.stack([runner.full(), ~runner.full()]))
        with torch.no_grad():
            clean = scalar(runner.metric(model(pairs.clean.tokens)))
            corrupted = scalar(runner.metric(model(pairs.corrupted.tokens)))
        assert everything == pytest.approx(clean, abs=1e-5)
        assert nothing == pytest.approx(corrupted, abs=1e-4)


def test_eap_is_the_derivative_of_the_metric_along_each_edge(mlp_model):
    pairs = repeated_pairs(mlp_model, n_prompts=3, half=5)
    scores = edge_attribution(mlp_model, pairs)
    runner = EdgeRunner(mlp_model, pairs)
    graph, clean_acts = runner.graph, None
    from mechscope.circuits.edges import edge_hooks_on, upstream_activations

    with edge_hooks_on(mlp_model):
        clean_acts, _ = upstream_activations(mlp_model, graph, pairs.clean.tokens,
                                             runner.kwargs)  # fmt: skip
    delta = runner.ablated - clean_acts
    eps = 1e-2
    for edge in ("input->a0.1<q>", "a0.0->m0", "m0->a1.1<v>", "a1.0->m1", "m1->logits",
                 "input->logits"):  # fmt: skip
        keep = ~keep_masks(graph, [[edge]])  # everything but this edge
        values = []
        for sign in (1, -1):
            shifted = clean_acts + sign * eps * delta  # the edge carries clean + eps delta
            logits = edge_forward(mlp_model, graph, pairs.clean.tokens, runner.kwargs, shifted,
                                  keep)  # fmt: skip
            values.append(scalar(runner.metric(logits[0])))
        derivative = (values[0] - values[1]) / (2 * eps)
        u, d = graph.index(edge)
        assert float(scores.scores[u, d]) == pytest.approx(derivative, abs=2e-3, rel=2e-2), edge
    assert scores.scores[~graph.valid].isnan().all()
    # EAP-IG with one step is EAP (its only gradient is the clean run's)
    one = edge_attribution(mlp_model, pairs, method="eap-ig", steps=1)
    torch.testing.assert_close(one.scores, scores.scores, equal_nan=True)
    several = edge_attribution(mlp_model, pairs, method="eap-ig", steps=3)
    assert not torch.allclose(several.scores.nan_to_num(), scores.scores.nan_to_num())
    with pytest.raises(MechscopeError, match="steps"):
        edge_attribution(mlp_model, pairs, method="eap-ig", steps=0)


def test_the_hand_built_induction_circuit_is_found(hand_built, tmp_path):
    pairs = repeated_pairs(hand_built, n_prompts=8, half=8)
    scores = edge_attribution(hand_built, pairs, method="eap-ig", steps=4)
    top = {name for name, _ in scores.top(len(BUILT))}
    assert top == BUILT
    found = discover_circuit(hand_built, pairs, scores, target=0.9, progress=False)
    assert set(found.circuit()) == BUILT and found.chosen == 4
    assert found.faithfulness_at(4) > 0.95 and found.faithfulness_at(3) < 0.5
    assert found.nodes() == ["a1.0", "a0.0"] or set(found.nodes()) == {"a1.0", "a0.0"}
    # ACDC, exact and slow, keeps the same four edges and nothing of the sink or idle heads
    exact = acdc(hand_built, pairs, tau=0.05, progress=False)
    assert set(exact.edges) == BUILT and exact.faithfulness > 0.95
    assert exact.forward_passes < scores.scores.numel()
    # single-edge ablation: the four built edges are the four that matter
    edges = [name for name, _ in scores.top(20)]
    effects = edge_effects(hand_built, pairs, edges, scores=scores, progress=False)
    worst = {edges[i] for i in effects.effects.argsort()[:4].tolist()}
    assert worst == BUILT
    assert effects.spearman() > 0.5
    found.save(tmp_path / "found")
    scores.save(tmp_path / "scores")
    from mechscope.core.results import load_result

    assert load_result(tmp_path / "found").circuit() == found.circuit()
    assert torch.equal(load_result(tmp_path / "scores").scores.nan_to_num(),
                       scores.scores.nan_to_num())  # fmt: skip


def test_bad_input_is_refused_in_one_line(hand_built, mlp_model):
    pairs = repeated_pairs(hand_built, n_prompts=2, half=4)
    scores = edge_attribution(hand_built, pairs)
    with pytest.raises(MechscopeError, match="another shape"):
        discover_circuit(mlp_model, repeated_pairs(mlp_model, n_prompts=2, half=4), scores)
    with pytest.raises(MechscopeError, match="outside"):
        discover_circuit(hand_built, pairs, scores, sizes=[10_000])
    with pytest.raises(MechscopeError, match="tau"):
        acdc(hand_built, pairs, tau=-1.0)
    with pytest.raises(MechscopeError, match="task metric"):
        EdgeRunner(hand_built, pairs, "accuracy")


def test_mean_ablation_of_everything_reads_the_mean_corrupted_stream(mlp_model, monkeypatch):
    from mechscope.circuits import discovery
    from mechscope.core.sites import Component, hook_name

    pairs = repeated_pairs(mlp_model, n_prompts=4, half=5)
    runner = EdgeRunner(mlp_model, pairs, ablation="mean")
    (nothing,) = runner.values((~runner.full())[None])
    # With every edge ablated the logits read the sum of every writer's mean output (plus
    # the attention biases): the corrupted run's final stream averaged over prompts.
    final = hook_name(Component.RESID_POST, mlp_model.cfg.n_layers - 1)
    with torch.no_grad():
        _, cache = mlp_model.run_with_cache(pairs.corrupted.tokens, names_filter=[final])
        mean = cache[final].mean(0, keepdim=True).expand_as(cache[final])
        logits = mlp_model.unembed(mlp_model.ln_final(mean))
    assert nothing == pytest.approx(scalar(runner.metric(logits)), abs=1e-4)
    # many circuits per pass or one at a time: the same values
    masks = torch.stack(
        [
            runner.full(),
            ~runner.full(),
            runner.full()
            & (torch.rand(runner.full().shape, generator=torch.Generator().manual_seed(0)) > 0.5),
        ]
    )
    together = runner.values(masks)
    monkeypatch.setattr(discovery, "MAX_ELEMENTS", 1)
    alone = EdgeRunner(mlp_model, pairs, ablation="mean")
    assert alone.chunk == 1
    assert alone.values(masks) == pytest.approx(together, abs=1e-5)
