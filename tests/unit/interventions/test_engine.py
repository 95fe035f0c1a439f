"""The patching engine: where `plan_chunks` cuts groups into passes, and where a pass starts."""

import itertools

import pytest
import torch

from mechscope.interventions.engine import plan_chunks


def cost(chunks, layer, n_layers, overhead):
    return sum(len(c) * (n_layers - min(layer[i] for i in c)) + overhead for c in chunks)


def partitions(order, per_chunk):
    """Every cut of ``order`` into consecutive chunks of at most ``per_chunk``."""
    n = len(order)
    for cuts in itertools.product([False, True], repeat=n - 1):
        chunks, begin = [], 0
        for i, cut in enumerate(cuts, start=1):
            if cut:
                chunks.append(list(order[begin:i]))
                begin = i
        chunks.append(list(order[begin:]))
        if all(len(c) <= per_chunk for c in chunks):
            yield chunks


@pytest.mark.parametrize("overhead", [0.5, 6.0, 40.0])
def test_the_plan_is_the_cheapest_cut_found_by_trying_every_one(overhead):
    # 5 layers of 1 to 4 groups, sorted by layer as the engine sorts them
    layer = [0, 0, 0, 1, 2, 2, 2, 2, 3, 4, 4, 4]
    order = list(range(12))
    planned = plan_chunks(order, layer, 5, 5, overhead)
    assert sorted(i for c in planned for i in c) == order and max(map(len, planned)) <= 5
    cheapest = min(cost(c, layer, 5, overhead) for c in partitions(order, 5))
    assert cost(planned, layer, 5, overhead) == pytest.approx(cheapest)


def test_gpt2_shaped_head_patching_never_starts_a_layer_early():
    # 12 layers x 12 heads, 16 groups a pass: cut every 16, each of the 9 chunks mixed two layers
    layer = [lay for lay in range(12) for _ in range(12)]
    planned = plan_chunks(list(range(144)), layer, 16, 12, 2.0)
    assert all(len({layer[i] for i in c}) == 1 for c in planned)
    assert len(planned) == 12


# --- starting a chunk after its first layer's attention -------------------------------------

SHAPES = {  # extra HookedTransformerConfig fields of each block layout
    "gpt2-like": {"normalization_type": "LN", "act_fn": "gelu_new"},
    "neox-like (parallel, rotary)": {
        "normalization_type": "LN", "act_fn": "gelu", "parallel_attn_mlp": True,
        "positional_embedding_type": "rotary", "rotary_dim": 8,
    },
    "llama-like (GQA, gated, hooked mlp_in)": {
        "normalization_type": "RMS", "act_fn": "silu", "gated_mlp": True,
        "positional_embedding_type": "rotary", "n_key_value_heads": 2, "use_hook_mlp_in": True,
    },
    "attention-only": {"normalization_type": "LN", "attn_only": True, "act_fn": "gelu"},
}  # fmt: skip


def random_decoder(extra):
    from mechscope.models.legacy import HookedTransformer, HookedTransformerConfig

    cfg = HookedTransformerConfig(
        n_layers=3, d_model=32, n_heads=4, d_head=8, d_mlp=64, n_ctx=32, d_vocab=40, seed=0,
        **extra,
    )  # fmt: skip
    model = HookedTransformer(cfg)
    model.eval()
    return model


def patched_by_hand(model, batch, sources, metric, group):
    """The metric of one full forward pass with ``group``'s sites replaced (no engine)."""
    from mechscope.interventions.engine import site_mask
    from mechscope.models.adapter import adapt

    def hook(act, hook):
        for site in group:
            if site.hook_name == hook.name:
                where = site_mask(site, tuple(act.shape[1:]))
                act = torch.where(where, sources[hook.name].to(act), act)
        return act

    names = {s.hook_name for s in group}
    kwargs = adapt(model).forward_kwargs(batch)
    with torch.no_grad():
        logits = model.run_with_hooks(batch.inputs, fwd_hooks=[(n, hook) for n in names], **kwargs)
    return float(metric(logits))


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("padded", [False, True], ids=["unpadded", "padded"])
def test_chunks_of_head_patches_start_after_the_attention_with_the_same_values(
    shape, padded, monkeypatch
):
    """Head-output patches at a chunk's first layer are added to the cached ``resid_mid`` as
    ``(z' - z) W_O`` instead of rerunning that attention: equal to full passes with the
    sites replaced, on every block layout, single heads, one position, groups spanning
    layers, other components after the first layer; metrics read by rows, by columns or
    opaque."""
    from mechscope.core.batch import pad_token_lists
    from mechscope.core.metrics import Metric, at_columns, at_positions
    from mechscope.core.sites import Component, Site
    from mechscope.interventions import engine
    from mechscope.interventions.runs import RunCache

    model = random_decoder(SHAPES[shape])
    generator = torch.Generator().manual_seed(1)
    lengths = [9, 7, 9] if padded else [9, 9, 9]
    rows = [torch.randint(1, 40, (n,), generator=generator).tolist() for n in lengths]
    target = pad_token_lists([r[:4] + [(t + 7) % 40 for t in r[4:]] for r in rows], 0)
    source = pad_token_lists(rows, 0)
    positions = target.lengths - 1
    metric = at_positions("logit 5 - logit 6", lambda x: (x[:, 5] - x[:, 6]).mean(), positions)
    columns = at_columns("the same, by columns", lambda x: (x[:, 0] - x[:, 1]).mean(), positions,
                         torch.tensor([[5, 6]] * 3))  # fmt: skip
    opaque = Metric("opaque", metric.fn)
    groups = [[Site(Component.Z, layer, head)] for layer in range(3) for head in range(4)]
    groups += [
        [Site(Component.Z, 1, 2, pos=3)],
        [Site(Component.Z, 0, 1), Site(Component.Z, 2, 3)],  # an ablation-like group
        [Site(Component.Z, 0, 0), Site(Component.RESID_PRE, 2)],
    ]
    names = {s.hook_name for g in groups for s in g}
    with torch.no_grad():
        _, cache = model.run_with_cache(source.inputs, names_filter=lambda n: n in names,
                                        **engine.adapt(model).forward_kwargs(source))  # fmt: skip
    sources = {n: cache[n] for n in names}
    finished, real = [], engine._finish_block  # count the chunks that start late
    monkeypatch.setattr(engine, "_finish_block", lambda *a: (finished.append(a[1]), real(*a))[1])
    for m in (metric, columns, opaque):
        runs = RunCache.run(model, target, names=engine.start_hooks(model, groups))
        values = engine.patch_groups(model, runs, sources, m, groups, max_rows=12)
        assert runs.passes == 1  # start_hooks named what the late starts read
        expected = torch.tensor([patched_by_hand(model, target, sources, m, g) for g in groups])
        torch.testing.assert_close(values, expected, atol=2e-5, rtol=1e-5)
    assert set(finished) == {0, 1, 2}, "every layer's chunks start after its attention"


def test_a_chunk_with_other_sites_at_its_first_layer_or_a_foreign_hook_runs_the_attention():
    from mechscope.core.sites import Component, Site
    from mechscope.interventions.engine import _attention_skippable, _only_heads_at

    model = random_decoder(SHAPES["gpt2-like"])
    heads = [[Site(Component.Z, 1, 0)], [Site(Component.Z, 1, 1)]]
    assert _only_heads_at(heads, 1) and _attention_skippable(model, 1)
    assert _only_heads_at([*heads, [Site(Component.RESID_PRE, 2)]], 1)  # later layers: hooks
    assert not _only_heads_at([*heads, [Site(Component.RESID_MID, 1)]], 1)
    assert not _only_heads_at([[Site(Component.V, 1, 0)]], 1)
    with model.hooks(fwd_hooks=[("blocks.1.attn.hook_pattern", lambda act, hook: act)]):
        assert not _attention_skippable(model, 1)
    assert _attention_skippable(model, 1)


def test_a_patch_that_changes_nothing_is_the_targets_value_with_no_pass(monkeypatch):
    """Sites where the source run equals the target run (a decoder's positions before the
    prompts differ) are answered from the target run: exactly its value, no forward pass."""
    from mechscope.core.batch import pad_token_lists
    from mechscope.core.metrics import at_positions
    from mechscope.core.sites import Component, Site
    from mechscope.interventions import engine
    from mechscope.interventions.runs import RunCache

    model = random_decoder(SHAPES["gpt2-like"])
    generator = torch.Generator().manual_seed(2)
    rows = [torch.randint(1, 40, (8,), generator=generator).tolist() for _ in range(3)]
    source = pad_token_lists(rows, 0)
    target = pad_token_lists([r[:4] + [(t + 3) % 40 for t in r[4:]] for r in rows], 0)
    metric = at_positions("logit 5", lambda x: x[:, 5], target.lengths - 1)
    shared = [[Site(Component.RESID_PRE, layer, pos=p)] for layer in range(3) for p in range(4)]
    shared += [[Site(Component.Z, 1, 2, pos=3), Site(Component.RESID_POST, 2, pos=0)]]
    later = [[Site(Component.RESID_PRE, 1, pos=4)], [Site(Component.Z, 1, 2)],
             [Site(Component.PATTERN, 2, 1, pos=5)], [Site(Component.Z, 0, 3, pos=6)]]  # fmt: skip
    patterns = [[Site(Component.PATTERN, 2, 1, pos=3)], [Site(Component.PATTERN, 0, None, 1)]]
    names = {s.hook_name for g in shared + later + patterns for s in g}
    runs = {"source": RunCache.run(model, source, names=names),
            "target": RunCache.run(model, target, names=names)}  # fmt: skip
    sources = runs["source"].get(names)
    expected = [True] * 13 + [False] * 4 + [True] * 2
    assert engine.unchanged(runs["target"], sources, shared + later + patterns) == expected

    def no_pass(*args, **kwargs):
        raise AssertionError("a pass ran for a patch that changes nothing")

    monkeypatch.setattr(engine, "run_patches", no_pass)
    own = metric(runs["target"].logits)
    values = engine.patch_groups(model, runs["target"], sources, metric, shared, max_rows=8,
                                 per_prompt=True)  # fmt: skip
    assert torch.equal(values, own.expand(13, 3))
