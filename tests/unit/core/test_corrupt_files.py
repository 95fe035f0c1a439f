"""Corrupt or truncated tensor files, and a tuned lens of another model: one line each."""

import pytest
import torch

from mechscope.core.batch import TokenBatch
from mechscope.core.errors import MechscopeError
from mechscope.core.results import load_result
from mechscope.lens import TunedLens
from mechscope.lens.logit import lens_trajectory
from mechscope.models import TinyConfig, load_checkpoint, load_model, save_checkpoint
from mechscope.vision import ImagePatching


def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_a_truncated_result_checkpoint_or_lens_is_one_line(tmp_path, tiny_decoder):
    ImagePatching(torch.zeros(1, 2, 5), torch.ones(1), torch.zeros(1), (2, 2)).save(tmp_path / "r")
    truncate(tmp_path / "r" / "tensors.safetensors")
    with pytest.raises(MechscopeError, match=r"tensors.safetensors cannot be read.*run the job"):
        load_result(tmp_path / "r")
    save_checkpoint(tiny_decoder, tmp_path / "c")
    truncate(tmp_path / "c" / "model.safetensors")
    with pytest.raises(MechscopeError, match=r"model.safetensors cannot be read.*delete that"):
        load_checkpoint(tmp_path / "c")
    TunedLens(2, 32).save(tmp_path / "l")
    (tmp_path / "l" / "tuned_lens.safetensors").write_bytes(b"not safetensors at all")
    with pytest.raises(MechscopeError, match=r"cannot be read.*train the tuned lens again"):
        TunedLens.load(tmp_path / "l")


def test_a_tuned_lens_of_another_model_is_refused(tiny_decoder):
    wider = load_model(TinyConfig(n_layers=2, n_heads=4, d_model=48, d_vocab=64, n_ctx=32))
    deeper = TunedLens(3, 32)
    for model, lens in ((tiny_decoder, deeper), (wider, TunedLens(2, 32))):
        with pytest.raises(MechscopeError, match="trained on another model"):
            lens_trajectory(model, TokenBatch.full(torch.tensor([[1, 2, 3]])), translator=lens)
    lens_trajectory(
        tiny_decoder, TokenBatch.full(torch.tensor([[1, 2, 3]])), translator=TunedLens(2, 32)
    )


def test_tensor_files_get_the_mode_of_the_json_beside_them(tmp_path, tiny_decoder):
    ImagePatching(torch.zeros(1, 2, 5), torch.ones(1), torch.zeros(1), (2, 2)).save(tmp_path / "r")
    save_checkpoint(tiny_decoder, tmp_path / "c")
    TunedLens(2, 32).save(tmp_path / "l")
    json_mode = (tmp_path / "r" / "result.json").stat().st_mode & 0o777
    for path in ("r/tensors.safetensors", "c/model.safetensors", "l/tuned_lens.safetensors"):
        assert (tmp_path / path).stat().st_mode & 0o777 == json_mode, path


def test_a_utf8_byte_order_mark_is_not_text(tmp_path):
    from mechscope.data.corpus import read_text
    from mechscope.data.prompts import read_prompts

    path = tmp_path / "prompts.txt"
    path.write_bytes(b"\xef\xbb\xbfThe cat\nsat down\n")
    assert read_prompts(path) == ["The cat", "sat down"]
    assert read_text(path) == b"The cat\nsat down\n"
