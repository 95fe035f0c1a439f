"""`diagnose` in batches equals each diagnostic of one batch of every prompt."""

import pytest
import torch

import mechscope as ms
from mechscope.core import MechscopeError, pad_token_lists
from mechscope.data.conllu import Sentence, read_conllu
from mechscope.diagnostics import LabelledPoints, diagnose
from mechscope.heads import align_all
from tests.jobs_sharded import assert_same_results
from tests.treebank import write_treebank


@pytest.fixture(scope="module")
def model():
    return ms.load_model("induction-2l")


def _upos_reference(model, sentences):
    """The words by UPOS at their last tokens, labelled here independently of `diagnose`."""
    aligned, _ = align_all(model, sentences)
    classes = sorted({tag for a in aligned for tag in a.sentence.upos})
    rows, labels = [], []
    for a in aligned:
        row = [-1] * len(a.tokens)
        for t, word in enumerate(a.word_of_token):
            if word >= 0 and (t + 1 == len(a.tokens) or a.word_of_token[t + 1] != word):
                row[t] = classes.index(a.sentence.upos[word])
        rows.append(list(a.tokens))
        labels.append(row)
    batch = pad_token_lists(rows, 0)
    width = batch.tokens.shape[1]
    labels = torch.tensor([row + [-1] * (width - len(row)) for row in labels])
    return ms.class_geometry_by_layer(model, batch, labels, classes)


def test_diagnose_in_batches_equals_every_diagnostic_of_one_batch(model, tmp_path):
    sentences = read_conllu(write_treebank(tmp_path / "tb.conllu", n=14))
    prompts = [" ".join(s.words) for s in sentences]
    batch = ms.tokenize(model, prompts)
    expected = {
        "attention": ms.attention_stats(model, batch),
        "rank": ms.rank_stats(model, batch),
        "anisotropy": ms.anisotropy_stats(model, batch, skip_first=True),
        "gradients": ms.gradient_norms(model, batch),
        "class-geometry": _upos_reference(model, sentences),
    }
    got = diagnose(model, prompts, sentences=sentences, batch_size=4, progress=False)
    assert_same_results(got, expected)
    assert sum(got["class-geometry"].counts) == sum(len(s.words) for s in sentences)  # type: ignore[attr-defined]


def test_classes_without_points_are_left_out_of_the_geometry():
    generator = torch.Generator().manual_seed(0)
    points = LabelledPoints(torch.randn(2, 6, 3, generator=generator),
                            torch.tensor([0, 0, 2, 2, 2, 0]))  # fmt: skip
    geometry = points.geometry(["a", "b", "c"])
    assert geometry.classes == ["a", "c"] and geometry.counts == [3, 3]
    reference = ms.class_geometry(points.points[1], torch.tensor([0, 0, 1, 1, 1, 0]))
    assert float(geometry.ratio[1]) == pytest.approx(reference["ratio"], rel=1e-6)


def test_bad_input_is_refused_in_one_line(model):
    with pytest.raises(MechscopeError, match="no prompts to diagnose"):
        diagnose(model, [], progress=False)
    with pytest.raises(MechscopeError, match="batch_size must be at least 1"):
        diagnose(model, ["a b c"], batch_size=0, progress=False)
    with pytest.raises(MechscopeError, match="at least two prompts"):
        diagnose(model, ["a b c d"], progress=False)
    untagged = [Sentence(("a", "cat"), (1, -1), ("det", "root"))]
    with pytest.raises(MechscopeError, match="0 UPOS tags"):
        diagnose(model, ["a cat", "the dog"], sentences=untagged, progress=False)
