import pytest
import torch

from mechscope.core.errors import MechscopeError, ModelSpecError
from mechscope.models import TinyConfig, load_checkpoint, load_model, save_checkpoint
from mechscope.models.checkpoint import CHECKPOINT_CONFIG, checkpoint_metadata
from mechscope.models.tokens import tokenize
from tests.hf_factories import word_tokenizer


def _word_tokenizer(directory):
    words = ["<bos>", "<pad>", "the", "cat", "sat", "<unk>"]
    return word_tokenizer(directory, words, "<unk>", bos_token="<bos>", pad_token="<pad>")


@pytest.mark.parametrize("encoder", [False, True])
def test_round_trip_is_bit_identical(tmp_path, encoder):
    model = load_model(TinyConfig(encoder=encoder, seed=3), device="cpu")
    save_checkpoint(model, tmp_path / "ckpt", metadata={"step": 7, "note": "unit"})
    loaded = load_model(tmp_path / "ckpt", device="cpu")
    assert type(loaded) is type(model)
    for (name, a), (_, b) in zip(
        model.state_dict().items(), loaded.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    ids = torch.tensor([[1, 2, 3, 4, 5]])
    with torch.no_grad():
        if encoder:
            assert torch.equal(model.encoder_output(ids), loaded.encoder_output(ids))
        else:
            assert torch.equal(model(ids), loaded(ids))
    assert checkpoint_metadata(tmp_path / "ckpt") == {"step": 7, "note": "unit"}


def test_round_trip_keeps_the_tokenizer(tmp_path):
    model = load_model(TinyConfig(d_vocab=6), device="cpu")
    model.set_tokenizer(_word_tokenizer(tmp_path / "tok"), default_padding_side="right")
    save_checkpoint(model, tmp_path / "ckpt")
    loaded = load_checkpoint(tmp_path / "ckpt", device="cpu")
    assert loaded.tokenizer is not None
    assert tokenize(loaded, "the cat sat").tokens.tolist() == [[0, 2, 3, 4]]
    assert loaded.to_str_tokens("the cat") == ["<bos>", "the", "cat"]


def test_unwritable_directory_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(MechscopeError, match="cannot write checkpoint"):
        save_checkpoint(load_model(TinyConfig()), blocker / "ckpt")


def test_damaged_checkpoint_is_a_clear_error(tmp_path):
    save_checkpoint(load_model(TinyConfig()), tmp_path / "ckpt")
    (tmp_path / "ckpt" / CHECKPOINT_CONFIG).write_text("{broken")
    with pytest.raises(ModelSpecError, match="damaged"):
        load_model(tmp_path / "ckpt")


def test_laid_out_weights_are_stored_transposed_and_come_back_without_a_copy(tmp_path):
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    from mechscope.models.checkpoint import read_checkpoint_record

    cfg = HookedTransformerConfig(
        n_layers=1, d_model=16, n_heads=2, d_head=8, d_mlp=24, d_vocab=20, n_ctx=8,
        act_fn="silu", normalization_type="RMS", gated_mlp=True, seed=1,
    )  # fmt: skip
    model = load_model(cfg, device="cpu")  # laid out: W_in, W_gate, W_out, W_U
    save_checkpoint(model, tmp_path / "ckpt")
    record = read_checkpoint_record(tmp_path / "ckpt")
    assert record["format_version"] == 2
    assert sorted(record["transposed"]) == [
        "blocks.0.mlp.W_gate", "blocks.0.mlp.W_in", "blocks.0.mlp.W_out", "unembed.W_U",
    ]  # fmt: skip
    loaded = load_model(tmp_path / "ckpt", device="cpu")
    for (name, a), (_, b) in zip(
        model.state_dict().items(), loaded.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b) and a.stride() == b.stride(), name
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        assert torch.equal(model(ids), loaded(ids))
    # a model with no laid-out weight is written as format 1, which older readers understand
    save_checkpoint(HookedTransformer(cfg), tmp_path / "plain")  # as TransformerLens lays it out
    assert read_checkpoint_record(tmp_path / "plain")["format_version"] == 1
