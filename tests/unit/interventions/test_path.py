"""Path patching finds the previous-token -> induction K-composition path."""

import pytest

from mechscope.core.errors import MechscopeError
from mechscope.core.sites import Component
from mechscope.interventions.pairs import repeated_pairs
from mechscope.interventions.path import path_patching, sender_sweep
from mechscope.models.hand_built import (
    INDUCTION_HEAD,
    PREVIOUS_TOKEN_HEAD,
    SINK_HEAD,
    induction_circuit_model,
)


@pytest.fixture(scope="module")
def model():
    return induction_circuit_model()


@pytest.fixture(scope="module")
def task(model):
    return repeated_pairs(model, n_prompts=8, half=8)


def test_the_previous_token_head_acts_through_the_induction_keys(model, task):
    runs = task.runs(model)
    keys = path_patching(runs, [PREVIOUS_TOKEN_HEAD], [INDUCTION_HEAD], Component.K)
    assert keys.normalised < 0.25  # the path carries most of the behaviour (measured 0.16)
    queries = path_patching(runs, [PREVIOUS_TOKEN_HEAD], [INDUCTION_HEAD], Component.Q)
    assert queries.normalised == pytest.approx(1.0, abs=0.02)  # queries read the token itself
    grid = sender_sweep(runs, [INDUCTION_HEAD], Component.K)
    assert grid[SINK_HEAD] == pytest.approx(1.0, abs=0.02)
    assert grid[1].isnan().all()


def test_bad_paths_are_refused(model, task):
    runs = task.runs(model)
    with pytest.raises(MechscopeError, match="later layer"):
        path_patching(runs, [INDUCTION_HEAD], [PREVIOUS_TOKEN_HEAD])
    with pytest.raises(MechscopeError, match="Q, K or V"):
        path_patching(runs, [PREVIOUS_TOKEN_HEAD], [INDUCTION_HEAD], Component.Z)
    with pytest.raises(MechscopeError, match="out of range"):
        path_patching(runs, [(0, 7)], [INDUCTION_HEAD])


def test_grouped_query_attention_keys_are_patched_by_key_value_head(hf_dirs):
    from mechscope.core.sites import Site
    from mechscope.interventions.activation import activation_patching
    from mechscope.interventions.path import path_patching as path
    from mechscope.models import load_model

    gqa = load_model(hf_dirs["llama-gqa"], device="cpu")  # 4 query heads, 2 key/value heads
    runs = repeated_pairs(gqa, n_prompts=4, half=6).runs(gqa)
    # Query heads 2 and 3 share key/value head 1: patching their keys is the same patch.
    a = path(runs, [(0, 0)], [(1, 2)], Component.K)
    b = path(runs, [(0, 0)], [(1, 3)], Component.K)
    both = path(runs, [(0, 0)], [(1, 2), (1, 3)], Component.K)
    assert a.value == pytest.approx(b.value, abs=1e-6) == pytest.approx(both.value, abs=1e-6)
    queries = path(runs, [(0, 0)], [(1, 2)], Component.Q)  # queries stay per head
    assert queries.value != pytest.approx(a.value, abs=1e-9)
    with pytest.raises(MechscopeError, match="key/value head 2 is out of range 0..1"):
        activation_patching(runs, [Site(Component.K, 0, 2)], progress=False)


def test_path_attribution_is_exact_where_the_path_is_linear():
    """Values read through V by a last-layer head, a model without LayerNorm, a logit
    difference: the path is linear in the sender's output, so the first-order estimate of
    every sender equals exact path patching."""
    import torch
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    from mechscope.core.batch import TokenBatch
    from mechscope.core.metrics import logit_diff
    from mechscope.interventions.path import path_attribution
    from mechscope.interventions.runs import PairedRuns

    cfg = HookedTransformerConfig(
        n_layers=2, d_model=24, n_heads=3, d_head=8, n_ctx=12, d_vocab=30, attn_only=True,
        normalization_type=None, seed=3,
    )  # fmt: skip
    model = HookedTransformer(cfg).eval()
    generator = torch.Generator().manual_seed(0)
    clean = torch.randint(0, 30, (6, 10), generator=generator)
    corrupted = clean.clone()
    corrupted[:, 4] = torch.randint(0, 30, (6,), generator=generator)
    answers, wrong = clean[:, -1], (clean[:, -1] + 1) % 30
    positions = torch.full((6,), 9)

    def metric(logits):
        return logit_diff(logits, answers, wrong, positions)

    runs = PairedRuns.run(model, TokenBatch.full(clean), TokenBatch.full(corrupted), metric)
    receivers = [(1, 0), (1, 2)]
    estimate = path_attribution(runs, receivers, Component.V)
    exact = sender_sweep(runs, receivers, Component.V)
    assert estimate[1].isnan().all()
    torch.testing.assert_close(estimate[0], exact[0], rtol=1e-4, atol=1e-4)
    assert float((exact[0] - 1).abs().max()) > 0.01  # the paths do something to compare
    # Through the keys the softmax makes it an estimate: same sign of effect, not equal.
    keys = path_attribution(runs, receivers, Component.K)
    assert not keys[0].isnan().any()
    assert not model.cfg.use_split_qkv_input  # switched off again


def test_path_attribution_finds_the_previous_token_head_behind_the_induction_keys(model, task):
    from mechscope.interventions.path import path_attribution

    grid = path_attribution(task.runs(model), [INDUCTION_HEAD], Component.K)
    effects = (grid[0] - 1).abs()  # distance from "no effect"
    assert int(effects.argmax()) == PREVIOUS_TOKEN_HEAD.head
    with pytest.raises(MechscopeError, match="Q, K or V"):
        path_attribution(task.runs(model), [INDUCTION_HEAD], Component.Z)


def test_path_attribution_is_for_decoders_and_leaves_the_split_inputs_off_on_error(
    tiny_encoder, model, task
):
    from mechscope.interventions.path import path_attribution, split_qkv_inputs

    with pytest.raises(RuntimeError), split_qkv_inputs(model):
        assert model.cfg.use_split_qkv_input
        raise RuntimeError("inside")
    assert not model.cfg.use_split_qkv_input
    encoder_runs = repeated_pairs(model, n_prompts=2, half=4).runs(model)
    object.__setattr__(encoder_runs.clean, "model", tiny_encoder)  # an encoder's runs
    with pytest.raises(MechscopeError, match="decoders"):
        path_attribution(encoder_runs, [(1, 0)], Component.K)
