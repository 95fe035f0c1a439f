"""The structural probe on hidden states that encode each tree exactly (a known answer)."""

import numpy as np
import pytest
import torch

from mechscope.core.errors import MechscopeError
from mechscope.core.results import load_result
from mechscope.data.conllu import Sentence
from mechscope.representations import Activations, Pooling, StructuralResult, structural_probe
from mechscope.representations.structural import right_branching_uuas, tree_distances

TREE = Sentence(("A", "very", "small", "mouse", "ran", "away", "."), (3, 2, 3, 4, -1, 4, 4),
                ("det", "advmod", "amod", "nsubj", "root", "advmod", "punct"),
                ("DET", "ADV", "ADJ", "NOUN", "VERB", "ADV", "PUNCT"))  # fmt: skip


def breadth_first_distances(sentence):
    """Tree distances by breadth-first search: the straightforward reference."""
    n = len(sentence.words)
    neighbours = {i: set() for i in range(n)}
    for i, h in enumerate(sentence.heads):
        if h >= 0:
            neighbours[i].add(h)
            neighbours[h].add(i)
    out = np.zeros((n, n), dtype=np.int64)
    for source in range(n):
        seen, frontier, d = {source}, [source], 0
        while frontier:
            for node in frontier:
                out[source, node] = d
            frontier = [m for node in frontier for m in neighbours[node] if m not in seen]
            seen.update(frontier)
            d += 1
    return out


def random_tree(generator, n):
    heads = [-1] + [int(torch.randint(0, i, (1,), generator=generator)) for i in range(1, n)]
    perm = torch.randperm(n, generator=generator).tolist()  # relabel so the root moves
    inverse = {old: new for new, old in enumerate(perm)}
    new_heads = [0] * n
    for old, h in enumerate(heads):
        new_heads[inverse[old]] = -1 if h < 0 else inverse[h]
    return Sentence(tuple(f"w{i}" for i in range(n)), tuple(new_heads), ("dep",) * n,
                    ("NOUN",) * n)  # fmt: skip


def encoded(sentences, seed, width=24):
    """h_i = the sum of one-hot edge vectors on the path from the root to word i, rotated.

    Then |h_i - h_j|^2 is the tree distance and |h_i|^2 the depth: a rank-``width`` B exists
    that the probe must find.
    """
    generator = torch.Generator().manual_seed(seed)
    rotation, _ = torch.linalg.qr(torch.randn(width, width, generator=generator))
    rows = []
    for s in sentences:
        for word in range(len(s.words)):
            h = torch.zeros(width)
            node = word
            while s.heads[node] >= 0:
                h[node] = 1.0  # the edge from node to its head
                node = s.heads[node]
            rows.append(h @ rotation)
    values = torch.stack(rows)
    noise = torch.randn(values.shape, generator=generator)
    group = torch.cat([torch.full((len(s.words),), i) for i, s in enumerate(sentences)])
    return Activations(torch.stack([noise, values]), ("embeddings", "layer 1"),
                       tuple(w for s in sentences for w in s.words), group, tuple(sentences),
                       Pooling.WORD_MEAN)  # fmt: skip


def test_tree_distances_equal_breadth_first_search():
    generator = torch.Generator().manual_seed(3)
    for sentence in [TREE, *(random_tree(generator, n) for n in (2, 9, 20))]:
        np.testing.assert_array_equal(tree_distances(sentence), breadth_first_distances(sentence))


def test_right_branching_baseline_leaves_out_punctuation():
    chain = Sentence(("a", "b", "c", "."), (1, 2, -1, 2), ("x",) * 4,
                     ("NOUN", "NOUN", "VERB", "PUNCT"))  # fmt: skip
    assert right_branching_uuas([chain]) == 1.0
    # TREE's non-punctuation gold edges: 0-3, 1-2, 2-3, 3-4, 4-5; the chain misses only 0-3
    assert right_branching_uuas([TREE]) == pytest.approx(4 / 5)


def test_the_probe_recovers_trees_encoded_exactly(tmp_path):
    generator = torch.Generator().manual_seed(0)
    train = [random_tree(generator, int(torch.randint(5, 20, (1,), generator=generator)))
             for _ in range(300)]  # fmt: skip
    dev = [random_tree(generator, int(torch.randint(5, 20, (1,), generator=generator)))
           for _ in range(60)]  # fmt: skip
    result = structural_probe(encoded(train, 1), encoded(dev, 1), rank=24, epochs=30,
                              lr=1e-2, progress=False)  # fmt: skip
    assert result.metric("uuas")[1] > 0.97 and result.metric("dspr")[1] > 0.95
    assert result.metric("root_accuracy")[1] > 0.95 and result.metric("nspr")[1] > 0.95
    assert result.metric("uuas")[0] < 0.4  # noise at the embeddings
    assert result.best_boundary() == 1
    standardized = structural_probe(encoded(train, 1), encoded(dev, 1), rank=24, epochs=30,
                                    lr=1e-2, boundaries=[1], standardize=True,
                                    progress=False)  # fmt: skip
    assert standardized.metric("uuas")[0] > 0.95  # an affine change of features: still linear
    result.save(tmp_path / "s")
    loaded = load_result(tmp_path / "s")
    assert isinstance(loaded, StructuralResult)
    torch.testing.assert_close(loaded.scores, result.scores)
    with pytest.raises(MechscopeError, match="word pooling"):
        sentence_units = encoded(dev, 1)
        structural_probe(
            encoded(train, 1),
            Activations(
                sentence_units.values[:, :60],
                sentence_units.boundaries,
                sentence_units.units[:60],
                torch.arange(60),
                sentence_units.sentences,
                Pooling.SENTENCE_MEAN,
            ),
            progress=False,
        )
