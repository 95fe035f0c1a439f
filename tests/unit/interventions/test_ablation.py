import pytest
import torch

from mechscope.core.axes import HeadId
from mechscope.core.batch import pad_token_lists
from mechscope.core.errors import MechscopeError
from mechscope.core.results import load_result
from mechscope.interventions.ablation import (
    AblationEffects,
    ablate,
    ablation_effects,
    resample_sources,
)
from mechscope.interventions.choices import AblationType

TOKENS = torch.tensor([[1, 5, 9, 2, 7, 3], [4, 4, 8, 1, 0, 6]])


def test_hooks_are_removed_even_when_the_block_raises(tiny_decoder):
    before = tiny_decoder(TOKENS)
    with pytest.raises(RuntimeError, match="boom"), ablate(tiny_decoder, [(1, 2)]):
        assert not torch.equal(tiny_decoder(TOKENS), before)
        raise RuntimeError("boom")
    assert all(not hp.fwd_hooks for hp in tiny_decoder.hook_dict.values())
    assert torch.equal(tiny_decoder(TOKENS), before)


def test_zero_ablating_every_head_leaves_embeddings_and_biases(tiny_decoder):
    model = tiny_decoder
    heads = [HeadId(layer, h) for layer in range(2) for h in range(4)]
    with ablate(model, heads, AblationType.ZERO):
        logits = model(TOKENS)
    resid = model.W_E[TOKENS] + model.W_pos[: TOKENS.shape[1]] + model.b_O.sum(0)
    expected = model.unembed(model.ln_final(resid))
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=0)


def test_mean_over_the_same_prompt_changes_nothing(tiny_decoder):
    prompt = TOKENS[:1]
    with ablate(tiny_decoder, [(0, 1), (1, 3)], "mean", reference=prompt):
        ablated = tiny_decoder(prompt)
    torch.testing.assert_close(ablated, tiny_decoder(prompt), atol=1e-5, rtol=0)


def test_resample_never_gives_a_prompt_its_own_activations(tiny_decoder):
    for n in (2, 3, 5, 8):
        for seed in range(20):
            order = resample_sources(n, n, seed)
            assert sorted(order.tolist()) == list(range(n))  # a permutation
            assert not (order == torch.arange(n)).any()  # with no fixed point
        drawn = resample_sources(3 * n, n, seed=1)
        assert not (drawn[:n] == torch.arange(n)).any() and int(drawn.max()) < n
    # Two prompts swap: each runs with the other's z at the ablated heads.
    heads = [(0, 1), (1, 3)]
    with ablate(tiny_decoder, heads, "resample", reference=TOKENS):
        resampled = tiny_decoder(TOKENS)
    for i, other in ((0, 1), (1, 0)):  # the mean over one prompt is that prompt's z
        with ablate(tiny_decoder, heads, "mean", reference=TOKENS[other : other + 1]):
            by_hand = tiny_decoder(TOKENS[i : i + 1])
        torch.testing.assert_close(resampled[i : i + 1], by_hand, atol=1e-5, rtol=0)
    assert not torch.allclose(resampled, tiny_decoder(TOKENS))
    with (
        pytest.raises(MechscopeError, match="at least 2 reference prompts"),
        ablate(tiny_decoder, heads, "resample", reference=TOKENS[:1]),
    ):
        pass


def test_heads_are_a_non_empty_list(tiny_decoder):
    with pytest.raises(MechscopeError, match="no heads given"), ablate(tiny_decoder, []):
        pass
    with pytest.raises(MechscopeError, match=r"write \['1.1'\]"), ablate(tiny_decoder, "1.1"):
        pass


def test_mean_ablation_uses_the_reference_mean(tiny_decoder):
    # Over a reference of two different prompts, a per-position mean differs from both.
    with ablate(tiny_decoder, [(0, 0)], "mean", reference=TOKENS):
        ablated = tiny_decoder(TOKENS[:1])
    assert not torch.allclose(ablated, tiny_decoder(TOKENS[:1]))


def test_bad_ablation_input(tiny_decoder):
    with (
        pytest.raises(MechscopeError, match="unknown ablation 'median'"),
        ablate(tiny_decoder, [(0, 0)], "median"),
    ):
        pass
    with (
        pytest.raises(MechscopeError, match=r"head 2\.0 is out of range"),
        ablate(tiny_decoder, [(2, 0)]),
    ):
        pass
    with (
        pytest.raises(MechscopeError, match="needs a non-empty reference"),
        ablate(tiny_decoder, [(0, 0)], "mean"),
    ):
        pass
    with (
        ablate(tiny_decoder, [(0, 0)], "mean", reference=TOKENS[:, :3]),
        pytest.raises(MechscopeError, match="reference has 3 positions but the run has 6"),
    ):
        tiny_decoder(TOKENS)


def _last_logit_mean(logits):
    return logits[:, -1].mean()


@pytest.mark.parametrize("how", ["zero", "mean"])
def test_ablation_effects_equal_one_ablation_at_a_time(tiny_decoder, how):
    batch = pad_token_lists(TOKENS.tolist(), 0)
    reference = pad_token_lists([[3, 1, 4, 1, 5, 9], [2, 6, 5, 3, 5, 8]], 0)
    effects = ablation_effects(
        tiny_decoder, batch, _last_logit_mean, "all", how, reference, max_rows=6
    )
    assert len(effects.heads) == 8
    with torch.no_grad():
        clean = float(_last_logit_mean(tiny_decoder(TOKENS)))
    assert effects.clean == pytest.approx(clean)
    for head, value in zip(effects.heads, effects.ablated.tolist(), strict=True):
        with torch.no_grad(), ablate(tiny_decoder, [head], how, reference=reference.tokens):
            expected = float(_last_logit_mean(tiny_decoder(TOKENS)))
        assert value == pytest.approx(expected, abs=1e-5)
    grid = effects.as_grid(2, 4)
    assert grid[1, 3] == pytest.approx(float(effects.change[-1]))


def test_ablation_effects_refuse_a_non_scalar_metric(tiny_decoder):
    batch = pad_token_lists(TOKENS.tolist(), 0)
    with pytest.raises(MechscopeError, match="scalar"):
        ablation_effects(tiny_decoder, batch, lambda logits: logits[:, -1], [(0, 0)])


def test_ablation_effects_by_layer_equal_ablating_the_whole_layer(tiny_decoder):
    batch = pad_token_lists(TOKENS.tolist(), 0)
    effects = ablation_effects(tiny_decoder, batch, _last_logit_mean, "layers")
    assert effects.labels == ["L0", "L1"] and effects.heads == ()
    for layer, value in enumerate(effects.ablated.tolist()):
        with torch.no_grad(), ablate(tiny_decoder, [(layer, h) for h in range(4)]):
            expected = float(_last_logit_mean(tiny_decoder(TOKENS)))
        assert value == pytest.approx(expected, abs=1e-5)
    assert effects.as_grid(2, 4).isnan().all()


def test_ablation_effects_take_groups_of_heads_and_round_trip(tiny_decoder, tmp_path):
    batch = pad_token_lists(TOKENS.tolist(), 0)
    joint = [HeadId(0, 1), HeadId(1, 2)]
    effects = ablation_effects(tiny_decoder, batch, _last_logit_mean, [joint, (1, 0)])
    assert effects.labels == ["0.1,1.2", "1.0"]
    with torch.no_grad(), ablate(tiny_decoder, joint):
        expected = float(_last_logit_mean(tiny_decoder(TOKENS)))
    assert float(effects.ablated[0]) == pytest.approx(expected, abs=1e-5)
    effects.save(tmp_path / "ablation")
    loaded = load_result(tmp_path / "ablation")
    assert isinstance(loaded, AblationEffects) and loaded.groups == effects.groups
    assert (
        torch.equal(loaded.ablated, effects.ablated) and loaded.provenance.config["how"] == "zero"
    )


@pytest.mark.parametrize(
    ("heads", "message"),
    [
        (["1.1"], None),  # a "LAYER.HEAD" string is read as that head
        (["1.x"], "is not LAYER.HEAD"),
        ([(1.5, 0)], "as two integers"),
        ([(1, 1), (1, 1)], "given twice"),
        ([(9, 0)], "out of range"),
    ],
)
def test_heads_are_checked_with_one_line_errors(tiny_decoder, heads, message):
    from mechscope.interventions.ablation import check_heads

    if message is None:
        assert check_heads(tiny_decoder, heads) == [HeadId(1, 1)]
    else:
        with pytest.raises(MechscopeError, match=message):
            check_heads(tiny_decoder, heads)


def test_resampling_is_the_same_in_every_pass_and_set_by_the_seed(tiny_decoder):
    generator = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, 64, (6, 10), generator=generator)
    heads = [(0, 1), (1, 2)]

    def twice(seed):
        with ablate(tiny_decoder, heads, "resample", tokens, seed=seed) as model:
            return model(tokens), model(tokens)

    first, second = twice(0)
    assert torch.equal(first, second)  # two passes inside one block agree
    assert torch.equal(twice(0)[0], first)  # and the seed reproduces them
    assert not torch.equal(twice(3)[0], first)  # another seed draws other prompts
    batch = pad_token_lists(tokens.tolist(), 0)
    from mechscope.core.metrics import next_token_loss

    a = ablation_effects(tiny_decoder, batch, next_token_loss(batch), heads, "resample", seed=0)
    b = ablation_effects(tiny_decoder, batch, next_token_loss(batch), heads, "resample", seed=0)
    c = ablation_effects(tiny_decoder, batch, next_token_loss(batch), heads, "resample", seed=5)
    assert torch.equal(a.ablated, b.ablated) and not torch.equal(a.ablated, c.ablated)


def test_per_prompt_ablation_effects_keep_each_prompt_and_average_to_the_scalar(
    tiny_decoder, tmp_path
):
    batch = pad_token_lists(TOKENS.tolist(), 0)
    scalar = ablation_effects(tiny_decoder, batch, _last_logit_mean, [(0, 1), (1, 2)])
    rows = ablation_effects(tiny_decoder, batch, lambda logits: logits[:, -1].mean(-1),
                            [(0, 1), (1, 2)], per_prompt=True)  # fmt: skip
    assert rows.ablated_rows is not None and rows.clean_rows is not None
    assert rows.ablated_rows.shape == (2, len(TOKENS))
    torch.testing.assert_close(rows.ablated, scalar.ablated, rtol=1e-5, atol=1e-5)
    assert rows.clean == pytest.approx(scalar.clean, abs=1e-5)
    for i, head in enumerate(rows.heads):  # each prompt's value is that prompt ablated alone
        with torch.no_grad(), ablate(tiny_decoder, [head]):
            expected = tiny_decoder(TOKENS)[:, -1].mean(-1)
        torch.testing.assert_close(rows.ablated_rows[i], expected, rtol=1e-5, atol=1e-5)
    changes = rows.ablated_rows - rows.clean_rows
    expected_se = changes.std(-1) / len(TOKENS) ** 0.5
    torch.testing.assert_close(rows.change_stderr, expected_se)
    assert scalar.change_stderr.isnan().all()  # no per-prompt values, no standard error
    assert [r["change_stderr"] for r in rows.to_rows()] == pytest.approx(expected_se.tolist())
    rows.save(tmp_path / "rows")
    loaded = load_result(tmp_path / "rows")
    assert isinstance(loaded, AblationEffects) and loaded.ablated_rows is not None
    assert torch.equal(loaded.ablated_rows, rows.ablated_rows)
    with pytest.raises(MechscopeError, match="one value per prompt"):
        ablation_effects(tiny_decoder, batch, _last_logit_mean, [(0, 1)], per_prompt=True)
