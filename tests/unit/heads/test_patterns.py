import torch

from mechscope.core.batch import PaddingSide, pad_token_lists
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
