"""Prompt sets, corpora, treebanks and images, and where the shared datasets are (`data_root`)."""

from typing import TYPE_CHECKING

from mechscope.core.lazy import lazy_exports

if TYPE_CHECKING:
    from mechscope.data.byte_tokenizer import BOS_ID
    from mechscope.data.conllu import (
        Coreference,
        Mention,
        conllu_text,
        read_conllu,
        read_mentions,
        sample_sentences,
    )
    from mechscope.data.corpus import load_corpus
    from mechscope.data.entities import MentionStatus
    from mechscope.data.facts import FACTS, Fact
    from mechscope.data.images import ImageSet, load_image_set, patch_object_fraction
    from mechscope.data.paths import DATA_ENV, data_root, dataset_dir
    from mechscope.data.prompts import PRONOUN_TEMPLATES, pronoun_prompts
    from mechscope.data.repeated import repeated_random_tokens
    from mechscope.data.sst2 import (
        Review,
        polarity_lexicon,
        read_sentence_tsv,
        read_sst2,
        reviews_as_sentences,
        split_reviews,
    )

_EXPORTS = {
    "BOS_ID": "mechscope.data.byte_tokenizer",
    "conllu_text": "mechscope.data.conllu",
    "Coreference": "mechscope.data.conllu",
    "Mention": "mechscope.data.conllu",
    "read_mentions": "mechscope.data.conllu",
    "sample_sentences": "mechscope.data.conllu",
    "DATA_ENV": "mechscope.data.paths",
    "data_root": "mechscope.data.paths",
    "dataset_dir": "mechscope.data.paths",
    "Fact": "mechscope.data.facts",
    "FACTS": "mechscope.data.facts",
    "ImageSet": "mechscope.data.images",
    "load_corpus": "mechscope.data.corpus",
    "MentionStatus": "mechscope.data.entities",
    "Review": "mechscope.data.sst2",
    "read_sst2": "mechscope.data.sst2",
    "read_sentence_tsv": "mechscope.data.sst2",
    "polarity_lexicon": "mechscope.data.sst2",
    "reviews_as_sentences": "mechscope.data.sst2",
    "split_reviews": "mechscope.data.sst2",
    "load_image_set": "mechscope.data.images",
    "patch_object_fraction": "mechscope.data.images",
    "read_conllu": "mechscope.data.conllu",
    "PRONOUN_TEMPLATES": "mechscope.data.prompts",
    "pronoun_prompts": "mechscope.data.prompts",
    "repeated_random_tokens": "mechscope.data.repeated",
}
"""Each public name and the module that defines it (imported on first use)."""
__all__ = [
    "BOS_ID",
    "Coreference",
    "DATA_ENV",
    "FACTS",
    "Fact",
    "ImageSet",
    "Mention",
    "MentionStatus",
    "PRONOUN_TEMPLATES",
    "Review",
    "conllu_text",
    "data_root",
    "dataset_dir",
    "load_corpus",
    "load_image_set",
    "patch_object_fraction",
    "polarity_lexicon",
    "pronoun_prompts",
    "read_conllu",
    "read_mentions",
    "sample_sentences",
    "read_sentence_tsv",
    "read_sst2",
    "reviews_as_sentences",
    "split_reviews",
    "repeated_random_tokens",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
