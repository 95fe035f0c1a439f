"""The shared datasets' one guard: skip a test when a file is absent, fail under CI."""

import os
from pathlib import Path

import pytest

from mechscope.data import DATA_ENV, dataset_dir

UD_EWT = dataset_dir("ud_english_ewt")
"""UD English EWT (`mechscope.data.dataset_dir`: ``$MECHSCOPE_DATA`` or a shared/data nearby)."""


def require_data(*paths: Path) -> None:
    """Skip the calling test unless every path exists; under ``CI=true`` fail instead.

    CI lays ``../shared/data`` beside the checkout, so a missing file there is a fault.
    """
    missing = [str(path) for path in paths if not path.exists()]
    if not missing:
        return
    message = f"missing {', '.join(missing)} (set {DATA_ENV}; see the docs' data section)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def parsed_sentences(path: Path) -> list:
    """The reference for `mechscope.data.read_conllu`: the same sentences through the
    ``conllu`` library's full parser (what mechscope read them with before)."""
    import conllu

    from mechscope.data.conllu import OUT_OF_RANGE, Sentence

    sentences = []
    with path.open(encoding="utf-8-sig") as handle:
        for token_list in conllu.parse_incr(handle):
            words = [t for t in token_list if isinstance(t["id"], int)]
            index = {t["id"]: i for i, t in enumerate(words)}
            heads = tuple(
                (index.get(t["head"], OUT_OF_RANGE) if t["head"] else -1)
                if isinstance(t["head"], int) else OUT_OF_RANGE
                for t in words
            )  # fmt: skip
            sentences.append(Sentence(
                words=tuple(t["form"] for t in words), heads=heads,
                relations=tuple(str(t["deprel"]).lower() for t in words),
                upos=tuple(str(t["upos"]) for t in words),
                sent_id=str(token_list.metadata.get("sent_id", "")),
            ))  # fmt: skip
    return sentences
