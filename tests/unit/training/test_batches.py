import numpy as np
import torch

from mechscope.data.byte_tokenizer import BOS_ID
from mechscope.training import TrainConfig
from mechscope.training.batches import training_batch


def test_training_batch_mix_and_determinism():
    cfg = TrainConfig(batch_size=8, n_ctx=64, repeat_fraction=0.5, span_min=4, span_max=10)
    text = np.frombuffer(b"hello world, " * 100, dtype=np.uint8)
    a, b = training_batch(cfg, text, 5), training_batch(cfg, text, 5)
    assert torch.equal(a, b)
    assert not torch.equal(a, training_batch(cfg, text, 6))
    assert a.shape == (8, 64) and (a[:, 0] == BOS_ID).all()
    text_rows, repeat_rows = a[:4, 1:], a[4:, 1:]
    assert set(text_rows.unique().tolist()) <= set(b"hello world, ")
    for row in repeat_rows.tolist():  # each span is followed by its own copy
        pos, found = 0, 0
        while pos < len(row):
            for n in range(4, 11):
                if row[pos : pos + n] == row[pos + n : pos + 2 * n] and pos + 2 * n <= len(row):
                    pos, found = pos + 2 * n, found + 1
                    break
            else:
                break
        assert found >= 2
