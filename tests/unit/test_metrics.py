import math

import pytest
import torch

from mechscope.metrics import icl_score, loss_per_position, repeated_half_losses


def test_loss_per_position_on_known_logits():
    tokens = torch.tensor([[0, 1, 2]])
    logits = torch.zeros(1, 3, 4)
    logits[0, 0, 1] = 100.0  # certain of the right next token
    loss = loss_per_position(logits, tokens)
    assert loss.shape == (1, 2)
    assert loss[0, 0].item() == pytest.approx(0.0, abs=1e-6)
    assert loss[0, 1].item() == pytest.approx(math.log(4))


def test_repeated_half_losses_and_icl():
    loss = torch.arange(9, dtype=torch.float)[None]  # BOS + 4 + 4 tokens -> 8 predictions
    first, second = repeated_half_losses(loss, half_length=4)
    assert first == pytest.approx((1 + 2 + 3) / 3)
    assert second == pytest.approx((5 + 6 + 7) / 3)
    assert icl_score(loss, early=1, late=7) == pytest.approx(6.0)
    with pytest.raises(ValueError, match="early < late"):
        icl_score(loss, early=5, late=2)
