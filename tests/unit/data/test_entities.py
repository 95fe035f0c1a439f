"""Entity types and mention statuses read from a hand-written CorefUD ``Entity=`` column."""

import pytest

from mechscope.core.errors import MechscopeError
from mechscope.data.conllu import read_conllu
from mechscope.data.sst2 import read_sst2


def _row(i: int, word: str, head: int, misc: str = "_") -> str:
    return f"{i}\t{word}\t{word}\tX\tX\t_\t{head}\tdep\t_\t{misc}"


GUM = "\n".join([
    "# newdoc id = GUM_news_test", "# sent_id = GUM_news_test-1",
    _row(1, "Kim", 2, "Entity=(1-person-new-x-cf1-1-coref)"),
    _row(2, "met", 0),
    _row(3, "the", 4, "Entity=(2-person-new-x-cf2-1-sgl"),
    _row(4, "mayor", 2, "Entity=(3-place-new-x-cf3-1-sgl)"),
    _row(5, "there", 2, "Entity=2)"), "",
    "# sent_id = GUM_news_test-2",
    _row(1, "She", 2, "Entity=(1-person-giv:act-x-cf1-1-coref)"),
    _row(2, "left", 0), "",
    "# newdoc id = GUM_bio_other", "# sent_id = GUM_bio_other-1",
    _row(1, "She", 2, "Entity=(1-person-new-x-cf1-1-sgl)"),
    _row(2, "slept", 0), "",
])  # fmt: skip


def test_innermost_mentions_give_types_and_statuses_per_document(tmp_path):
    path = tmp_path / "gum.conllu"
    path.write_text(GUM)
    first, second, other = read_conllu(path)
    assert first.entities == ("person", None, "person", "place", "person")
    assert first.coreference == ("first mention", None, "singleton", "singleton", "singleton")
    assert second.coreference == ("later mention", None)
    # entity 1 of another document is another entity: mentioned once there
    assert other.coreference == ("singleton", None)
    assert (first.genre, other.genre) == ("news", "bio")


def test_a_treebank_without_entities_has_no_entity_columns(tmp_path):
    path = tmp_path / "ewt.conllu"
    path.write_text("# sent_id = email-1\n" + _row(1, "Hi", 0) + "\n\n")
    (sentence,) = read_conllu(path)
    assert sentence.entities == () and sentence.coreference == () and sentence.genre == "email"


def test_sst2_keeps_full_sentences_and_rejects_other_files(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("sentence\tlabel\na fine film .\t1\nfine\t1\na dull , long mess .\t0\n")
    assert [(r.text, r.sentiment) for r in read_sst2(path)] == [
        ("a fine film .", "positive"), ("a dull , long mess .", "negative")]  # fmt: skip
    assert len(read_sst2(path, sentences_only=False)) == 3
    (tmp_path / "bad.tsv").write_text("text,label\n")
    with pytest.raises(MechscopeError, match="sentence<TAB>label"):
        read_sst2(tmp_path / "bad.tsv")
