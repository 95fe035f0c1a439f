"""The replacement model of one prompt: exact, linear in its nodes, complete."""

import pytest
import torch

from mechscope.circuits import Replacement
from mechscope.core.errors import MechscopeError
from mechscope.models import TinyConfig, load_model
from tests.transcoders import random_transcoder

sae_lens = pytest.importorskip("sae_lens", reason="install mechscope[sae] for transcoders")


@pytest.fixture(scope="module")
def model():
    return load_model(TinyConfig(n_layers=2, n_heads=2, d_model=16, d_vocab=32, n_ctx=16,
                                 attn_only=False, seed=5))  # fmt: skip


def test_the_replacement_model_is_the_model_and_its_nodes_add_up_to_the_logit(model):
    tokens = torch.tensor([3, 9, 4, 1, 5, 7, 2])
    replacement = Replacement.of(
        model, {0: random_transcoder(16), 1: random_transcoder(16, seed=1)}, tokens
    )
    assert all(bool((acts > 0).any()) for acts in replacement.features.values())
    same = replacement.forward(replacement.embeddings, replacement.features, replacement.errors)
    torch.testing.assert_close(same, replacement.logits, atol=1e-5, rtol=0)
    target = int(replacement.logits[-1].argmax())
    attribution = replacement.logit_effects(target)
    assert attribution.logit == pytest.approx(float(replacement.logits[-1, target]), abs=1e-5)
    assert attribution.completeness_gap() < 1e-4
    # A node's effect is exactly what the logit loses when that node alone is set to zero.
    for node, effect in attribution.top(4):
        features = {k: v.clone() for k, v in replacement.features.items()}
        errors = {k: v.clone() for k, v in replacement.errors.items()}
        embeddings = replacement.embeddings.clone()
        name, _, pos = node.partition("@")
        if name.startswith("f"):
            layer, feature = (int(x) for x in name[1:].split("."))
            features[layer][int(pos), feature] = 0
        elif name.startswith("err"):
            errors[int(name[3:])][int(pos)] = 0
        else:
            embeddings[int(pos)] = 0
        with torch.no_grad():
            without = float(replacement.forward(embeddings, features, errors)[-1, target])
        assert attribution.logit - without == pytest.approx(effect, abs=1e-4), node
    assert 0 <= attribution.error_share() <= 1


def test_a_layer_without_a_transcoder_is_one_error_node_per_position(model):
    tokens = torch.tensor([1, 2, 3, 4])
    replacement = Replacement.of(model, {1: random_transcoder(16)}, tokens)
    attribution = replacement.logit_effects(5)
    assert not any(n.startswith("f0.") for n in attribution.nodes)
    assert sum(n.startswith("err0@") for n in attribution.nodes) == 4
    assert attribution.completeness_gap() < 1e-4


def test_bad_input_is_refused(model):
    with pytest.raises(MechscopeError, match="attention-only"):
        Replacement.of(load_model(TinyConfig()), {}, torch.tensor([1, 2]))
    with pytest.raises(MechscopeError, match="another model"):
        Replacement.of(model, {0: random_transcoder(8)}, torch.tensor([1, 2]))
    with pytest.raises(MechscopeError, match="one prompt"):
        Replacement.of(model, {}, torch.ones(2, 3, dtype=torch.long))
