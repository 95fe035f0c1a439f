"""Corpora: CoNLL-U treebanks give their sentences' text; held-out files can be named."""

import conllu
import pytest

from mechscope.core.errors import MechscopeError
from mechscope.data.conllu import conllu_text, read_conllu
from mechscope.data.corpus import load_corpus
from tests.data import parsed_sentences

TREEBANK = """# sent_id = a-1
# text = The dog barked.
1\tThe\tthe\tDET\t_\t_\t2\tdet\t_\t_
2\tdog\tdog\tNOUN\t_\t_\t3\tnsubj\t_\t_
3\tbarked\tbark\tVERB\t_\t_\t0\troot\t_\tSpaceAfter=No
4\t.\t.\tPUNCT\t_\t_\t3\tpunct\t_\t_

1\tNo\tno\tDET\t_\t_\t2\tdet\t_\t_
2\ttext\ttext\tNOUN\t_\t_\t0\troot\t_\t_

"""


def test_treebanks_give_their_sentences_and_held_out_files_are_held_out(tmp_path):
    bank = tmp_path / "train.conllu"
    bank.write_text(TREEBANK)
    other = tmp_path / "dev.txt"
    other.write_text("held-out words")
    assert conllu_text(bank) == b"The dog barked.\nNo text"
    corpus = load_corpus([bank], held_out=[other])
    assert corpus.train.tobytes() == b"The dog barked.\nNo text"
    assert corpus.held_out.tobytes() == b"held-out words"
    assert corpus.sources == (str(bank), str(other))


# Multiword tokens (1-2) and empty nodes (2.1) are not words; a sentence without a text
# comment is its words joined by spaces.
UD_CORNERS = """# text = Don't go.
1-2\tDon't\t_\t_\t_\t_\t_\t_\t_\t_
1\tDo\tdo\tAUX\t_\t_\t3\taux\t_\t_
2\tn't\tnot\tPART\t_\t_\t3\tadvmod\t_\t_
3\tgo\tgo\tVERB\t_\t_\t0\troot\t_\tSpaceAfter=No
4\t.\t.\tPUNCT\t_\t_\t3\tpunct\t_\t_

# sent_id = 2
1\tWe\twe\tPRON\t_\t_\t2\tnsubj\t_\t_
2\tleft\tleave\tVERB\t_\t_\t0\troot\t_\t_
2.1\tleft\tleave\tVERB\t_\t_\t_\t_\t2:conj\t_
3\tearly\tearly\tADV\t_\t_\t2\tadvmod\t_\t_
"""


def parsed_text(text: str) -> bytes:
    """The reference: the same text through the full CoNLL-U parser."""
    lines = []
    for sentence in conllu.parse(text):
        words = " ".join(t["form"] for t in sentence if isinstance(t["id"], int))
        lines.append(sentence.metadata.get("text") or words)
    return "\n".join(lines).encode()


@pytest.mark.parametrize("text", [TREEBANK, UD_CORNERS])
def test_the_fast_text_reader_equals_the_parser(tmp_path, text):
    bank = tmp_path / "bank.conllu"
    bank.write_text(text)
    assert conllu_text(bank) == parsed_text(text)
    assert conllu_text(tmp_path / "bank.conllu").startswith((b"The dog", b"Don't go."))


def test_a_broken_treebank_is_one_error(tmp_path):
    bank = tmp_path / "bad.conllu"
    bank.write_text("this is prose, not a treebank\n\n")
    with pytest.raises(MechscopeError, match="does not parse as CoNLL-U"):
        load_corpus([bank])


@pytest.mark.parametrize("text", [TREEBANK, UD_CORNERS])
def test_the_sentence_reader_equals_the_parser(tmp_path, text):
    bank = tmp_path / "bank.conllu"
    bank.write_text(text)
    assert read_conllu(bank) == parsed_sentences(bank)
    assert read_conllu(bank, limit=1) == parsed_sentences(bank)[:1]


def test_a_treebank_with_a_bom_crlf_and_no_final_blank_line_reads_the_same(tmp_path):
    plain, windows = tmp_path / "plain.conllu", tmp_path / "windows.conllu"
    plain.write_text(UD_CORNERS)
    windows.write_bytes(b"\xef\xbb\xbf" + UD_CORNERS.rstrip("\n").replace("\n", "\r\n").encode())
    assert read_conllu(windows) == read_conllu(plain)
    assert [s.sent_id for s in read_conllu(plain)] == ["", "2"]


@pytest.mark.parametrize(
    ("line", "why"),
    [("x\tThe\tthe\tDET\t_\t_\t0\troot\t_\t_", "the id 'x'"),
     ("1\tThe\tthe\tDET\t_\t_\tsix\troot\t_\t_", "the head 'six'"),
     ("1\tThe\tthe", "line 1 has 3 columns")],
)  # fmt: skip
def test_a_malformed_token_line_is_one_error_naming_it(tmp_path, line, why):
    bank = tmp_path / "bad.conllu"
    bank.write_text(line + "\n\n")
    with pytest.raises(MechscopeError, match=why):
        read_conllu(bank)
    bank.write_bytes(b"1\t\xff\n\n")
    with pytest.raises(MechscopeError, match="not UTF-8"):
        read_conllu(bank)
