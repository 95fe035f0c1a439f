"""The difference-of-means readout on activations with a planted class direction."""

import torch

from mechscope.core.results import load_result
from mechscope.data.conllu import Sentence
from mechscope.representations.activations import Activations
from mechscope.representations.choices import Pooling
from mechscope.representations.directions import DirectionResult, direction_readout


def _acts(n: int, seed: int) -> tuple[Activations, list[str]]:
    """Boundary 0: noise; boundary 1: the positive class shifted by 3 along dimension 0."""
    g = torch.Generator().manual_seed(seed)
    labels = ["positive" if i % 2 else "negative" for i in range(n)]
    values = torch.randn(2, n, 8, generator=g)
    values[1, 1::2, 0] += 3.0
    sentences = tuple(Sentence((f"s{i}",), (-1,), ("root",)) for i in range(n))
    acts = Activations(values=values, boundaries=("embeddings", "after block 0"),
                       units=tuple(f"s{i}" for i in range(n)), group=torch.arange(n),
                       sentences=sentences, pooling=Pooling.SENTENCE_MEAN)  # fmt: skip
    return acts, labels


def test_the_planted_direction_is_found_and_read_with_the_accuracy_counted_by_hand(tmp_path):
    train, train_labels = _acts(400, 0)
    held, held_labels = _acts(200, 1)
    result = direction_readout(train, train_labels, held, held_labels, task="sentiment",
                               n_boot=200)  # fmt: skip
    assert result.classes == ("negative", "positive") and result.best_index == 1
    assert float(result.directions[1, 0]) > 0.95  # along the planted dimension
    # by hand: project on the train mean difference, threshold halfway between the means
    x, y = train.values[1], torch.tensor([lab == "positive" for lab in train_labels])
    d = x[y].mean(0) - x[~y].mean(0)
    d = d / d.norm()
    t = float((x[y].mean(0) @ d + x[~y].mean(0) @ d) / 2)
    truth = torch.tensor([lab == "positive" for lab in held_labels])
    expected = float(((held.values[1] @ d > t) == truth).float().mean())
    assert abs(float(result.accuracy[1]) - expected) < 1e-6 and expected > 0.9
    assert float(result.accuracy[0]) < 0.65 and result.separation[1] > 2 * result.separation[0]
    assert result.ci_low[1] <= result.accuracy[1] <= result.ci_high[1]
    result.save(tmp_path)
    assert isinstance(load_result(tmp_path), DirectionResult)
