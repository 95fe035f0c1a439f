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


def test_mentions_with_their_heads_chains_and_antecedents(tmp_path):
    from mechscope.data.conllu import read_mentions

    path = tmp_path / "gum.conllu"
    path.write_text(GUM.replace("She\tShe\tX", "She\tShe\tPRON"))
    found = read_mentions(path)
    spans = [(m.sentence, m.start, m.end, m.head, m.chain, m.type, m.ordinal)
             for m in found.mentions]  # fmt: skip
    assert spans == [
        (0, 0, 1, 0, "GUM_news_test/1", "person", 0),
        (0, 2, 5, 3, "GUM_news_test/2", "person", 0),  # "the mayor there": head "mayor"
        (0, 3, 4, 3, "GUM_news_test/3", "place", 0),
        (1, 0, 1, 0, "GUM_news_test/1", "person", 1),
        (2, 0, 1, 0, "GUM_bio_other/1", "person", 0),
    ]
    she = found.mentions[3]
    assert (
        she.pronoun
        and not found.mentions[0].pronoun
        and [m.start for m in found.antecedents(she)] == [0]
    )
    assert found.documents == ["GUM_news_test", "GUM_news_test", "GUM_bio_other"]
    assert found.skipped == {}


def test_malformed_mentions_are_skipped_and_counted_and_identities_may_end_in_digits(tmp_path):
    from mechscope.data.conllu import read_mentions
    from mechscope.data.entities import brackets

    assert brackets("(12-event-new-x-cf1-1-coref-Expo_2010)7)") == [
        ("12", "event", True), ("7", None, True)]  # fmt: skip
    text = "\n".join([
        "# newdoc id = GUM_news_x", "# sent_id = GUM_news_x-1",
        _row(1, "a", 2, "Entity=(1-object-new-x-cf1-1-sgl"),  # closes in the next sentence
        _row(2, "b", 0, "Entity=9)"), "",  # closes a mention never opened
        "# sent_id = GUM_news_x-2",
        _row(1, "c", 0, "Entity=1)|Other=(2-time-new-x-cf1-1-sgl"), "",  # only Entity= counts
        "# sent_id = GUM_news_x-3",
        _row(1, "d", 0, "Entity=(3-time-new-x-cf1-1-sgl"), "",  # never closed
    ])  # fmt: skip
    path = tmp_path / "bad.conllu"
    path.write_text(text)
    found = read_mentions(path)
    assert found.mentions == []
    assert found.skipped == {"a mention across sentences": 1,
                             "a mention closed that was never opened": 1,
                             "a mention never closed": 1}  # fmt: skip
    plain = tmp_path / "ewt.conllu"
    plain.write_text("# sent_id = email-1\n" + _row(1, "Hi", 0) + "\n\n")
    with pytest.raises(MechscopeError, match="no Entity= annotation"):
        read_mentions(plain)


def test_mention_heads_carry_their_type_and_whether_their_entity_recurs(tmp_path):
    path = tmp_path / "gum.conllu"
    path.write_text(GUM)
    first, second, other = read_conllu(path)
    # "the mayor there" (person, singleton) is headed by "mayor" (its head "met" lies
    # outside), which also heads the nested one-word place mention: the shorter one wins.
    assert first.head_entities == ("person", None, None, "place", None)
    assert first.head_chains == ("chain", None, None, "singleton", None)
    assert second.head_entities == ("person", None) and second.head_chains == ("chain", None)
    assert other.head_chains == ("singleton", None)


def test_labelled_sentences_from_a_tsv_and_one_line_errors(tmp_path):
    from mechscope.data.sst2 import read_sentence_tsv

    path = tmp_path / "s.tsv"
    path.write_text("sentence\tlabel\na fine film .\t1\n\nit has a\ttab inside\t0\n")
    fine, tabbed = read_sentence_tsv(path)
    assert fine.words == ("a", "fine", "film", ".") and fine.label == "1"
    assert tabbed.words == ("it", "has", "a", "tab", "inside") and tabbed.label == "0"
    assert fine.heads == (-1,) * 4 and len(read_sentence_tsv(path, limit=1)) == 1
    for text, message in (("text\tlabel\nx\t1\n", "needs a header"),
                          ("sentence\tlabel\nno label here\n", "line 2"),
                          ("sentence\tlabel\n", "no sentences")):  # fmt: skip
        path.write_text(text)
        with pytest.raises(MechscopeError, match=message):
            read_sentence_tsv(path)
    with pytest.raises(MechscopeError, match="cannot read"):
        read_sentence_tsv(tmp_path / "missing.tsv")
