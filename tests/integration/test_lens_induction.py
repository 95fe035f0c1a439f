"""The lens on the shipped induction model: the induction head's write shows in layer 1."""

import pytest
import torch

from mechscope.core.batch import pad_token_lists
from mechscope.core.errors import PromptError
from mechscope.data.corpus import load_corpus
from mechscope.data.repeated import repeated_random_tokens
from mechscope.lens.config import TunedLensConfig
from mechscope.lens.logit import boundary_hooks, lens_trajectory, logit_lens
from mechscope.lens.tuned import (
    TunedLens,
    compare_lenses,
    corpus_windows,
    held_out_windows,
    train_tuned_lens,
)
from mechscope.models import load_model
from mechscope.models.run import readout

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
    logit_kl, tuned_kl = comparison.mean("logit lens"), comparison.mean("tuned lens")
    for logit, tuned in zip(logit_kl[:-1], tuned_kl[:-1], strict=True):
        assert tuned < logit
    assert logit_kl[-1] == tuned_kl[-1] <= 1e-5
    assert torch.equal(
        reloaded.state_dict()["translators.0.weight"], lens.state_dict()["translators.0.weight"]
    )


def test_targets_must_be_single_tokens():
    model = load_model("induction-2l", device="cpu")
    with pytest.raises(PromptError, match=r"target 'ab' is 2 tokens \['a', 'b'\]"):
        logit_lens(model, ["hello"], targets=["ab"])
    trajectory = logit_lens(model, ["hello hello"], targets=["o"])
    assert (trajectory.targets == ord("o")).all()


def test_one_training_step_equals_the_summed_loss_reference():
    """Per-boundary backward and sampled positions: the same step as the plain summed loss."""
    model = load_model("induction-2l", device="cpu")
    cfg = TunedLensConfig(steps=1, batch_size=2, n_ctx=32, positions=8, lr=1e-2)
    text = load_corpus().train[:200_000].tobytes()
    lens = train_tuned_lens(model, cfg, text=text, progress=False)
    generator = torch.Generator().manual_seed(cfg.seed)
    tokens = corpus_windows(model, text, 2, 32, generator)
    keep = torch.randperm(32, generator=generator)[:8]
    reference = TunedLens(2, model.cfg.d_model)
    optimizer = torch.optim.Adam(reference.parameters(), lr=1e-2)
    names = boundary_hooks(2)
    _, cache = model.run_with_cache(tokens, names_filter=names)
    resid = [cache[name][:, keep].detach() for name in names]
    final = readout(model, resid[-1]).log_softmax(-1).detach()
    losses = []
    for b in range(2):
        lens_lp = readout(model, reference(b, resid[b])).log_softmax(-1)
        losses.append((final.exp() * (final - lens_lp)).sum(-1).mean())
    sum(losses).backward()
    optimizer.step()
    assert lens.losses == pytest.approx([float(sum(losses).detach()) / 2], rel=1e-5)
    for ours, theirs in zip(lens.parameters(), reference.parameters(), strict=True):
        assert torch.allclose(ours, theirs, atol=1e-6)


def test_least_squares_start_alone_beats_the_logit_lens():
    model = load_model("induction-2l", device="cpu")
    cfg = TunedLensConfig(init="regression", regression_windows=16, steps=0, batch_size=8)
    lens = train_tuned_lens(model, cfg, progress=False)
    comparison = compare_lenses(model, lens, held_out_windows(model, cfg, n_windows=16))
    logit_kl, tuned_kl = comparison.mean("logit lens"), comparison.mean("tuned lens")
    assert tuned_kl[0] < logit_kl[0] / 2
    assert tuned_kl[1] < logit_kl[1]
