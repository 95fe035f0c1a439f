import pytest
import torch

from mechscope.core.batch import PaddingSide, pad_token_lists
from mechscope.core.errors import MechscopeError, PromptError
from mechscope.lens.logit import LensStat, Trajectory, lens_trajectory

LISTS = [[3, 9, 4, 1, 5, 7], [2, 6, 11]]


@pytest.mark.parametrize("side", list(PaddingSide))
def test_last_boundary_equals_the_model_and_padding_is_harmless(tiny_decoder, side):
    batch = pad_token_lists(LISTS, pad_id=0, padding_side=side)
    trajectory = lens_trajectory(tiny_decoder, batch, k=3)
    assert trajectory.labels == ["embeddings", "after block 0", "after block 1"]
    for i, ids in enumerate(LISTS):
        with torch.no_grad():
            final = tiny_decoder(torch.tensor([ids]))[0].log_softmax(-1)
        real = batch.attention_mask[i].bool()
        target = trajectory.targets[i][real]
        expected = final.gather(-1, target[:, None])[:, 0]
        torch.testing.assert_close(trajectory.log_prob[-1, i][real], expected, atol=1e-5, rtol=0)
        assert trajectory.kl_to_final[-1, i][real].max() <= 1e-5
        assert torch.equal(trajectory.top_k_ids[-1, i][real][:, 0], final.argmax(-1))
        ranks = (final > expected[:, None]).sum(-1) + 1
        assert torch.equal(trajectory.rank[-1, i][real], ranks)
        # Batched equals alone: the last real position is scored on the model's own top
        # token, not on the padding after it.
        alone = lens_trajectory(tiny_decoder, pad_token_lists([ids], pad_id=0), k=3)
        assert torch.equal(target, alone.targets[0])
        assert int(target[-1]) == int(final[-1].argmax())
        for name in ("log_prob", "rank", "entropy", "kl_to_final"):
            torch.testing.assert_close(getattr(trajectory, name)[:, i][:, real],
                                       getattr(alone, name)[:, 0], atol=1e-5, rtol=0)  # fmt: skip


def test_lens_of_the_embeddings_is_the_direct_path(tiny_decoder):
    batch = pad_token_lists([LISTS[0]], pad_id=0)
    trajectory = lens_trajectory(tiny_decoder, batch)
    tokens = batch.tokens
    resid = tiny_decoder.W_E[tokens] + tiny_decoder.W_pos[: tokens.shape[1]]
    direct = tiny_decoder.unembed(tiny_decoder.ln_final(resid)).log_softmax(-1)
    expected = direct.gather(-1, trajectory.targets[..., None])[..., 0]
    torch.testing.assert_close(trajectory.log_prob[0], expected, atol=1e-5, rtol=0)


def test_trajectory_slices_saves_and_tabulates(tiny_decoder, tmp_path):
    trajectory = lens_trajectory(tiny_decoder, pad_token_lists(LISTS, pad_id=0))
    one = trajectory.prompt(1)
    assert one.log_prob.shape == (3, 1, 6)
    assert torch.equal(one.rank[:, 0], trajectory.rank[:, 1])
    window = trajectory.select(positions=slice(2, 4))
    assert window.top_k_ids.shape[:3] == (3, 2, 2)
    assert torch.equal(window.log_prob, trajectory.log_prob[:, :, 2:4])
    trajectory.save(str(tmp_path))
    loaded = Trajectory.load(str(tmp_path))
    assert torch.equal(loaded.rank, trajectory.rank) and loaded.labels == trajectory.labels
    frame = trajectory.to_dataframe()
    assert len(frame) == 3 * (6 + 3)  # boundaries x real positions
    assert loaded.provenance.config == {"k": 5, "lens": "logit", "last_only": False}
    assert trajectory.mean_over_positions(LensStat.RANK) == pytest.approx(
        [
            float(trajectory.rank[b][trajectory.attention_mask.bool()].float().mean())
            for b in range(3)
        ]
    )
    with pytest.raises((ValueError, TypeError), match="log_prob"):  # jaxtyping or __post_init__
        Trajectory(**{**vars(trajectory), "log_prob": trajectory.log_prob[:2]})


def test_encoders_are_refused(tiny_encoder):
    with pytest.raises(MechscopeError, match="this model is an encoder"):
        lens_trajectory(tiny_encoder, pad_token_lists(LISTS, pad_id=0))


def test_prompt_longer_than_context(tiny_decoder):
    batch = pad_token_lists([[1] * 40], pad_id=0)
    with pytest.raises(PromptError, match="longer than the model's context of 32"):
        lens_trajectory(tiny_decoder, batch)


def test_non_finite_activations_are_refused_naming_where_they_start(tiny_decoder):
    batch = pad_token_lists([LISTS[0]], pad_id=0)

    def break_block_1(resid, hook):  # noqa: ARG001
        resid[:, 2] = float("nan")
        return resid

    hooks = [("blocks.1.hook_resid_pre", break_block_1)]
    expected = "first at after block 0 .prompt 0, position 2"
    with tiny_decoder.hooks(fwd_hooks=hooks), pytest.raises(MechscopeError, match=expected):
        lens_trajectory(tiny_decoder, batch)


def test_blocks_of_prompts_and_boundaries_change_no_statistic(tiny_decoder, monkeypatch):
    from mechscope.lens import logit

    generator = torch.Generator().manual_seed(3)
    rows = [torch.randint(0, 64, (n,), generator=generator).tolist() for n in (12, 7, 12, 9)]
    batch = pad_token_lists(rows, 0)
    monkeypatch.setattr(logit, "CHUNK_FRACTION", 1)  # the whole batch, every boundary at once
    monkeypatch.setattr(logit, "MIN_BLOCK_ELEMENTS", 2**30)
    whole = lens_trajectory(tiny_decoder, batch)
    monkeypatch.setattr(logit, "CHUNK_FRACTION", 10**6)  # one prompt, one boundary per block
    monkeypatch.setattr(logit, "MIN_BLOCK_ELEMENTS", 1)
    blocks = lens_trajectory(tiny_decoder, batch)
    for stat in ("log_prob", "rank", "entropy", "kl_to_final", "top_k_ids", "top_k_log_probs"):
        torch.testing.assert_close(getattr(blocks, stat), getattr(whole, stat), atol=1e-5, rtol=0)


@pytest.mark.parametrize("side", list(PaddingSide))
def test_last_only_reads_each_prompts_last_position_as_the_full_trajectory_does(tiny_decoder, side):
    batch = pad_token_lists(LISTS, pad_id=0, padding_side=side)
    full = lens_trajectory(tiny_decoder, batch, k=3)
    last = lens_trajectory(tiny_decoder, batch, k=3, last_only=True)
    positions = [len(ids) - 1 if side is PaddingSide.RIGHT else 5 for ids in LISTS]
    rows = torch.arange(len(LISTS))
    assert last.rank.shape == (3, 2, 1) and last.attention_mask.tolist() == [[1], [1]]
    assert last.tokens[:, 0].tolist() == [ids[-1] for ids in LISTS]
    assert torch.equal(last.targets[:, 0], full.targets[rows, positions])
    for stat in ("log_prob", "rank", "entropy", "kl_to_final", "top_k_ids", "top_k_log_probs"):
        torch.testing.assert_close(
            getattr(last, stat)[:, :, 0], getattr(full, stat)[:, rows, positions], atol=1e-5, rtol=0
        )
