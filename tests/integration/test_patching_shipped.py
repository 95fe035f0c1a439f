"""Patching on the shipped byte-level models: a real task, padding, clear errors."""

import pytest
import torch

from mechscope.core.errors import PromptError
from mechscope.core.sites import Component, every_site
from mechscope.interventions.activation import activation_patching, tokenize_pairs
from mechscope.interventions.pairs import copy_name_pairs, task_from_prompts
from mechscope.models import load_model

CLEAN = ["total = 1\nprint(tota", "x = 1\nprint(x"]
CORRUPTED = ["count = 1\nprint(tota", "y = 1\nprint(x"]
ANSWERS, WRONG = ["l", ")"], ["t", "("]


@pytest.fixture(scope="module")
def induction_2l():
    return load_model("induction-2l", device="cpu")


def test_copy_name_task_runs_on_the_byte_model(induction_2l):
    task = copy_name_pairs(induction_2l)
    runs = task.runs(induction_2l)
    assert task.clean.tokens.shape[0] == 86
    assert runs.clean_value > 3.0 > runs.corrupted_value  # the model copies the name's last letter


def test_unequal_pairs_are_refused_with_both_tokenisations(induction_2l):
    with pytest.raises(PromptError, match=r"pair 0: the clean prompt has \d+ tokens .* corrupted"):
        tokenize_pairs(induction_2l, ["abc"], ["abcd"])


def test_padded_pairs_give_the_mean_of_each_pair_alone(induction_2l):
    task = task_from_prompts(induction_2l, CLEAN, CORRUPTED, ANSWERS, WRONG)
    assert (task.clean.attention_mask == 0).any()
    sites = every_site(Component.RESID_PRE, 2, n_pos=5) + every_site(Component.Z, 2, n_heads=4)
    together = activation_patching(task.runs(induction_2l), sites, progress=False)
    singles = []
    for i in range(2):
        alone = task_from_prompts(
            induction_2l, [CLEAN[i]], [CORRUPTED[i]], [ANSWERS[i]], [WRONG[i]]
        )
        singles.append(activation_patching(alone.runs(induction_2l), sites, progress=False).values)
    torch.testing.assert_close(together.values, (singles[0] + singles[1]) / 2, atol=1e-4, rtol=0)


def test_head_patching_of_a_padded_batch_is_the_mean_of_each_pair_alone(induction_2l):
    from mechscope.interventions.activation import patching_hooks

    clean = ["abcd abc", "xy zw xy z", "hello hel"]  # three token lengths: padding differs
    corrupted = ["abce abc", "xy zq xy z", "jello hel"]
    answers, wrong = ["d", "w", "l"], ["e", "q", "j"]
    sites = every_site(Component.Z, 2, n_heads=4)

    def patched(*columns):
        task = task_from_prompts(induction_2l, *columns)
        runs = task.runs(induction_2l, names=patching_hooks(induction_2l, sites))
        return activation_patching(runs, sites, progress=False).values

    together = patched(clean, corrupted, answers, wrong)
    alone = [patched(*([c[i]] for c in (clean, corrupted, answers, wrong))) for i in range(3)]
    # The logit difference is a mean over prompts, so the batch's effect is the pairs' mean.
    torch.testing.assert_close(together, torch.stack(alone).mean(0), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("component", [Component.RESID_PRE, Component.ATTN_OUT])
def test_patching_by_position_of_a_padded_batch_is_the_mean_of_each_pair_alone(
    induction_2l, component
):
    # Three token lengths; every position of the longest pair, so the shorter pairs' padding
    # is patched too: a pair has no such position, so there it must keep its corrupted value.
    clean = ["abcd abc", "xy zw xy z", "hello world hel"]
    corrupted = ["abce abc", "xy zq xy z", "jello world hel"]
    answers, wrong = ["d", "w", "l"], ["e", "q", "j"]

    def patched(*columns):
        task = task_from_prompts(induction_2l, *columns)
        width = task.clean.tokens.shape[1]
        sites = every_site(component, 2, n_pos=width)
        runs = task.runs(induction_2l)
        values = activation_patching(runs, sites, progress=False).values
        return values.reshape(2, width), runs.corrupted_value  # [layer, position]

    together, _ = patched(clean, corrupted, answers, wrong)
    width = together.shape[-1]
    alone = []
    for i in range(3):
        values, unpatched = patched(*([c[i]] for c in (clean, corrupted, answers, wrong)))
        missing = width - values.shape[-1]
        alone.append(torch.nn.functional.pad(values, (0, missing), value=float(unpatched)))
    assert [a.shape[-1] for a in alone] == [width] * 3
    torch.testing.assert_close(together, torch.stack(alone).mean(0), atol=1e-5, rtol=1e-5)
