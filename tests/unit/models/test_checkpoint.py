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
