"""The stream's parts add up to it, and agree with TransformerLens's own decomposition."""

import pytest
import torch

from mechscope.circuits.direct import FINAL_NORM_BIAS, direct_logit_attribution
from mechscope.circuits.stream import NORM_BIASES, decompose_stream, stream_norms
from mechscope.core.batch import pad_token_lists
from mechscope.core.errors import MechscopeError
from mechscope.models import TinyConfig, load_model


def _tokens(n: int = 3, pos: int = 7, vocab: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, vocab, (n, pos), generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def mlp_decoder():
    """Random decoder with MLPs and non-trivial LayerNorm weights and attention biases."""
    model = load_model(TinyConfig(n_layers=2, n_heads=4, d_model=32, d_vocab=64, attn_only=False))
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith((".w", ".b", "b_O")):
                param.add_(0.3 * torch.randn(param.shape, generator=generator))
    return model


@pytest.mark.parametrize("layer", [0, 1, 2])
def test_decoder_parts_sum_to_the_stream(mlp_decoder, layer):
    decomposition = decompose_stream(mlp_decoder, _tokens(), layer)
    assert decomposition.error() < 1e-5
    assert decomposition.labels[:2] == ["embed", "pos_embed"]
    assert len(decomposition.labels) == 2 + layer * 5
    assert NORM_BIASES not in decomposition.labels  # pre-norm: the stream is a plain sum


@pytest.mark.parametrize("layer", [0, 1, 2])
def test_post_norm_encoder_parts_sum_to_the_stream_with_frozen_scales(tiny_encoder, layer):
    decomposition = decompose_stream(tiny_encoder, _tokens(), layer)
    assert decomposition.error() < 1e-4
    assert NORM_BIASES in decomposition.labels


def test_padded_rows_decompose_like_single_rows(mlp_decoder):
    rows = [[5, 6, 7, 8, 9], [10, 11, 12]]
    batch = decompose_stream(mlp_decoder, pad_token_lists(rows, pad_id=0))
    assert batch.error() < 1e-5
    alone = decompose_stream(mlp_decoder, torch.tensor([rows[1]]))
    assert torch.allclose(batch.parts[:, 1, :3], alone.parts[:, 0], atol=1e-5)


def test_heads_of_a_layer_equal_transformer_lens_attn_out(mlp_decoder):
    tokens = _tokens()
    decomposition = decompose_stream(mlp_decoder, tokens)
    _, cache = mlp_decoder.run_with_cache(tokens)
    stack, labels = cache.decompose_resid(layer=-1, mode="all", return_labels=True)
    labels_ours, grouped = decomposition.grouped()
    assert labels_ours == ["embed", "pos_embed", "attn 0", "mlp 0", "attn 1", "mlp 1"]
    assert labels == ["embed", "pos_embed", "0_attn_out", "0_mlp_out", "1_attn_out", "1_mlp_out"]
    assert torch.allclose(grouped, stack, atol=1e-5)


def test_direct_attribution_sums_to_the_logit_difference_and_matches_transformer_lens():
    model = load_model(TinyConfig(n_layers=2, n_heads=4, d_model=32, d_vocab=64, attn_only=False))
    tokens, answers, wrong = _tokens(), torch.tensor([1, 2, 3]), torch.tensor([4, 5, 6])
    attribution = direct_logit_attribution(model, tokens, answers, wrong)
    assert attribution.error() < 1e-5
    assert attribution.labels[-1] == FINAL_NORM_BIAS
    _, cache = model.run_with_cache(tokens)
    # TransformerLens's logit_attrs assumes ln_final's weight folded into W_U; it is 1 here.
    assert torch.equal(model.ln_final.w, torch.ones_like(model.ln_final.w))
    heads, labels = cache.stack_head_results(layer=-1, pos_slice=-1, return_labels=True)
    expected = cache.logit_attrs(heads, tokens=answers, incorrect_tokens=wrong, pos_slice=-1)
    ours = [attribution.labels.index(f"{label[1]}.{label[3]}") for label in labels]
    assert torch.allclose(attribution.values[ours, :, -1], expected, atol=1e-5)
    grid = attribution.by_head(2, 4)
    assert grid[1, 2] == pytest.approx(float(attribution.at_last()[ours[6]].mean()))


def test_direct_attribution_with_rms_norm_and_grouped_query_attention(hf_dirs):
    model = load_model(hf_dirs["llama-gqa"])
    tokens = _tokens(vocab=model.cfg.d_vocab)
    attribution = direct_logit_attribution(model, tokens, torch.tensor([1, 2, 3]))
    assert attribution.error() < 1e-4
    assert FINAL_NORM_BIAS not in attribution.labels  # RMSNorm has no bias
    assert decompose_stream(model, tokens, 1).error() < 1e-5


def test_encoders_and_bad_answers_are_refused(tiny_encoder, mlp_decoder):
    with pytest.raises(MechscopeError, match="needs a decoder"):
        direct_logit_attribution(tiny_encoder, _tokens(), torch.tensor([1, 2, 3]))
    with pytest.raises(MechscopeError, match="one answer"):
        direct_logit_attribution(mlp_decoder, _tokens(), torch.tensor([1, 2]))
    with pytest.raises(MechscopeError, match="outside 0..2"):
        decompose_stream(mlp_decoder, _tokens(), 3)


def test_stream_norms_against_a_direct_computation(mlp_decoder):
    tokens = _tokens()
    norms = stream_norms(mlp_decoder, tokens)
    _, cache = mlp_decoder.run_with_cache(tokens)
    resid = [cache["blocks.0.hook_resid_pre"], cache["blocks.1.hook_resid_pre"],
             cache["blocks.1.hook_resid_post"]]  # fmt: skip
    assert torch.allclose(norms.norm[2], resid[2].norm(dim=-1).mean(-1), atol=1e-5)
    write = resid[1] - resid[0]
    cosine = torch.nn.functional.cosine_similarity(write, resid[0], dim=-1).mean(-1)
    assert torch.allclose(norms.cosine[0], cosine, atol=1e-5)
    assert len(norms.summary()["write_norm"]) == 2


def test_per_position_answers_sum_to_each_positions_logit(mlp_decoder):
    tokens = _tokens()
    answers = torch.cat([tokens[:, 1:], tokens[:, :1]], dim=1)
    attribution = direct_logit_attribution(mlp_decoder, tokens, answers)
    assert attribution.error() < 1e-5
    assert torch.equal(attribution.answers, answers)


def test_a_model_with_layernorm_folded_in_decomposes_and_attributes_the_same(mlp_decoder):
    from mechscope.circuits.composition import folded

    model = folded(mlp_decoder)
    assert model.cfg.normalization_type == "LNPre"
    tokens, answers = _tokens(), torch.tensor([1, 2, 3])
    assert decompose_stream(model, tokens).error() < 1e-5
    attribution = direct_logit_attribution(model, tokens, answers)
    assert attribution.error() < 1e-4
    assert FINAL_NORM_BIAS not in attribution.labels  # LNPre: weight and bias are in W_U, b_U
    original = direct_logit_attribution(mlp_decoder, tokens, answers)
    assert torch.allclose(attribution.logit, original.logit, atol=1e-4)  # the same model


def test_an_alibi_decoder_has_no_position_part_and_its_parts_sum_to_the_stream():
    """ALiBi puts position in the scores; HookedTransformer still has a hook_pos_embed that
    never fires, which the decomposition must not read."""
    from transformer_lens import HookedTransformerConfig

    from mechscope.models import adapt

    cfg = HookedTransformerConfig(n_layers=2, d_model=16, n_heads=2, d_head=8, n_ctx=16,
                                  d_vocab=20, act_fn="gelu", normalization_type="LN",
                                  positional_embedding_type="alibi", seed=0)  # fmt: skip
    model = load_model(cfg)
    assert "hook_pos_embed" in model.hook_dict and not adapt(model).learned_positions
    result = decompose_stream(model, torch.randint(0, 20, (2, 6)))
    assert result.labels[0] == "embed" and "pos_embed" not in result.labels
    assert result.error() < 1e-5
