"""The adapter answers every family question; run_until stops a pass where asked."""

import pytest
import torch

from mechscope.core.batch import PaddingSide, TokenBatch, pad_token_lists
from mechscope.core.errors import MechscopeError, PromptError
from mechscope.core.sites import Component, Site
from mechscope.models import TinyConfig, adapt, load_model, model_spec, run_until
from mechscope.models.hand_built import induction_circuit_model

ROWS = [[1, 2, 3, 4], [5, 6]]


def test_decoder_and_encoder_answers(tiny_decoder, tiny_encoder):
    decoder, encoder = adapt(tiny_decoder), adapt(tiny_encoder)
    assert decoder.causal and not encoder.causal
    assert decoder.position_axes == ("pos",)
    assert decoder.can_start_at_layer and not encoder.can_start_at_layer
    unpadded = pad_token_lists([[1, 2, 3]], 0)
    padded = pad_token_lists(ROWS, 0)
    assert decoder.can_skip_positions(unpadded) and not decoder.can_skip_positions(padded)
    assert decoder.forward_kwargs(unpadded) == {}
    assert set(decoder.forward_kwargs(padded)) == {"attention_mask", "padding_side"}
    assert set(encoder.forward_kwargs(padded)) == {"one_zero_attention_mask"}
    left = pad_token_lists(ROWS, 0, PaddingSide.LEFT)
    with pytest.raises(PromptError, match="use padding_side=PaddingSide.RIGHT"):
        encoder.forward_kwargs(left)
    assert decoder.decoder("x") is tiny_decoder
    with pytest.raises(MechscopeError, match="the logit lens is defined here for decoders"):
        encoder.decoder("the logit lens")
    with pytest.raises(MechscopeError, match="verify needs a decoder with an unembedding"):
        encoder.require_unembedding("verify")


def test_sinks_and_start_tokens_without_a_tokenizer(tiny_decoder):
    assert adapt(tiny_decoder).start_id is None and adapt(tiny_decoder).sink_ids == []


def test_the_spec_a_model_was_loaded_from_is_recorded():
    model = load_model("induction-2l", device="cpu")
    assert model_spec(model) == "induction-2l" and adapt(model).spec == "induction-2l"
    assert adapt(model).start_id == 256  # BOS of the byte tokenizer
    random = load_model(TinyConfig(n_layers=1))
    assert model_spec(random) == random.cfg.model_name


def test_run_until_stops_after_the_hook_point_and_removes_hooks():
    model = induction_circuit_model()
    tokens = torch.tensor([[0, 1, 2, 1, 2]])
    seen: list[str] = []

    def record(act, hook):
        seen.append(hook.name)

    names = [Site(Component.PATTERN, layer).hook_name for layer in range(2)]
    names.append(Site(Component.RESID_POST, 1).hook_name)
    stopped = run_until(model, tokens, names[0], [(name, record) for name in names])
    assert stopped and seen == [names[0]]  # nothing after layer 0's pattern ran
    assert all(not hp.fwd_hooks for hp in model.hook_dict.values())
    seen.clear()
    assert run_until(model, tokens, names[1], [(name, record) for name in names])
    assert seen == names[:2]
    with pytest.raises(KeyError, match="not a hook point"):
        run_until(model, tokens, "blocks.9.hook_nothing")


def test_token_batch_is_a_batch():
    from mechscope.core.batch import Batch

    batch = TokenBatch(torch.tensor([[1, 2]]), torch.tensor([[1, 1]]))
    assert isinstance(batch, Batch) and batch.grid == (2,) and batch.inputs is batch.tokens
