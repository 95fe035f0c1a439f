"""Dependency-relation heads: CoNLL-U reading, alignment, the word-level conversion."""

import pytest
import torch

from mechscope.core.batch import pad_token_lists
from mechscope.core.errors import MechscopeError
from mechscope.data.conllu import Sentence, read_conllu
from mechscope.heads import detect_heads
from mechscope.heads.patterns import attention_patterns
from mechscope.heads.syntax import (
    DependencyAccumulator,
    Direction,
    SyntaxScores,
    align,
    align_all,
    dependency_scores,
    word_predictions,
)
from mechscope.models import load_model

CONLLU = """# text = The cat saw a dog.
1	The	the	DET	DT	_	2	det	_	_
2	cat	cat	NOUN	NN	_	3	nsubj	_	_
3	saw	see	VERB	VBD	_	0	root	_	_
4	a	a	DET	DT	_	5	det	_	_
5	dog	dog	NOUN	NN	_	3	obj	_	SpaceAfter=No
6	.	.	PUNCT	.	_	3	punct	_	_

# text = I don't know.
1-2	don't	_	_	_	_	_	_	_	_
1	I	I	PRON	PRP	_	3	nsubj	_	_
2	do	do	AUX	VBP	_	3	aux	_	_
3	n't	not	PART	RB	_	4	advmod	_	_
4	know	know	VERB	VB	_	0	root	_	_
5	.	.	PUNCT	.	_	4	punct	_	_

"""


@pytest.fixture(scope="module")
def model():
    return load_model("induction-2l", device="cpu")


@pytest.fixture
def conllu_file(tmp_path):
    path = tmp_path / "tiny.conllu"
    path.write_text(CONLLU)
    return path


def test_reading_keeps_syntactic_words_only(conllu_file):
    first, second = read_conllu(conllu_file)
    assert first.words == ("The", "cat", "saw", "a", "dog", ".")
    assert first.heads == (1, 2, -1, 4, 2, 2)
    assert first.relations[0] == "det"
    assert second.words == ("I", "do", "n't", "know", ".")  # the 1-2 range is skipped
    assert read_conllu(conllu_file, limit=1) == [first]


def test_unparseable_or_empty_files_are_refused(tmp_path):
    bad = tmp_path / "bad.conllu"
    bad.write_text("1\tThe\tthe\tDET\n\n")
    with pytest.raises(MechscopeError, match="does not parse as CoNLL-U"):
        read_conllu(bad)
    empty = tmp_path / "empty.conllu"
    empty.write_text("\n")
    with pytest.raises(MechscopeError, match="no sentences"):
        read_conllu(empty)
    with pytest.raises(MechscopeError, match="cannot read"):
        read_conllu(tmp_path / "missing.conllu")


def test_tokens_are_aligned_to_their_words(model):
    aligned = align(model, Sentence(("ab", "c"), (1, -1), ("det", "root")))
    assert not isinstance(aligned, str)
    # Byte tokens: BOS, a, b, space, c.
    assert aligned.word_of_token == (-1, 0, 0, -1, 1)


def test_word_attention_follows_clark_et_al(model):
    """Predictions equal a loop written straight from the definition."""
    sentence = Sentence(("xy", "z", "xyz", "w"), (1, -1, 1, 2), ("a", "root", "b", "c"))
    aligned = align(model, sentence)
    assert not isinstance(aligned, str)
    patterns = attention_patterns(model, pad_token_lists([list(aligned.tokens)], 0))[0]
    words = aligned.word_of_token
    n = len(sentence.words)
    for layer in range(model.cfg.n_layers):
        preds = word_predictions(patterns[layer][None], [aligned])
        for head in range(model.cfg.n_heads):
            p = patterns[layer, head]
            grid = torch.zeros(n, n)
            for i in range(n):
                rows = [t for t, w in enumerate(words) if w == i]
                for j in range(n):
                    cols = [t for t, w in enumerate(words) if w == j]
                    grid[i, j] = p[rows][:, cols].sum() / len(rows)
            grid.fill_diagonal_(float("-inf"))
            assert preds[0, 0, head].tolist() == grid.argmax(-1).tolist()
            assert preds[1, 0, head].tolist() == grid.argmax(-2).tolist()


def test_scores_count_relations_and_offset_baselines(model, conllu_file, tmp_path):
    scores = dependency_scores(model, read_conllu(conllu_file), progress=False)
    det = scores.relations.index("det")
    assert int(scores.counts[det]) == 2
    # Both determiners precede their noun: offset +1 is right every time.
    assert scores.best_baseline("det") == (1, 1.0)
    assert "root" not in scores.relations
    assert ((scores.accuracy >= 0) & (scores.accuracy <= 1)).all()
    head, direction, accuracy = scores.best("det")
    assert isinstance(direction, Direction) and accuracy == float(
        scores.accuracy[list(Direction).index(direction), det, head.layer, head.head]
    )
    scores.save(tmp_path / "syntax")
    loaded = SyntaxScores.load(tmp_path / "syntax")
    assert loaded.table() == scores.table()


def test_unusable_sentences_are_skipped_and_counted(model):
    long = Sentence(tuple(["word"] * 60), tuple([-1] * 60), tuple(["root"] * 60))
    fine = Sentence(("a", "b"), (1, -1), ("det", "root"))
    scores = dependency_scores(model, [long, fine], progress=False)
    assert scores.n_sentences == 1
    assert scores.skipped == {"longer than the model's context of 128 tokens": 1}
    with pytest.raises(MechscopeError, match="none of the 1 sentences"):
        dependency_scores(model, [long], progress=False)
    with pytest.raises(MechscopeError, match="no sentences"):
        dependency_scores(model, [], progress=False)


def test_syntax_rides_along_detect_heads_with_the_same_result(model, conllu_file):
    sentences = read_conllu(conllu_file) * 3  # more rows than one chunk of 4
    alone = dependency_scores(model, sentences, batch_size=4, progress=False)
    one_by_one = dependency_scores(model, sentences, memory_budget_mb=1, progress=False)
    torch.testing.assert_close(one_by_one.accuracy, alone.accuracy)
    assert torch.equal(one_by_one.counts, alone.counts)
    aligned, skipped = align_all(model, sentences)
    accumulator = DependencyAccumulator(model, aligned, skipped)
    detect_heads(
        model,
        accumulator.tokens,  # token lists, used as they are
        "induction,entropy",
        batch_size_settings(4),
        consumers=[accumulator],
        progress=False,
    )
    together = accumulator.result()
    assert together.relations == alone.relations
    assert torch.equal(together.counts, alone.counts)
    torch.testing.assert_close(together.accuracy, alone.accuracy)
    torch.testing.assert_close(together.baseline, alone.baseline)


def batch_size_settings(n):
    from mechscope.heads import DetectionSettings

    return DetectionSettings(batch_size=n)


def _sentence_lines(heads):
    words = ["a", "b", "c"]
    pairs = enumerate(zip(words, heads, strict=True))
    rows = [f"{i + 1}\t{w}\t{w}\tX\tX\t_\t{h}\tdep\t_\t_" for i, (w, h) in pairs]
    return "\n".join(rows) + "\n\n"


def test_malformed_trees_are_skipped_and_counted_by_reason(model, tmp_path):
    from mechscope.data.conllu import tree_problem

    path = tmp_path / "malformed.conllu"
    cases = {"a cycle": (2, 1, 0), "its own head": (1, 0, 1), "out of range": (0, 9, 1),
             None: (0, 1, 1)}  # fmt: skip
    path.write_text("".join(_sentence_lines(heads) for heads in cases.values()))
    sentences = read_conllu(path)
    for (expected, _), sentence in zip(cases.items(), sentences, strict=True):
        problem = tree_problem(sentence)
        assert (problem is None) if expected is None else (expected in (problem or ""))
    scores = dependency_scores(model, sentences, progress=False)
    assert scores.n_sentences == 1
    assert scores.skipped == {"malformed tree: a cycle": 1,
                              "malformed tree: a word that is its own head": 1,
                              "malformed tree: a head out of range": 1}  # fmt: skip
    with pytest.raises(MechscopeError, match="at least 1"):
        read_conllu(path, limit=0)
