import pytest
import torch

from mechscope.core.batch import PaddingSide, TokenBatch, pad_token_lists
from mechscope.core.errors import PromptError
from mechscope.models.tokens import forward_kwargs


def test_pad_token_lists_right_and_left():
    right = pad_token_lists([[5, 6, 7], [8]], pad_id=0, padding_side=PaddingSide.RIGHT)
    assert right.tokens.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert right.attention_mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    left = pad_token_lists([[5, 6, 7], [8]], pad_id=0, padding_side=PaddingSide.LEFT)
    assert left.tokens.tolist() == [[5, 6, 7], [0, 0, 8]]
    assert left.attention_mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    assert left.lengths.tolist() == [3, 1]
    assert left.unpadded(1).tolist() == [8]


def test_pad_token_lists_rejects_empty_input():
    with pytest.raises(PromptError, match="no prompts"):
        pad_token_lists([], pad_id=0)
    with pytest.raises(PromptError, match=r"prompts \[1\] tokenise to nothing"):
        pad_token_lists([[1], []], pad_id=0)


def test_token_batch_validates_its_mask():
    # jaxtyping's runtime check (on in tests) or __post_init__ (always) rejects the mismatch.
    with pytest.raises((ValueError, TypeError), match="differ in shape|attention_mask"):
        TokenBatch(torch.zeros(2, 3, dtype=torch.long), torch.ones(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="only 0 and 1"):
        TokenBatch(torch.zeros(1, 2, dtype=torch.long), torch.tensor([[1, 2]]))


def test_prompt_over_n_ctx_is_a_clear_error(tiny_decoder):
    n_ctx = tiny_decoder.cfg.n_ctx
    batch = pad_token_lists([[1] * 3, [1] * (n_ctx + 5)], pad_id=0)
    with pytest.raises(PromptError, match=f"context of {n_ctx} tokens; prompt 1 has {n_ctx + 5}"):
        forward_kwargs(tiny_decoder, batch)


def test_encoders_refuse_left_padding(tiny_encoder):
    batch = pad_token_lists([[1, 2], [3]], pad_id=0, padding_side=PaddingSide.LEFT)
    with pytest.raises(PromptError, match="padding_side=PaddingSide.RIGHT"):
        forward_kwargs(tiny_encoder, batch)


@pytest.mark.parametrize("side", list(PaddingSide))
def test_tiny_decoder_batched_equals_one_at_a_time(tiny_decoder, side):
    lists = [[3, 9, 4, 1, 5], [2, 6], [7, 7, 7, 8]]
    batch = pad_token_lists(lists, pad_id=0, padding_side=side)
    with torch.no_grad():
        logits = tiny_decoder(batch.tokens, **forward_kwargs(tiny_decoder, batch))
        for i, ids in enumerate(lists):
            alone = tiny_decoder(torch.tensor([ids]))[0]
            real = logits[i][batch.attention_mask[i].bool()]
            torch.testing.assert_close(real, alone, atol=1e-5, rtol=0)


@pytest.mark.parametrize("prompts", [[""], ["some text", "   "]])
def test_empty_prompts_are_refused_before_tokenising(tiny_decoder, prompts):
    # A decoder would otherwise read "" as the BOS token alone and score it.
    from mechscope.models.tokens import token_lists_of

    with pytest.raises(PromptError, match=f"prompt {len(prompts) - 1} is empty"):
        token_lists_of(tiny_decoder, prompts)


def test_partial_utf8_tokens_show_as_their_bytes(tmp_path):
    from mechscope.data.byte_tokenizer import save_byte_tokenizer
    from mechscope.models import TinyConfig, load_model
    from mechscope.models.tokens import str_tokens

    model = load_model(TinyConfig(n_layers=1, n_heads=1, d_model=8, d_vocab=258, n_ctx=8))
    model.tokenizer = save_byte_tokenizer(tmp_path / "tokenizer")
    ids = list("x é\n".encode())  # é is two bytes, 0xC3 0xA9: neither decodes alone
    assert str_tokens(model, ids) == ["x", " ", "<0xC3>", "<0xA9>", "\n"]


def test_first_and_last_real_positions_on_either_side():
    from mechscope.core.batch import first_real_positions, last_real_positions

    right = pad_token_lists([[5, 6, 7], [8]], pad_id=0, padding_side=PaddingSide.RIGHT)
    left = pad_token_lists([[5, 6, 7], [8]], pad_id=0, padding_side=PaddingSide.LEFT)
    assert first_real_positions(right.attention_mask).tolist() == [0, 0]
    assert last_real_positions(right.attention_mask).tolist() == [2, 0]
    assert first_real_positions(left.attention_mask).tolist() == [0, 2]
    assert last_real_positions(left.attention_mask).tolist() == [2, 2]


def test_every_analysis_takes_the_same_inputs_or_names_them(tiny_decoder):
    import torch

    from mechscope.core.batch import TokenBatch
    from mechscope.core.errors import MechscopeError
    from mechscope.heads import detect_heads
    from mechscope.models import attention_patterns, boundary_stream
    from mechscope.models.tokens import as_batch

    ids = torch.tensor([[1, 2, 3, 4]])
    expected = boundary_stream(tiny_decoder, TokenBatch.full(ids))
    for same in (ids, ids[0], TokenBatch.full(ids)):
        torch.testing.assert_close(boundary_stream(tiny_decoder, same), expected)
    assert attention_patterns(tiny_decoder, ids).shape[:2] == (1, 2)
    assert detect_heads(tiny_decoder, ids, ["previous-token"], progress=False) is not None
    for bad in (123, {"a": 1}, torch.tensor(3)):
        with pytest.raises(MechscopeError, match="inputs must be a prompt"):
            as_batch(tiny_decoder, bad)
    with pytest.raises(MechscopeError, match="works on images"):
        as_batch(tiny_decoder, torch.rand(1, 1, 8, 8))
