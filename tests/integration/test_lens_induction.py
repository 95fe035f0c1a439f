"""The lens on the shipped induction model: the induction head's write shows in layer 1."""

import pytest
import torch

from mechscope.core.batch import pad_token_lists
from mechscope.core.errors import PromptError
from mechscope.data.repeated import repeated_random_tokens
from mechscope.lens.config import TunedLensConfig
from mechscope.lens.logit import lens_trajectory, logit_lens
from mechscope.lens.tuned import (
    TunedLens,
    compare_lenses,
    held_out_windows,
    train_tuned_lens,
)
from mechscope.models import load_model

HALF = 40


def test_rank_of_the_repeated_token_is_poor_after_layer_0_and_top_after_layer_1():
    model = load_model("induction-2l", device="cpu")
    tokens = repeated_random_tokens(16, HALF, 256, 256, seed=3)
    trajectory = lens_trajectory(model, pad_token_lists(tokens.tolist(), pad_id=257))
    second_copy = slice(HALF + 2, 2 * HALF)  # predicting the second copy's tokens 3..n
    median = [float(trajectory.rank[b][:, second_copy].float().median()) for b in range(3)]
    assert median[1] > 50  # after layer 0: no better than chance over 256 bytes
    assert median[2] == 1.0  # after layer 1: the induction heads name the right token


def test_tuned_lens_beats_the_logit_lens_at_every_layer_but_the_last(tmp_path):
    model = load_model("induction-2l", device="cpu")
    cfg = TunedLensConfig(steps=60, batch_size=8)
    lens = train_tuned_lens(model, cfg, progress=False)
    lens.save(tmp_path)
    reloaded = TunedLens.load(tmp_path)
    comparison = compare_lenses(model, reloaded, held_out_windows(model, cfg, n_windows=16))
    for logit_kl, tuned_kl in zip(
        comparison.logit_lens_kl[:-1], comparison.tuned_lens_kl[:-1], strict=True
    ):
        assert tuned_kl < logit_kl
    assert comparison.logit_lens_kl[-1] == comparison.tuned_lens_kl[-1] <= 1e-5
    assert torch.equal(
        reloaded.state_dict()["translators.0.weight"], lens.state_dict()["translators.0.weight"]
    )


def test_targets_must_be_single_tokens():
    model = load_model("induction-2l", device="cpu")
    with pytest.raises(PromptError, match=r"target 'ab' is 2 tokens \['a', 'b'\]"):
        logit_lens(model, ["hello"], targets=["ab"])
    trajectory = logit_lens(model, ["hello hello"], targets=["o"])
    assert (trajectory.targets == ord("o")).all()
