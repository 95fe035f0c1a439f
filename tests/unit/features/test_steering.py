"""Steering along a feature: nothing moves at coefficient 0, and the shift is the decoded one."""

import pytest
import torch

from mechscope.features import add_features, site_hook, steer
from tests.unit.features.test_sae import random_sae


def test_steering_adds_the_decoded_difference_and_nothing_at_zero(byte_model):
    hook = site_hook(byte_model, "resid_post", 0)
    sae = random_sae(byte_model.cfg.d_model)
    prompt = "def f(x): return"
    still = steer(byte_model, sae, hook, prompt, [add_features([3], 0.0)], n_tokens=4)
    assert torch.equal(still.steered_probs, still.clean_probs) and still.kl() == 0.0
    assert still.steered_continuation == still.clean_continuation
    assert len(still.clean_continuation) >= 1
    moved = steer(byte_model, sae, hook, prompt, [add_features([3], 5.0)], n_tokens=4)
    tokens = byte_model.to_tokens(prompt)

    def shift(act, hook):
        features = sae.encode(act)
        pushed = features.clone()
        pushed[..., 3] += 5.0
        return act + (sae.decode(pushed) - sae.decode(features))

    with torch.no_grad(), byte_model.hooks([(hook, shift)]):
        reference = byte_model(tokens)[0, -1].softmax(-1)
    assert torch.allclose(moved.steered_probs, reference, atol=1e-6)
    assert moved.kl() > 0
    gained = dict(moved.gained)
    assert max(gained.values()) == pytest.approx(
        float((reference - moved.clean_probs).max()), abs=1e-6
    )
