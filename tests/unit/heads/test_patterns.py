import pytest
import torch

from mechscope.core.batch import PaddingSide, pad_token_lists
from mechscope.core.errors import MechscopeError
from mechscope.heads.patterns import attention_mass, attention_patterns


def test_patterns_match_a_full_cache_and_zero_padding(tiny_decoder):
    batch = pad_token_lists([[1, 2, 3, 4], [5, 6]], pad_id=0, padding_side=PaddingSide.LEFT)
    patterns = attention_patterns(tiny_decoder, batch)
    assert patterns.shape == (2, 2, 4, 4, 4)
    _, cache = tiny_decoder.run_with_cache(torch.tensor([[5, 6]]))
    for layer in range(2):
        alone = cache[f"blocks.{layer}.attn.hook_pattern"][0]
        torch.testing.assert_close(patterns[1, layer, :, 2:, 2:], alone, atol=1e-6, rtol=0)
    assert patterns[1, :, :, :2, :].abs().max() == 0  # padding rows
    assert patterns[1, :, :, :, :2].abs().max() == 0  # padding columns
    torch.testing.assert_close(patterns[0].sum(-1), torch.ones(2, 4, 4))


def test_attention_mass_on_a_hand_built_pattern():
    # One prompt, 3 tokens; head 0 always attends to token 0, head 1 to itself.
    first = torch.tensor([[1.0, 0, 0], [1, 0, 0], [1, 0, 0]])
    self_ = torch.eye(3)
    patterns = torch.stack([first, self_])[None, None]  # batch layer head dest src
    targets = torch.tensor([[True, False, False]])
    mask = torch.ones(1, 3, dtype=torch.bool)
    mass = attention_mass(patterns, targets, mask)
    torch.testing.assert_close(mass, torch.tensor([[1.0, 1 / 3]]))
    # Padding destinations do not count.
    mask = torch.tensor([[True, True, False]])
    torch.testing.assert_close(attention_mass(patterns, targets, mask), torch.tensor([[1.0, 0.5]]))


@pytest.mark.parametrize("family", ["llama-gqa", "bert"])
def test_queries_and_keys_rebuild_the_pattern_with_rotary_and_shared_key_heads(hf_dirs, family):
    """Softmax of q.k / scale is the model's own pattern (rotary, grouped keys, encoders)."""
    from mechscope.heads import query_key
    from mechscope.models import load_model

    model = load_model(hf_dirs[family])
    last = model.cfg.n_layers - 1, model.cfg.n_heads - 1
    for layer, head in ((0, 0), last):
        qk = query_key(model, torch.tensor([3, 17, 5, 9, 2, 11, 4]), layer, head)
        assert len(qk.str_tokens) == qk.q.shape[0] == qk.k.shape[0]
        torch.testing.assert_close(qk.scores().softmax(-1), qk.pattern, atol=1e-5, rtol=1e-4)
    with pytest.raises(MechscopeError, match="outside the model"):
        query_key(model, torch.tensor([1, 2]), model.cfg.n_layers, 0)
