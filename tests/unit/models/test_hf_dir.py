"""Parity of local Hugging Face directories loaded by mechscope with Hugging Face itself."""

import json

import pytest
import torch

from mechscope.core.batch import PaddingSide, pad_token_lists
from mechscope.core.errors import ModelSpecError, PromptError, UnsupportedArchitectureError
from mechscope.models import adapt, has_lm_head, load_hf_reference, load_model
from mechscope.models.parity import Quantity, compare_with_hf
from mechscope.models.tokens import forward_kwargs
from tests.hf_factories import VOCAB

TOLERANCE = 1e-4
DECODERS = ["gpt2", "neox", "llama", "llama-gqa"]


def _ids(seed=0, batch=3, length=24):
    return torch.randint(0, VOCAB, (batch, length), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("family", DECODERS)
def test_decoder_logits_match_hf(hf_dirs, family):
    model = load_model(hf_dirs[family], device="cpu")
    reference = load_hf_reference(hf_dirs[family])
    ids = _ids()
    with torch.no_grad():
        diff = (model(ids) - reference(ids).logits).abs().max().item()
    assert diff <= TOLERANCE
    assert adapt(model).causal


def test_bert_with_mlm_head_matches_hf_logits_and_hidden_states(hf_dirs):
    model = load_model(hf_dirs["bert"], device="cpu")
    reference = load_hf_reference(hf_dirs["bert"])
    ids = _ids()
    with torch.no_grad():
        ours = model(ids)
        theirs = reference(ids)
        hidden = reference.bert(ids).last_hidden_state
        assert (model.encoder_output(ids) - hidden).abs().max().item() <= TOLERANCE
    assert (ours - theirs.prediction_logits).abs().max().item() <= TOLERANCE
    assert has_lm_head(model)


def test_bert_without_mlm_head_has_exact_hidden_states_and_nan_logits(hf_dirs):
    model = load_model(hf_dirs["bert-base"], device="cpu")
    reference = load_hf_reference(hf_dirs["bert-base"])
    ids = _ids()
    with torch.no_grad():
        diff = (model.encoder_output(ids) - reference.bert(ids).last_hidden_state).abs().max()
        logits = model(ids)
    assert diff.item() <= TOLERANCE
    assert not has_lm_head(model)
    assert torch.isnan(logits).all()


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_process_weights_keeps_log_probs(hf_dirs, family):
    raw = load_model(hf_dirs[family], device="cpu")
    processed = load_model(hf_dirs[family], device="cpu", process_weights=True)
    ids = _ids()
    with torch.no_grad():
        a = raw(ids).log_softmax(-1)
        b = processed(ids).log_softmax(-1)
    torch.testing.assert_close(a, b, atol=1e-4, rtol=0)
    assert processed.cfg.normalization_type.endswith("Pre")


@pytest.mark.parametrize("family", [*DECODERS, "bert"])
def test_compare_with_hf_reports_pass(hf_dirs, family):
    report = compare_with_hf(hf_dirs[family])
    assert report.quantity is Quantity.LOGITS
    assert report.passed(TOLERANCE)
    assert report.n_tokens == 32


def test_compare_with_hf_uses_hidden_states_without_lm_head(hf_dirs):
    report = compare_with_hf(hf_dirs["bert-base"])
    assert report.quantity is Quantity.HIDDEN_STATES
    assert report.passed(TOLERANCE)


LISTS = [[5, 9, 14, 3, 22, 8, 1], [40, 2], [7, 7, 31, 60, 12]]


@pytest.mark.parametrize("family", DECODERS)
@pytest.mark.parametrize("side", list(PaddingSide))
def test_decoder_padding_matches_one_at_a_time(hf_dirs, family, side):
    model = load_model(hf_dirs[family], device="cpu")
    batch = pad_token_lists(LISTS, pad_id=0, padding_side=side)
    with torch.no_grad():
        logits = model(batch.tokens, **forward_kwargs(model, batch))
        for i, ids in enumerate(LISTS):
            alone = model(torch.tensor([ids]))[0]
            torch.testing.assert_close(
                logits[i][batch.attention_mask[i].bool()], alone, atol=1e-5, rtol=0
            )


@pytest.mark.parametrize("family", ["bert", "bert-base"])
def test_encoder_right_padding_matches_one_at_a_time(hf_dirs, family):
    model = load_model(hf_dirs[family], device="cpu")
    batch = pad_token_lists(LISTS, pad_id=0, padding_side=PaddingSide.RIGHT)
    with torch.no_grad():
        kwargs = forward_kwargs(model, batch)
        resid = model.encoder_output(batch.tokens, None, kwargs["one_zero_attention_mask"])
        for i, ids in enumerate(LISTS):
            alone = model.encoder_output(torch.tensor([ids]))[0]
            torch.testing.assert_close(
                resid[i][batch.attention_mask[i].bool()], alone, atol=1e-5, rtol=0
            )
    left = pad_token_lists(LISTS, pad_id=0, padding_side=PaddingSide.LEFT)
    with pytest.raises(PromptError, match="left padding"):
        forward_kwargs(model, left)


def test_directory_without_config_json(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ModelSpecError, match="has no config.json"):
        load_model(tmp_path)


def test_unsupported_architecture(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "t5"}))
    with pytest.raises(UnsupportedArchitectureError, match="'t5' is not supported.*gpt2"):
        load_model(tmp_path)


def test_config_that_is_not_json(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ModelSpecError, match="not valid JSON"):
        load_model(tmp_path)


def test_bert_refuses_weight_processing(hf_dirs):
    with pytest.raises(ModelSpecError, match="post-LayerNorm"):
        load_model(hf_dirs["bert"], process_weights=True)
