"""Activation patching: parity with TransformerLens, known answers, bad input."""

import pytest
import torch
import transformer_lens.patching as tl_patching

from mechscope.core.batch import TokenBatch
from mechscope.core.errors import MechscopeError, PromptError
from mechscope.core.results import load_result
from mechscope.core.sites import Component, Site, every_site
from mechscope.interventions.activation import (
    PatchingResult,
    activation_patching,
    patching_hooks,
)
from mechscope.interventions.choices import PatchDirection
from mechscope.interventions.engine import run_patches
from mechscope.interventions.pairs import repeated_pairs, task_from_prompts
from mechscope.interventions.runs import PairedRuns
from mechscope.models.hand_built import (
    IDLE_HEAD,
    INDUCTION_HEAD,
    PREVIOUS_TOKEN_HEAD,
    SINK_HEAD,
    induction_circuit_model,
)


@pytest.fixture(scope="module")
def hand_built():
    return induction_circuit_model()


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
def test_equal_to_transformer_lens_patching(tiny_decoder, tl_function, component, axes):
    task = repeated_pairs(tiny_decoder, n_prompts=4, half=6)
    metric = task.logit_diff()
    n_pos = task.clean.tokens.shape[1]
    sites = every_site(
        component,
        2,
        n_heads=4 if "n_heads" in axes else None,
        n_pos=n_pos if "n_pos" in axes else None,
    )
    runs = task.runs(tiny_decoder)
    ours = activation_patching(runs, sites, max_rows=20, progress=False)
    _, clean_cache = tiny_decoder.run_with_cache(task.clean.tokens)
    theirs = tl_function(tiny_decoder, task.corrupted.tokens, clean_cache, metric)
    if "n_heads" in axes and "n_pos" in axes:
        grid = ours.by_layer_head_pos(normalised=False)
    elif "n_heads" in axes:
        grid = ours.by_layer_head(normalised=False)
    else:
        grid = ours.by_layer_pos(normalised=False)
    if "pos_first" in axes:
        grid = grid.permute(0, 2, 1)
    assert float(theirs.abs().max()) > 1e-3  # the comparison is not of zeros
    torch.testing.assert_close(grid, theirs, atol=1e-5, rtol=0)


def test_each_side_runs_once_when_its_hook_points_are_named(hand_built, task):
    sites = every_site(Component.RESID_PRE, 2, n_pos=task.clean.tokens.shape[1])
    runs = task.runs(hand_built, names=patching_hooks(hand_built, sites))
    activation_patching(runs, sites, progress=False)
    assert (runs.clean.passes, runs.corrupted.passes) == (1, 1)
    lazy = task.runs(hand_built)  # nothing named up front: each side runs on first use
    assert (lazy.clean.passes, lazy.corrupted.passes) == (0, 0)
    activation_patching(lazy, sites, progress=False)
    assert (lazy.clean.passes, lazy.corrupted.passes) == (1, 1)
    more = every_site(Component.ATTN_OUT, 2)
    activation_patching(lazy, more, progress=False)  # hook points not cached: one more pass
    assert (lazy.clean.passes, lazy.corrupted.passes) == (2, 1)


def test_patching_the_induction_head_restores_the_prediction(hand_built, task):
    metric = task.logit_diff()
    sites = every_site(Component.Z, 2, n_heads=2)
    result = activation_patching(task.runs(hand_built, metric), sites, progress=False)
    assert result.clean > 2.0 and abs(result.corrupted) < 1.0
    grid = result.by_layer_head()
    assert grid[INDUCTION_HEAD] == pytest.approx(1.0, abs=0.02)
    assert abs(grid[SINK_HEAD]) < 0.02 and abs(grid[IDLE_HEAD]) < 0.02
    # At the last position only: the induction head's output there is the whole story.
    last = int(task.positions[0])
    only_last = Site(Component.Z, INDUCTION_HEAD.layer, INDUCTION_HEAD.head, last)
    single = activation_patching(task.runs(hand_built, metric), [only_last], progress=False)
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
    runs = task.runs(hand_built, metric)
    denoise = activation_patching(runs, sites, progress=False).by_layer_head()
    noise = activation_patching(runs, sites, PatchDirection.NOISING, progress=False).by_layer_head()
    # Denoising restores (> 0); noising destroys (1 - normalised > 0): same sign of importance.
    assert float(denoise[INDUCTION_HEAD]) > 0.5
    assert 1 - float(noise[INDUCTION_HEAD]) > 0.5
    assert 1 - float(noise[PREVIOUS_TOKEN_HEAD]) > 0.5  # necessary for the keys


def test_results_round_trip(hand_built, task, tmp_path):
    sites = every_site(Component.RESID_PRE, 2, n_pos=3)
    result = activation_patching(task.runs(hand_built), sites, progress=False)
    result.save(tmp_path / "patch")
    loaded = PatchingResult.load(tmp_path / "patch")
    assert loaded.sites == result.sites and torch.equal(loaded.values, result.values)
    assert loaded.by_layer_pos().shape == (2, 3)
    assert loaded.provenance.config == {"direction": "denoising", "max_rows": 64}
    assert isinstance(load_result(tmp_path / "patch"), PatchingResult)
    assert len(result.to_dataframe()) == 6
    with pytest.raises(MechscopeError, match="per-head sites"):
        result.by_layer_head()


def test_bad_input_gives_clear_errors(hand_built, task):
    with pytest.raises(PromptError, match="is 3 tokens"):
        task_from_prompts(hand_built, ["abc"], ["abd"], ["abc"], ["d"])
    runs = task.runs(hand_built)
    with pytest.raises(MechscopeError, match="layer 5 is out of range"):
        activation_patching(runs, [Site(Component.Z, 5)], progress=False)
    with pytest.raises(MechscopeError, match="head 9 is out of range"):
        activation_patching(runs, [Site(Component.Z, 0, 9)], progress=False)
    with pytest.raises(MechscopeError, match="scalar"):
        not_scalar = PairedRuns.run(
            hand_built, task.clean, task.corrupted, lambda logits: logits[:, -1]
        )
        activation_patching(not_scalar, [Site(Component.Z, 0)], progress=False)
    with pytest.raises(MechscopeError, match="no sites"):
        activation_patching(runs, [], progress=False)
    with pytest.raises(PromptError, match="different numbers of prompts"):
        one = TokenBatch(task.corrupted.tokens[:1], task.corrupted.attention_mask[:1])
        PairedRuns.run(hand_built, task.clean, one, task.logit_diff())


def test_the_summary_ranks_sites_by_the_size_of_their_effect():
    from mechscope.interventions.activation import result_summary

    sites = tuple(Site(Component.Z, 0, head=h) for h in range(4))
    result = PatchingResult(sites, torch.tensor([0.1, -0.9, 0.5, float("nan")]), 0.0, 1.0,
                            PatchDirection.DENOISING)  # fmt: skip
    # normalised = (value - corrupted) / (clean - corrupted) = 1 - value
    order = [row["site"] for row in result_summary(result, 3)]
    assert order == [str(sites[1]), str(sites[0]), str(sites[2])]  # |1.9| > |0.9| > |0.5|


def test_task_metrics_on_a_model_without_an_unembedding_are_refused(tiny_encoder):
    from mechscope.interventions.pairs import TaskPairs

    batch = TokenBatch.full(torch.tensor([[1, 2, 3]]))
    pairs = TaskPairs(batch, batch, torch.tensor([4]), torch.tensor([5]), torch.tensor([2]), "t")
    with pytest.raises(MechscopeError, match="needs a decoder with an unembedding"):
        pairs.runs(tiny_encoder)


def test_a_site_the_model_lacks_is_refused_before_any_run(hand_built, task):
    assert hand_built.cfg.attn_only
    sites = every_site(Component.RESID_MID, hand_built.cfg.n_layers, n_pos=4)
    with pytest.raises(MechscopeError, match="no resid_mid at blocks.0.hook_resid_mid"):
        task.runs(hand_built, names=patching_hooks(hand_built, sites))


@pytest.mark.parametrize("which", ["logit_diff", "loss", "probability"])
@pytest.mark.parametrize("component", [Component.RESID_PRE, Component.Z])
@pytest.mark.parametrize("mlp", [False, True], ids=["attention-only", "with MLPs"])
def test_reading_only_the_metric_rows_equals_unembedding_every_position(
    which, component, mlp, hand_built
):
    """Task metrics declare their positions, so chunks unembed only those rows; the same
    metric as an opaque callable unembeds everything. Unpadded pairs (chunks start at a
    later position too) and padded ones."""
    from mechscope.core.metrics import Metric
    from mechscope.interventions.attribution import attribution_patching
    from mechscope.interventions.engine import reads_rows

    model = hand_built
    if mlp:  # the last block's MLP then runs on the metric's rows alone
        from mechscope.models import TinyConfig, load_model

        shape = TinyConfig(n_layers=2, n_heads=4, d_model=32, d_vocab=13, attn_only=False)
        model = load_model(shape)
        model.set_tokenizer(hand_built.tokenizer)
    from mechscope.interventions.engine import _narrowable

    assert (_narrowable(model, []) is not None) == mlp
    for task in (
        repeated_pairs(model, n_prompts=3, half=6),
        task_from_prompts(model, ["abcdabc", "fgfhf"], ["abceabc", "fgfif"], ["d", "h"],
                          ["e", "i"]),
    ):  # fmt: skip
        declared = getattr(task, which)()
        opaque = Metric(declared.name, declared.fn, declared.higher_is_better)
        assert reads_rows(model, declared) and not reads_rows(model, opaque)
        n_pos = task.clean.tokens.shape[1]
        heads = model.cfg.n_heads if component.has_head_axis else None
        sites = every_site(component, model.cfg.n_layers, n_pos=n_pos, n_heads=heads)
        values = [
            activation_patching(task.runs(model, m), sites, progress=False).values
            for m in (declared, opaque)
        ]
        torch.testing.assert_close(values[0], values[1], atol=1e-5, rtol=1e-5)
        estimates = [attribution_patching(task.runs(model, m), sites).values
                     for m in (declared, opaque)]  # fmt: skip
        torch.testing.assert_close(estimates[0], estimates[1], atol=1e-5, rtol=1e-5)


def test_a_metric_position_before_every_patched_position_keeps_the_target_logits(hand_built):
    """Chunks of late positions start there (frozen keys and values before); a metric that
    reads an earlier position then takes the target run's logits at it, as the full path does."""
    from mechscope.core.metrics import Metric, at_positions

    task = repeated_pairs(hand_built, n_prompts=3, half=6)
    early = torch.full((3,), 4)

    def read(at: torch.Tensor) -> torch.Tensor:
        return at[:, 1].mean()

    declared = at_positions("logit of token 1 at position 4", read, early)
    opaque = Metric(declared.name, declared.fn)
    n_pos = task.clean.tokens.shape[1]
    sites = [s for s in every_site(Component.RESID_PRE, 2, n_pos=n_pos) if (s.pos or 0) > 6]
    values = [
        activation_patching(task.runs(hand_built, m), sites, progress=False, max_rows=6).values
        for m in (declared, opaque)
    ]
    torch.testing.assert_close(values[0], values[1], atol=1e-5, rtol=0)
    corrupted = float(read(task.runs(hand_built, opaque).corrupted.logits[:, 4]))
    torch.testing.assert_close(values[0], torch.full_like(values[0], corrupted), atol=1e-5, rtol=0)


def test_zero_rows_per_pass_and_zero_positions_are_one_line(tiny_decoder):
    from mechscope.circuits import weight_circuits
    from mechscope.interventions import PairedRuns

    tokens = torch.tensor([[1, 2, 3, 4]])
    runs = PairedRuns.run(tiny_decoder, TokenBatch.full(tokens), TokenBatch.full(tokens + 1),
                          lambda logits: logits[:, -1, 0].mean())  # fmt: skip
    with pytest.raises(MechscopeError, match="max_rows .* must be 1 or more; got 0"):
        activation_patching(runs, [Site(Component.RESID_PRE, 0)], max_rows=0, progress=False)
    with pytest.raises(MechscopeError, match="n_positions .* must be 2 or more; got 0"):
        weight_circuits(tiny_decoder, 0)
