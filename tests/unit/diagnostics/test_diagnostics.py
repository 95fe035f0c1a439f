"""Diagnostics against known answers: hand-made patterns, matrices, gradients."""

import math

import pytest
import torch

from mechscope.core.batch import TokenBatch, pad_token_lists
from mechscope.core.errors import MechscopeError, PromptError
from mechscope.diagnostics.anisotropy import anisotropy_of, anisotropy_stats, class_geometry
from mechscope.diagnostics.attention import (
    ONE_HOT_BELOW,
    attention_stats,
    pattern_sums,
)
from mechscope.diagnostics.gradients import (
    COMPONENTS,
    component_of,
    gradient_norms,
    grouped_norms,
)
from mechscope.diagnostics.rank import (
    distance_to_rank_one,
    effective_rank,
    rank_of_representations,
    rank_stats,
)


def _causal_uniform(n: int) -> torch.Tensor:
    pattern = torch.ones(n, n).tril()
    return pattern / pattern.sum(-1, keepdim=True)


def test_uniform_attention_has_entropy_log_n_and_one_hot_has_zero():
    n = 6
    uniform = _causal_uniform(n)
    previous = torch.zeros(n, n)
    previous[0, 0] = 1
    previous[torch.arange(1, n), torch.arange(n - 1)] = 1  # one-hot on the previous token
    patterns = torch.stack([uniform, previous])[None, None]  # batch layer head dest src
    stats = pattern_sums(patterns, torch.ones(1, n), causal=True).stats()
    expected = sum(math.log(d + 1) for d in range(1, n)) / (n - 1)  # queries 1..n-1
    assert float(stats.entropy[0, 0]) == pytest.approx(expected)
    assert float(stats.normalised_entropy[0, 0]) == pytest.approx(1.0)
    assert float(stats.entropy[0, 1]) == 0.0
    assert float(stats.max_weight[0, 1]) == 1.0
    assert float(stats.span[0, 1]) == pytest.approx(1.0)  # always one back
    assert float(stats.sink_mass[0, 1]) == pytest.approx(1 / (n - 1))  # query 1 -> 0
    assert float(stats.normalised_entropy[0, 1]) < ONE_HOT_BELOW


def test_effective_heads_counts_distinct_patterns():
    n = 5
    a, b = torch.eye(n), torch.roll(torch.eye(n), 1, dims=1)
    same = torch.stack([a, a, a])[None, None]
    distinct = torch.stack([a, b, torch.roll(torch.eye(n), 2, dims=1)])[None, None]
    mask = torch.ones(1, n)
    for patterns, heads in ((same, 1.0), (distinct, 3.0)):
        effective = pattern_sums(patterns, mask, causal=False).stats().effective_heads
        assert float(effective[0]) == pytest.approx(heads)


def test_effective_rank_and_distance_to_rank_one():
    assert effective_rank(torch.eye(7)) == pytest.approx(7.0)
    u, v = torch.randn(9, 1), torch.randn(1, 4)
    assert effective_rank(u @ v) == pytest.approx(1.0, abs=1e-6)
    rows_equal = torch.ones(9, 1) @ v
    assert distance_to_rank_one(rows_equal) == pytest.approx(0.0, abs=1e-12)
    centred = torch.randn(10, 4)
    centred = centred - centred.mean(0)
    assert distance_to_rank_one(centred) == pytest.approx(1.0)  # nothing shared to remove


def test_rank_of_padded_rows_uses_only_real_tokens():
    stream = torch.randn(2, 2, 5, 4)
    stream[:, 1, 3:] = 100.0  # padding that must not count
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    stats = rank_of_representations(stream, mask)
    assert float(stats.res[0, 1]) == pytest.approx(distance_to_rank_one(stream[0, 1, :3]))
    assert stats.spectrum.shape == (2, 16)


def test_anisotropy_of_a_space_pointing_one_way():
    direction = torch.randn(8)
    noise = 0.01 * torch.randn(1, 3, 5, 8)
    stream = torch.cat([direction + noise, torch.randn(1, 3, 5, 8)])  # boundary 0: one way
    tokens = torch.tensor([[1, 2, 3, 4, 5], [1, 2, 6, 7, 8], [9, 2, 1, 10, 11]])
    result = anisotropy_of(stream, tokens, torch.ones(3, 5))
    assert float(result.baseline[0]) > 0.99 and abs(float(result.baseline[1])) < 0.3
    assert result.n_words == 2  # tokens 1 and 2 occur in several prompts
    assert float(result.adjusted()["self_similarity"][0]) == pytest.approx(0.0, abs=0.01)
    with pytest.raises(MechscopeError, match="two prompts"):
        anisotropy_of(stream[:, :1], tokens[:1], torch.ones(1, 5))


def _reference_anisotropy(stream, tokens, mask):
    """Every pair by brute force: the baseline over all token pairs from different prompts,
    self-similarity per token id over its occurrences in different prompts, intra-sentence
    against each prompt's mean vector."""
    rows, cols = mask.bool().nonzero(as_tuple=True)
    ids = tokens[rows, cols]
    out = {"baseline": [], "self": [], "intra": []}
    for layer in stream:
        unit = torch.nn.functional.normalize(layer[rows, cols].double(), dim=-1)
        cos = unit @ unit.T
        apart = rows[:, None] != rows[None, :]
        out["baseline"].append(float(cos[apart].mean()))
        sims = []
        for token in ids.unique():
            same = (ids[:, None] == token) & (ids[None, :] == token) & apart
            if same.any():
                sims.append(float(cos[same].mean()))
        out["self"].append(sum(sims) / len(sims))
        intra = []
        for prompt in rows.unique():
            members = rows == prompt
            centre = torch.nn.functional.normalize(layer[rows, cols][members].double().mean(0),
                                                   dim=0)  # fmt: skip
            intra.append(float((unit[members] @ centre).mean()))
        out["intra"].append(sum(intra) / len(intra))
    return out


def test_anisotropy_from_sums_equals_every_pair_and_shards_add_up():
    from mechscope.diagnostics.anisotropy import anisotropy_sums

    generator = torch.Generator().manual_seed(0)
    stream = torch.randn(3, 5, 9, 8, generator=generator) + torch.randn(8, generator=generator)
    tokens = torch.randint(0, 6, (5, 9), generator=generator)
    mask = torch.ones(5, 9)
    mask[1, 6:] = 0  # right padding
    mask[3, :3] = 0  # left padding
    reference = _reference_anisotropy(stream, tokens, mask)
    whole = anisotropy_of(stream, tokens, mask)
    for got, key in ((whole.baseline, "baseline"), (whole.self_similarity, "self"),
                     (whole.intra_sentence, "intra")):  # fmt: skip
        assert got.tolist() == pytest.approx(reference[key], abs=1e-6)
    n = int(mask.sum())
    lengths = mask.sum(-1)
    assert whole.n_pairs == (n**2 - int(lengths.pow(2).sum())) // 2
    # prompts in parts (one of a single prompt, whose pairs come only from the others)
    parts = [anisotropy_sums(stream[:, a:b], tokens[a:b], mask[a:b]) for a, b in
             ((0, 2), (2, 3), (3, 5))]  # fmt: skip
    merged = (parts[0] + parts[1] + parts[2]).result()
    for field in ("baseline", "self_similarity", "intra_sentence"):
        torch.testing.assert_close(getattr(merged, field), getattr(whole, field))
    assert (merged.n_pairs, merged.n_words) == (whole.n_pairs, whole.n_words)


def test_class_geometry_of_separated_clusters():
    points = torch.cat([torch.randn(20, 3) * 0.1, torch.randn(20, 3) * 0.1 + 10])
    labels = torch.tensor([0] * 20 + [1] * 20)
    geometry = class_geometry(points, labels)
    assert geometry["inter"] == pytest.approx(10 * 3**0.5, rel=0.05)
    assert geometry["ratio"] < 0.05


def test_gradient_norms_of_a_linear_layer_are_analytic():
    """loss = sum(W x): dL/dW = 1 x^T, whose norm is sqrt(n_out) ||x||."""
    layer = torch.nn.Linear(4, 3, bias=False)
    x = torch.randn(4)
    layer(x).sum().backward()
    assert layer.weight.grad is not None
    norms, _ = grouped_norms({"blocks.0.attn.W_Q": layer.weight.grad}, 1)
    assert float(norms[0, COMPONENTS.index("attn")]) == pytest.approx(3**0.5 * float(x.norm()))


def test_parameter_names_map_to_layers_and_components():
    assert component_of("blocks.3.attn.W_Q") == (3, "attn")
    assert component_of("blocks.0.mlp.W_in") == (0, "mlp")
    assert component_of("blocks.2.ln1.w") == (2, "norm")
    assert component_of("embed.W_E") == (None, "embed")
    assert component_of("unembed.W_U") == (None, "unembed")


def test_model_diagnostics_run_and_restore_the_model(tiny_decoder, tiny_encoder):
    rows = [[1, 2, 3, 4, 5, 6], [7, 8, 9, 10]]
    batch = pad_token_lists(rows, pad_id=0)
    stats = attention_stats(tiny_decoder, batch)
    assert stats.entropy.shape == (2, 4) and (stats.normalised_entropy <= 1 + 1e-5).all()
    assert stats.effective_heads.shape == (2,)
    assert rank_stats(tiny_decoder, batch).res.shape == (3, 2)
    assert anisotropy_stats(tiny_decoder, batch).baseline.shape == (3,)
    before = [p.requires_grad for p in tiny_decoder.parameters()]
    grads = gradient_norms(tiny_decoder, batch)
    assert grads.norms.shape == (2, len(COMPONENTS)) and grads.loss > 0
    assert [p.requires_grad for p in tiny_decoder.parameters()] == before
    assert all(p.grad is None for p in tiny_decoder.parameters())
    attn = [p for p in tiny_decoder.blocks[1].attn.parameters()]
    reference = torch.autograd.grad(_loss(tiny_decoder, batch), attn, allow_unused=True)
    expected = sum(float(g.pow(2).sum()) for g in reference if g is not None) ** 0.5
    assert float(grads.norms[1, COMPONENTS.index("attn")]) == pytest.approx(expected, rel=1e-5)
    encoder_stats = attention_stats(tiny_encoder, TokenBatch.full(torch.tensor(rows[:1])))
    assert float(encoder_stats.normalised_entropy.max()) <= 1 + 1e-5
    with pytest.raises(MechscopeError, match="needs a decoder"):
        gradient_norms(tiny_encoder, TokenBatch.full(torch.tensor(rows[:1])))


def _loss(model, batch):
    from mechscope.diagnostics.gradients import mean_next_token_loss as next_token_loss

    return next_token_loss(model, batch)


def test_without_skips_replaces_the_stream_and_removes_its_hooks():
    from mechscope.diagnostics.rank import without_skips
    from mechscope.models import TinyConfig, load_model

    model = load_model(TinyConfig(n_layers=2, attn_only=False))
    tokens = torch.randint(0, 64, (2, 6), generator=torch.Generator().manual_seed(0))
    names = ["blocks.1.hook_attn_out", "blocks.1.hook_mlp_out", "blocks.1.hook_resid_post"]
    with without_skips(model):
        _, cache = model.run_with_cache(tokens, names_filter=names)
    written = cache["blocks.1.hook_attn_out"] + cache["blocks.1.hook_mlp_out"]
    assert torch.allclose(cache["blocks.1.hook_resid_post"], written, atol=1e-6)
    _, plain = model.run_with_cache(tokens, names_filter=names)
    assert not torch.allclose(plain["blocks.1.hook_resid_post"], plain["blocks.1.hook_attn_out"]
                              + plain["blocks.1.hook_mlp_out"])  # fmt: skip
    with pytest.raises(RuntimeError), without_skips(model):
        raise RuntimeError
    assert not any(hp.fwd_hooks for hp in model.hook_dict.values())  # removed on error too


def test_gradient_flags():
    from mechscope.diagnostics.gradients import GradientNorms

    def flags(per_layer):
        norms = torch.zeros(len(per_layer), len(COMPONENTS))
        norms[:, 0] = torch.tensor(per_layer)
        return GradientNorms(norms, {}, 1.0).flags()

    assert flags([1.0, 0.5]) == []
    assert flags([1e-4, 1.0]) == ["vanishing"]
    assert flags([500.0, 1.0]) == ["exploding"]  # the ratio
    assert flags([5e3, 4e3]) == ["exploding"]  # the size, ratio near 1
    assert flags([float("nan"), 1.0]) == ["exploding"]


def test_gradient_histogram_bins_log_magnitudes():
    from mechscope.diagnostics.gradients import HISTOGRAM_EDGES, gradient_histogram

    grads = {
        "blocks.0.attn.W_Q": torch.tensor([1e-3, 2e-3, 10.0, 0.0]),
        "blocks.1.mlp.W_in": torch.tensor([1e5]),
        "embed.W_E": torch.tensor([1.0]),
    }
    histogram = gradient_histogram(grads, 2)
    edges = list(HISTOGRAM_EDGES)
    expected = torch.zeros(2, len(edges) - 1)
    expected[0, edges.index(-3.0)] = 0.5  # 1e-3 and 2e-3 fall in [1e-3, 1e-2)
    expected[0, edges.index(1.0)] = 0.25  # 10 in [10, 100)
    expected[0, 0] = 0.25  # an exact zero goes to the lowest bin
    expected[1, -1] = 1.0  # 1e5 is above the top edge: the highest bin
    torch.testing.assert_close(histogram, expected)


def test_class_geometry_by_layer_equals_the_reference_at_every_boundary(tiny_decoder):
    from mechscope.diagnostics.anisotropy import class_geometry_by_layer
    from mechscope.models.run import boundary_stream

    batch = pad_token_lists([[1, 5, 9, 12, 4, 7], [3, 8, 2]], 0)
    labels = torch.tensor([[-1, 0, 1, 2, 0, 1], [-1, 2, 0, -1, -1, -1]])
    result = class_geometry_by_layer(tiny_decoder, batch, labels, ["x", "y", "z"])
    stream = boundary_stream(tiny_decoder, batch)
    keep = labels >= 0
    for b, layer in enumerate(stream):
        reference = class_geometry(layer[keep], labels[keep])
        assert float(result.ratio[b]) == pytest.approx(reference["ratio"], rel=1e-5)
        assert float(result.effective_rank[b]) == pytest.approx(
            reference["effective_rank"], rel=1e-5
        )
    assert result.counts == [3, 2, 2]


@pytest.mark.parametrize("which", ["tiny_decoder", "tiny_encoder"])
@pytest.mark.parametrize("side", ["right", "left"])
def test_diagnostics_of_a_padded_batch_equal_each_prompt_alone(which, side, request):
    from mechscope.core.batch import PaddingSide

    model = request.getfixturevalue(which)
    generator = torch.Generator().manual_seed(2)
    rows = [torch.randint(1, 64, (n,), generator=generator).tolist() for n in (14, 5, 9)]
    batch = pad_token_lists(rows, 0, PaddingSide(side))
    if which == "tiny_encoder" and side == "left":  # BERT positions start at the first slot
        with pytest.raises(PromptError, match="use padding_side=PaddingSide.RIGHT"):
            rank_stats(model, batch)
        return
    together = rank_stats(model, batch)
    for i, row in enumerate(rows):
        alone_batch = pad_token_lists([row], 0)
        alone = rank_stats(model, alone_batch)
        torch.testing.assert_close(together.res[:, i], alone.res[:, 0], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(
            together.effective_rank[:, i], alone.effective_rank[:, 0], atol=1e-4, rtol=1e-4
        )
        # Attention statistics pool over queries: a prompt padded into a wider batch (its
        # companions' rows masked out) gives what it gives alone.
        width = batch.tokens.shape[1]
        pad = [0] * (width - len(row))
        tokens = torch.tensor([row + pad if side == "right" else pad + row])
        mask = torch.tensor([[1] * len(row) + [0] * len(pad) if side == "right"
                             else [0] * len(pad) + [1] * len(row)])  # fmt: skip
        padded = TokenBatch(tokens, mask, PaddingSide(side))
        for field in ("entropy", "max_weight", "span", "sink_mass"):
            torch.testing.assert_close(getattr(attention_stats(model, padded), field),
                                       getattr(attention_stats(model, alone_batch), field),
                                       atol=1e-5, rtol=1e-4)  # fmt: skip


def test_gradient_norms_in_chunks_of_prompts_equal_the_whole_batch(tiny_decoder):
    """Chunks weighted by their share of the predicted tokens: the same gradients as one
    backward over every prompt (padded prompts of different lengths included)."""
    rows = [[1, 5, 9, 2, 7, 3, 3], [4, 4, 8], [2, 6, 1, 9, 9], [7, 3], [5, 5, 5, 1]]
    batch = pad_token_lists(rows, 0)
    whole = gradient_norms(tiny_decoder, batch, max_rows=len(rows))
    for max_rows in (1, 2):
        chunked = gradient_norms(tiny_decoder, batch, max_rows=max_rows)
        torch.testing.assert_close(chunked.norms, whole.norms, rtol=1e-5, atol=1e-7)
        assert chunked.loss == pytest.approx(whole.loss, rel=1e-6)
        assert chunked.histogram is not None and whole.histogram is not None
        assert float((chunked.histogram - whole.histogram).abs().max()) < 0.02
    assert whole.loss == pytest.approx(float(_loss(tiny_decoder, batch).detach()), rel=1e-6)
    with pytest.raises(MechscopeError, match="max_rows"):
        gradient_norms(tiny_decoder, batch, max_rows=0)


def test_feature_redundancy_of_independent_copied_and_low_rank_features():
    from mechscope.diagnostics import feature_redundancy

    generator = torch.Generator().manual_seed(0)
    independent = torch.randn(20_000, 8, generator=generator)
    corr, components = feature_redundancy(independent)
    assert corr < 0.02 and components == 8  # 90 % of isotropic variance needs all 8 (nearly)
    copies = independent[:, :1].repeat(1, 8)
    assert feature_redundancy(copies) == pytest.approx((1.0, 1))
    plane = independent[:, :2] @ torch.randn(2, 8, generator=generator)
    assert feature_redundancy(plane)[1] <= 2
    # by hand: two features, correlation c; the mean |off-diagonal| is |c|
    x = independent[:, :2].clone()
    x[:, 1] = 0.6 * x[:, 0] + 0.8 * x[:, 1]
    assert feature_redundancy(x)[0] == pytest.approx(float(torch.corrcoef(x.T)[0, 1]), abs=1e-6)
    with_dead = torch.cat([independent[:, :3], torch.zeros(20_000, 1)], dim=1)
    assert feature_redundancy(with_dead)[0] < 0.02  # a constant feature counts as uncorrelated
