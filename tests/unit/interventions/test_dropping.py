"""Layer dropping against a forward pass that skips the block by hand."""

import pytest
import torch

from mechscope.core.errors import MechscopeError
from mechscope.core.results import load_result
from mechscope.interventions import LayerDropping, Measure, dropped_blocks, layer_dropping
from mechscope.models import TinyConfig, load_model

TOKENS = torch.tensor([[1, 5, 9, 3, 7, 2], [4, 4, 8, 6, 1, 0]])


@pytest.fixture(scope="module")
def decoder():
    return load_model(TinyConfig(n_layers=3, n_heads=2, d_model=16, d_vocab=12, seed=2,
                                 attn_only=False))  # fmt: skip


def _skipping(model, skip):  # noqa: ANN001, ANN202
    """Logits with the blocks in ``skip`` left out of the stream, by hand."""
    x = model.embed(TOKENS) + model.pos_embed(TOKENS)
    for layer, block in enumerate(model.blocks):
        if layer not in skip:
            x = block(x)
    return model.unembed(model.ln_final(x))


@torch.no_grad()
def test_a_dropped_block_passes_its_input_through(decoder):
    for skip in ([1], [0, 2], [1, 2]):
        with dropped_blocks(decoder, skip):
            dropped = decoder(TOKENS)
        torch.testing.assert_close(dropped, _skipping(decoder, skip), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(decoder(TOKENS), _skipping(decoder, []))  # hooks removed


@torch.no_grad()
def test_post_norm_encoders_skip_to_the_normalised_output(tiny_encoder):
    ids = torch.tensor([[2, 5, 7, 3]])
    with dropped_blocks(tiny_encoder, [0]):
        _, cache = tiny_encoder.run_with_cache(ids)
    torch.testing.assert_close(cache["blocks.0.hook_normalized_resid_post"],
                               cache["blocks.0.hook_resid_pre"])  # fmt: skip


def test_every_condition_runs_every_measure(decoder, tmp_path):
    def loss(model):  # noqa: ANN001, ANN202
        logits = model(TOKENS)
        return float(torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1),
                                                       TOKENS[:, 1:].flatten()))  # fmt: skip

    top = Measure("top logit", lambda m: float(m(TOKENS)[:, -1].max()))
    result = layer_dropping(decoder, [Measure("loss", loss, False), top], progress=False)
    assert result.conditions[:2] == ("intact", "drop block 0") and len(result.conditions) == 7
    with torch.no_grad():
        assert result.value("drop block 1", "loss") == pytest.approx(float(
            torch.nn.functional.cross_entropy(_skipping(decoder, [1])[:, :-1].flatten(0, 1),
                                              TOKENS[:, 1:].flatten())), abs=1e-5)  # fmt: skip
        top_two = float(_skipping(decoder, [1, 2])[:, -1].max())
    assert result.value("drop top 2", "top logit") == pytest.approx(top_two, abs=1e-5)
    harm = result.harm("loss")
    assert harm[0] == 0 and result.most_needed("loss") == int(harm[1:4].argmax())
    assert result.single("loss").shape == (3,) and result.cumulative("top logit").shape == (3,)
    result.save(tmp_path / "drop")
    assert isinstance(load_result(tmp_path / "drop"), LayerDropping)
    with pytest.raises(MechscopeError, match="outside 0..2"), dropped_blocks(decoder, [3]):
        pass
    with pytest.raises(MechscopeError, match="no measures"):
        layer_dropping(decoder, [], progress=False)
    some = layer_dropping(decoder, [top], single=False, top=[3, 1], progress=False)
    assert some.conditions == ("intact", "drop top 1", "drop top 3") and some.top_ks == [1, 3]
    with pytest.raises(MechscopeError, match="outside 1..3"):
        layer_dropping(decoder, [top], top=[4], progress=False)
