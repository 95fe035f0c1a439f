"""The fast CoNLL-U text reader on the real UD treebanks, against the full parser."""

import dataclasses

import conllu
import pytest

from mechscope.data import conllu_text, dataset_dir, read_conllu
from tests.data import UD_EWT, parsed_sentences, require_data

DEV_FILES = (
    UD_EWT / "en_ewt-ud-dev.conllu",
    dataset_dir("ud_english_gum") / "en_gum-ud-dev.conllu",
)


@pytest.mark.parametrize("path", DEV_FILES, ids=lambda p: p.name)
def test_the_text_of_each_dev_split_equals_the_parser_s(path):
    require_data(path)
    with path.open(encoding="utf-8") as handle:
        sentences = list(conllu.parse_incr(handle))
    words = (" ".join(t["form"] for t in s if isinstance(t["id"], int)) for s in sentences)
    expected = "\n".join(s.metadata.get("text") or w for s, w in zip(sentences, words, strict=True))
    assert conllu_text(path) == expected.encode("utf-8")
    assert len(sentences) in (2001, 1575)


@pytest.mark.parametrize("path", DEV_FILES, ids=lambda p: p.name)
def test_the_sentences_of_each_dev_split_equal_the_parser_s(path):
    require_data(path)
    # the entity columns (GUM's Entity=) are tested against hand-written files in the unit tier
    ours = [dataclasses.replace(s, entities=(), coreference=(), head_entities=(), head_chains=())
            for s in read_conllu(path)]  # fmt: skip
    theirs = parsed_sentences(path)
    differ = [i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b]
    # a short message: the sentences' full repr cost CI 40 s when this failed
    assert len(ours) == len(theirs) and not differ, (len(ours), len(theirs), differ[:5])
