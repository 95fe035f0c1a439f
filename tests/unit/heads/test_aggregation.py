"""Semantic aggregation heads against a by-hand reading of every pattern."""

import pytest
import torch

from mechscope.core.errors import MechscopeError
from mechscope.core.results import load_result
from mechscope.heads import AggregationScores, aggregation_scores, sentiment_targets
from mechscope.models.words import align_words

SENTENCES = [["a", "fine", "film"], ["dull", "and", "slow", "work", "here"], ["so", "good"]]
LEXICON = {"fine": "positive", "dull": "negative", "slow": "negative", "good": "positive"}


def _by_hand(model, sentences, lexicon):  # noqa: ANN001, ANN202
    """Mass and uniform share, one sentence and one query at a time."""
    mass = torch.zeros(model.cfg.n_layers, model.cfg.n_heads)
    share, queries = 0.0, 0
    for words in sentences:
        aligned = align_words(model, words)
        target = [w >= 0 and words[w] in lexicon for w in aligned.word_of_token]
        _, cache = model.run_with_cache(torch.tensor([aligned.tokens]))
        for q, word in enumerate(aligned.word_of_token):
            if word < 0:
                continue
            queries += 1
            keys = range(q + 1)  # a decoder sees the keys up to the query
            share += sum(target[k] for k in keys) / len(keys)
            for layer in range(model.cfg.n_layers):
                pattern = cache["pattern", layer][0]
                mass[layer] += pattern[:, q, [k for k in keys if target[k]]].sum(-1)
    return mass / queries, share / queries


def test_mass_and_share_match_a_reading_by_hand(byte_model, tmp_path):
    targets = {"sentiment": sentiment_targets(SENTENCES, LEXICON)}
    scores = aggregation_scores(byte_model, targets, batch_size=2, progress=False)
    mass, share = _by_hand(byte_model, SENTENCES, LEXICON)
    torch.testing.assert_close(scores.mass[0], mass, atol=1e-5, rtol=1e-4)
    assert float(scores.share[0]) == pytest.approx(share, rel=1e-5)
    torch.testing.assert_close(scores.enrichment("sentiment"), mass / share, atol=1e-4, rtol=1e-4)
    (best, value), *_ = scores.top("sentiment", 2)
    assert value == pytest.approx(float(scores.enrichment("sentiment").max()))
    assert scores.sentences == (3,) and len(scores.table()) == 4
    scores.save(tmp_path / "agg")
    loaded = load_result(tmp_path / "agg")
    assert isinstance(loaded, AggregationScores) and loaded.targets == ("sentiment",)


def test_bad_target_sets_are_one_line_errors(byte_model):
    with pytest.raises(MechscopeError, match="no target sets"):
        aggregation_scores(byte_model, {}, progress=False)
    with pytest.raises(MechscopeError, match="no usable sentence"):
        aggregation_scores(byte_model, {"none": [(["plain", "words"], [False, False])]},
                           progress=False)  # fmt: skip
    with pytest.raises(MechscopeError, match="one target flag per word"):
        aggregation_scores(byte_model, {"x": [(["a", "b"], [True])]}, progress=False)
