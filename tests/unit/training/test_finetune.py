"""Fine-tuning with frozen blocks: what is frozen stays bit-identical, what trains learns."""

import pytest
import torch

from mechscope.core.errors import MechscopeError
from mechscope.core.results import load_result
from mechscope.data.sst2 import labelled_sentence
from mechscope.models import TinyConfig, load_model
from mechscope.training import FinetuneSettings, FrozenSweep, finetune_classifier, frozen_sweep
from tests.hf_factories import word_tokenizer

WORDS = ["[PAD]", "[UNK]", "the", "film", "was", "good", "bad", "very", "long", "short"]


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    tokenizer = word_tokenizer(tmp_path_factory.mktemp("tok"), WORDS, "[UNK]", pad_token="[PAD]")
    model = load_model(TinyConfig(encoder=True, n_layers=2, n_heads=2, d_model=16,
                                  d_vocab=len(WORDS), seed=4))  # fmt: skip
    model.tokenizer = tokenizer  # HookedEncoder has no setter
    return model


def _sentences(n: int, seed: int) -> list:
    generator = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        word = ("good", "bad")[i % 2]
        extra = ("very", "long", "short")[int(torch.randint(0, 3, (1,), generator=generator))]
        out.append(labelled_sentence(("the", "film", "was", extra, word), f"s{i}",
                                     "positive" if word == "good" else "negative"))  # fmt: skip
    return out


def test_frozen_blocks_stay_bit_identical_and_the_rest_trains(encoder):
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    train = _sentences(32, 0)
    labels = torch.tensor([s.label == "positive" for s in train]).long()
    tuned, _ = finetune_classifier(encoder, train, labels, 2, frozen=1,
                                   settings=FinetuneSettings(epochs=1, batch_size=8))  # fmt: skip
    after = tuned.state_dict()
    for name, value in before.items():
        assert torch.equal(encoder.state_dict()[name], value), name  # the original is untouched
        frozen = name.startswith(("embed", "blocks.0."))
        trained = name.startswith("blocks.1.") and name.endswith(("W_Q", "W_in"))
        if frozen:
            assert torch.equal(after[name], value), name
        elif trained:
            assert not torch.equal(after[name], value), name


def test_the_sweep_learns_and_cka_is_one_below_the_frozen_blocks(encoder, tmp_path):
    sweep = frozen_sweep(encoder, _sentences(64, 1), _sentences(24, 2), frozen=[0, 2],
                         seeds=[0, 1], settings=FinetuneSettings(epochs=8, batch_size=8,
                                                                 lr=3e-3, head_lr=3e-2),
                         progress=False)  # fmt: skip
    assert sweep.accuracy.shape == (2, 2) and float(sweep.accuracy[0].min()) == 1.0
    assert float(sweep.accuracy[1].min()) >= 0.75  # a linear head on the random frozen model
    assert sweep.majority == 0.5
    # nothing below the frozen blocks moved: CKA 1 at every boundary with everything frozen
    torch.testing.assert_close(sweep.cka[1], torch.ones(3), atol=1e-5, rtol=0)
    assert float(sweep.cka[0, -1]) < 0.999  # the trained model's last layer moved
    low, high = sweep.interval(0)
    assert low <= 1.0 <= high + 1e-9
    assert [row["frozen"] for row in sweep.table()] == [0, 2]
    sweep.save(tmp_path / "sweep")
    assert isinstance(load_result(tmp_path / "sweep"), FrozenSweep)


def test_bad_input_is_refused(encoder):
    train = _sentences(4, 0)
    with pytest.raises(MechscopeError, match="frozen must be 0..2"):
        finetune_classifier(encoder, train, torch.zeros(4).long(), 2, frozen=3)
    with pytest.raises(MechscopeError, match="takes an encoder"):
        finetune_classifier(load_model(TinyConfig()), train, torch.zeros(4).long(), 2, frozen=0)
    with pytest.raises(MechscopeError, match="at least two classes"):
        frozen_sweep(encoder, train[::2], train, progress=False)
