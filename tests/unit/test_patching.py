"""Activation patching: parity with TransformerLens, known answers, bad input."""

import pytest
import torch
import transformer_lens.patching as tl_patching

from mechscope.data.tasks import copy_name_pairs, repeated_pairs, task_from_prompts
from mechscope.errors import MechscopeError, PromptError
from mechscope.models import load_model
from mechscope.models.hand_built import (
    IDLE_HEAD,
    INDUCTION_HEAD,
    PREVIOUS_TOKEN_HEAD,
    SINK_HEAD,
    induction_circuit_model,
)
from mechscope.patching import (
    PatchDirection,
    PatchingResult,
    activation_patching,
    run_patches,
    tokenize_pairs,
)
from mechscope.sites import Component, Site, every_site


@pytest.fixture(scope="module")
def hand_built():
    return induction_circuit_model()


@pytest.fixture(scope="module")
def induction_2l():
    return load_model("induction-2l", device="cpu")


@pytest.fixture(scope="module")
def task(hand_built):
    return repeated_pairs(hand_built, n_prompts=8, half=8)


TL_FUNCTIONS = [
    (tl_patching.get_act_patch_resid_pre, Component.RESID_PRE, {"n_pos": True}),
    (tl_patching.get_act_patch_attn_out, Component.ATTN_OUT, {"n_pos": True}),
    (tl_patching.get_act_patch_attn_head_out_all_pos, Component.Z, {"n_heads": True}),
    (tl_patching.get_act_patch_attn_head_k_all_pos, Component.K, {"n_heads": True}),
    (tl_patching.get_act_patch_attn_head_pattern_all_pos, Component.PATTERN, {"n_heads": True}),
    # By head and position: TransformerLens returns [layer, pos, head] for k and z.
    (
        tl_patching.get_act_patch_attn_head_k_by_pos,
        Component.K,
        {"n_heads": True, "n_pos": True, "pos_first": True},
    ),
    (
        tl_patching.get_act_patch_attn_head_out_by_pos,
        Component.Z,
        {"n_heads": True, "n_pos": True, "pos_first": True},
    ),
    (
        tl_patching.get_act_patch_attn_head_pattern_by_pos,
        Component.PATTERN,
        {"n_heads": True, "n_pos": True},
    ),
]


@pytest.mark.parametrize(("tl_function", "component", "axes"), TL_FUNCTIONS)
def test_equal_to_transformer_lens_patching(induction_2l, tl_function, component, axes):
    task = repeated_pairs(induction_2l, n_prompts=4, half=6)
    metric = task.logit_diff()
    n_pos = task.clean.tokens.shape[1]
    sites = every_site(
        component,
        2,
        n_heads=4 if "n_heads" in axes else None,
        n_pos=n_pos if "n_pos" in axes else None,
    )
    ours = activation_patching(
        induction_2l, task.clean, task.corrupted, metric, sites, max_rows=20, progress=False
    )
    _, clean_cache = induction_2l.run_with_cache(task.clean.tokens)
    theirs = tl_function(induction_2l, task.corrupted.tokens, clean_cache, metric)
    grid = ours.grid(normalised=False)
    if "pos_first" in axes:
        grid = grid.permute(0, 2, 1)
    torch.testing.assert_close(grid, theirs, atol=1e-5, rtol=0)


def test_patching_the_induction_head_restores_the_prediction(hand_built, task):
    metric = task.logit_diff()
    sites = every_site(Component.Z, 2, n_heads=2)
    result = activation_patching(
        hand_built, task.clean, task.corrupted, metric, sites, progress=False
    )
    assert result.clean > 2.0 and abs(result.corrupted) < 1.0
    grid = result.grid()
    assert grid[INDUCTION_HEAD] == pytest.approx(1.0, abs=0.02)
    assert abs(grid[SINK_HEAD]) < 0.02 and abs(grid[IDLE_HEAD]) < 0.02
    # At the last position only: the induction head's output there is the whole story.
    last = int(task.positions[0])
    only_last = Site(Component.Z, INDUCTION_HEAD.layer, INDUCTION_HEAD.head, last)
    single = activation_patching(
        hand_built, task.clean, task.corrupted, metric, [only_last], progress=False
    )
    assert float(single.normalised[0]) == pytest.approx(1.0, abs=0.02)


def test_patching_a_site_with_its_own_activation_changes_nothing(hand_built, task):
    metric = task.logit_diff()
    sites = every_site(Component.RESID_PRE, 2, n_pos=task.clean.tokens.shape[1])
    sites += every_site(Component.Z, 2, n_heads=2)
    names = sorted({s.hook_name for s in sites})
    _, cache = hand_built.run_with_cache(task.clean.tokens, names_filter=names)
    groups = [[site] for site in sites]
    values = run_patches(hand_built, task.clean, {n: cache[n] for n in names}, metric, groups)
    with torch.no_grad():
        clean = float(metric(hand_built(task.clean.tokens)))
    assert values == pytest.approx([clean] * len(sites), abs=1e-5)


def test_noising_and_denoising_agree_on_the_important_heads(hand_built, task):
    metric = task.logit_diff()
    sites = every_site(Component.Z, 2, n_heads=2)
    denoise = activation_patching(
        hand_built, task.clean, task.corrupted, metric, sites, progress=False
    )
    noise = activation_patching(
        hand_built,
        task.clean,
        task.corrupted,
        metric,
        sites,
        PatchDirection.NOISING,
        progress=False,
    )
    # Denoising restores (> 0); noising destroys (1 - normalised > 0): same sign of importance.
    assert float(denoise.grid()[INDUCTION_HEAD]) > 0.5
    assert 1 - float(noise.grid()[INDUCTION_HEAD]) > 0.5
    assert 1 - float(noise.grid()[PREVIOUS_TOKEN_HEAD]) > 0.5  # necessary for the keys


def test_results_round_trip(hand_built, task, tmp_path):
    sites = every_site(Component.RESID_PRE, 2, n_pos=3)
    result = activation_patching(
        hand_built, task.clean, task.corrupted, task.logit_diff(), sites, progress=False
    )
    result.save(tmp_path / "patch")
    loaded = PatchingResult.load(tmp_path / "patch")
    assert loaded.sites == result.sites and torch.equal(loaded.values, result.values)
    assert loaded.grid().shape == (2, 3)
    assert len(result.to_dataframe()) == 6


def test_copy_name_task_runs_on_the_byte_model(induction_2l):
    task = copy_name_pairs(induction_2l)
    metric = task.logit_diff()
    with torch.no_grad():
        logits = induction_2l(task.clean.tokens, attention_mask=task.clean.attention_mask)
    clean = float(metric(logits))
    assert clean > 3.0  # the model copies the name's last letter


def test_bad_input_gives_clear_errors(induction_2l, hand_built, task):
    with pytest.raises(PromptError, match=r"pair 0: the clean prompt has \d+ tokens .* corrupted"):
        tokenize_pairs(induction_2l, ["abc"], ["abcd"])
    with pytest.raises(PromptError, match="is 3 tokens"):
        task_from_prompts(hand_built, ["abc"], ["abd"], ["abc"], ["d"])
    metric = task.logit_diff()
    with pytest.raises(MechscopeError, match="layer 5 is out of range"):
        activation_patching(
            hand_built, task.clean, task.corrupted, metric, [Site(Component.Z, 5)], progress=False
        )
    with pytest.raises(MechscopeError, match="head 9 is out of range"):
        activation_patching(
            hand_built,
            task.clean,
            task.corrupted,
            metric,
            [Site(Component.Z, 0, 9)],
            progress=False,
        )
    with pytest.raises(MechscopeError, match="scalar"):
        activation_patching(
            hand_built,
            task.clean,
            task.corrupted,
            lambda logits: logits[:, -1],
            [Site(Component.Z, 0)],
            progress=False,
        )
    with pytest.raises(MechscopeError, match="no sites"):
        activation_patching(hand_built, task.clean, task.corrupted, metric, [], progress=False)


def test_padded_pairs_give_the_mean_of_each_pair_alone(induction_2l):
    task = task_from_prompts(
        induction_2l,
        ["total = 1\nprint(tota", "x = 1\nprint(x"],
        ["count = 1\nprint(tota", "y = 1\nprint(x"],
        ["l", ")"],
        ["t", "("],
    )
    assert (task.clean.attention_mask == 0).any()
    sites = every_site(Component.RESID_PRE, 2, n_pos=5) + every_site(Component.Z, 2, n_heads=4)
    together = activation_patching(
        induction_2l, task.clean, task.corrupted, task.logit_diff(), sites, progress=False
    )
    singles = []
    for i in range(2):
        alone = task_from_prompts(
            induction_2l,
            [["total = 1\nprint(tota", "x = 1\nprint(x"][i]],
            [["count = 1\nprint(tota", "y = 1\nprint(x"][i]],
            [["l", ")"][i]],
            [["t", "("][i]],
        )
        singles.append(
            activation_patching(
                induction_2l,
                alone.clean,
                alone.corrupted,
                alone.logit_diff(),
                sites,
                progress=False,
            ).values
        )
    torch.testing.assert_close(together.values, (singles[0] + singles[1]) / 2, atol=1e-4, rtol=0)
