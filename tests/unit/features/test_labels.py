"""Automatic feature labels against known answers: features built to fire on one label."""

import torch

from mechscope.core.results import load_result
from mechscope.data.conllu import Sentence
from mechscope.features.annotations import (
    Abstraction,
    LabelFamily,
    LabelledTokens,
    position_bucket,
    treebank_tokens,
)
from mechscope.features.labels import FeatureLabels, Firing, feature_firing, score_labels
from mechscope.features.sites import site_hook
from tests.unit.features.test_sae import random_sae

POS = ("NOUN", "VERB", "DET", "ADJ")


def _corpus(n_rows: int = 200, length: int = 12, seed: int = 0) -> LabelledTokens:
    g = torch.Generator().manual_seed(seed)
    rows, upos, sentiment = [], [], []
    for r in range(n_rows):
        tags = torch.randint(0, len(POS), (length,), generator=g).tolist()
        rows.append(tuple(tags))
        upos.append(tuple(POS[t] for t in tags))
        sentiment.append(("positive" if r % 2 else "negative",) * length)
    return LabelledTokens(tuple(rows), {LabelFamily.UPOS: tuple(upos),
                                        LabelFamily.SENTIMENT: tuple(sentiment)})  # fmt: skip


def _firing(corpus: LabelledTokens, fires) -> Firing:  # noqa: ANN001
    """Pairs (token, feature) where ``fires(feature, row, position, tag)`` is true."""
    tokens, features, row_of = [], [], []
    flat = 0
    for r, row in enumerate(corpus.rows):
        for p, tag in enumerate(row):
            for f in range(4):
                if fires(f, r, p, tag):
                    tokens.append(flat)
                    features.append(f)
            row_of.append(r)
            flat += 1
    return Firing(torch.tensor(tokens), torch.tensor(features), torch.tensor(row_of), 4)


def test_features_built_on_one_label_get_it_with_f1_one_and_clear_the_control(tmp_path):
    corpus = _corpus()
    noise = torch.rand(200, 12, generator=torch.Generator().manual_seed(1)) < 0.3
    firing = _firing(corpus, lambda f, r, p, tag: (f == 0 and POS[tag] == "NOUN")
                     or (f == 1 and r % 2 == 1) or (f == 2 and bool(noise[r, p])))  # fmt: skip
    labels = score_labels(firing, corpus, "hook", n_shuffles=20, seed=0)
    upos, sentiment = labels.families.index("upos"), labels.families.index("sentiment")
    assert labels.labels[upos][0] == "NOUN" and labels.f1[0, upos] == 1.0
    assert labels.labels[sentiment][1] == "positive" and labels.f1[1, sentiment] == 1.0
    assert labels.best(0)["clears"] and labels.best(1)["clears"]
    assert labels.control[0, upos] < 0.5 and labels.control[1, sentiment] < 0.8
    # random firing: nothing clears; the never-firing feature is dead
    assert not labels.clears()[2].any()
    assert labels.abstraction() == [Abstraction.PART_OF_SPEECH, Abstraction.SEMANTIC,
                                    Abstraction.UNEXPLAINED, None]  # fmt: skip
    shares = labels.shares(n_boot=200)
    assert abs(shares[Abstraction.PART_OF_SPEECH][0] - 1 / 3) < 1e-6
    assert shares[Abstraction.PART_OF_SPEECH][1] <= 1 / 3 <= shares[Abstraction.PART_OF_SPEECH][2]
    labels.save(tmp_path)
    loaded = load_result(tmp_path)
    assert isinstance(loaded, FeatureLabels) and loaded.labels == labels.labels
    assert list(loaded.to_dataframe()["abstraction"]) == [
        "part of speech", "sentiment/genre", "unexplained"]  # fmt: skip


def test_held_out_scores_match_a_brute_force_count():
    corpus = _corpus(n_rows=60, seed=2)
    noise = torch.rand(60, 12, generator=torch.Generator().manual_seed(3))
    # feature 3 fires on most nouns and some other tags: precision and recall below 1
    firing = _firing(corpus, lambda f, r, p, tag: f == 3 and (
        (POS[tag] == "NOUN" and noise[r, p] < 0.8) or noise[r, p] < 0.1))  # fmt: skip
    labels = score_labels(firing, corpus, "hook", n_shuffles=5, seed=4)
    column = labels.families.index("upos")
    assert labels.labels[column][3] == "NOUN"
    # the same split, drawn as score_labels draws it
    g = torch.Generator().manual_seed(4)
    held_rows = set(torch.randperm(60, generator=g)[:30].tolist())
    tp = fired = positives = 0
    for r, row in enumerate(corpus.rows):
        if r not in held_rows:
            continue
        for p, tag in enumerate(row):
            fires = (POS[tag] == "NOUN" and noise[r, p] < 0.8) or noise[r, p] < 0.1
            noun = POS[tag] == "NOUN"
            tp, fired, positives = tp + bool(fires and noun), fired + bool(fires), positives + noun
    assert abs(float(labels.precision[3, column]) - tp / fired) < 1e-6
    assert abs(float(labels.recall[3, column]) - tp / positives) < 1e-6
    assert abs(float(labels.f1[3, column]) - 2 * tp / (fired + positives)) < 1e-6
    assert int(labels.fired[3]) == fired


def test_feature_firing_reads_the_sae_at_every_real_token(byte_model):
    sentences = [Sentence(("the", "cat", "sat"), (1, 2, -1), ("det", "nsubj", "root"),
                          ("DET", "NOUN", "VERB"), "weblog-1"),
                 Sentence(("a", "dog", "ran", "home"), (1, 2, -1, 2),
                          ("det", "nsubj", "root", "obj"), ("DET", "NOUN", "VERB", "NOUN"),
                          "email-2")]  # fmt: skip
    labelled = treebank_tokens(byte_model, sentences)
    assert len(labelled.rows) == 2 and labelled.rows[0][0] == 256  # BOS, then bytes
    # every byte of a word carries the word's tags; the BOS and the spaces carry none
    assert labelled.column(LabelFamily.UPOS)[0] == (None, "DET", "DET", "DET", None, "NOUN",
                                                    "NOUN", "NOUN", None, "VERB", "VERB",
                                                    "VERB")  # fmt: skip
    assert labelled.column(LabelFamily.GENRE)[1][1] == "email"
    assert LabelFamily.ENTITY not in labelled.families  # no Entity= annotation
    hook = site_hook(byte_model, "resid_post", 1)
    sae = random_sae(byte_model.cfg.d_model, width=16, k=3)
    (firing,) = feature_firing(byte_model, {hook: sae}, labelled, batch_size=2,
                               progress=False).values()  # fmt: skip
    expected = set()
    flat = 0
    for row in labelled.rows:
        _, cache = byte_model.run_with_cache(torch.tensor([row]), names_filter=hook)
        acts = sae.encode(cache[hook][0]).detach()
        for p in range(1, len(row)):  # the BOS position is not read
            expected |= {(flat + p, int(f)) for f in (acts[p] > 0).nonzero().flatten()}
        flat += len(row)
    assert set(zip(firing.token.tolist(), firing.feature.tolist(), strict=True)) == expected


def test_position_buckets_double():
    assert [position_bucket(p) for p in (0, 1, 2, 3, 4, 5, 8, 9, 16, 17)] == [
        "0", "1", "2", "3-4", "3-4", "5-8", "5-8", "9-16", "9-16", "17-32"]  # fmt: skip


def test_words_outside_every_entity_mention_are_never_a_label():
    corpus = _corpus(n_rows=80)
    entity = tuple(tuple("person" if POS[t] == "NOUN" else "none" for t in row)
                   for row in corpus.rows)  # fmt: skip
    corpus = LabelledTokens(corpus.rows, {**corpus.labels, LabelFamily.ENTITY: entity})
    # feature 0 fires outside every mention (on the non-nouns), feature 1 on the nouns
    firing = _firing(corpus, lambda f, r, p, tag: (f == 0 and POS[tag] != "NOUN")
                     or (f == 1 and POS[tag] == "NOUN"))  # fmt: skip
    labels = score_labels(firing, corpus, "hook", n_shuffles=5)
    column = labels.families.index("entity")
    assert labels.labels[column][0] == "person" and float(labels.f1[0, column]) == 0.0
    assert labels.labels[column][1] == "person" and float(labels.f1[1, column]) == 1.0


def test_an_encoder_reads_rows_of_different_lengths_as_it_reads_each_alone(tiny_encoder):
    # padding must be masked: an encoder attends both ways, so unmasked padding would change
    # the real tokens' activations and the features that fire on them
    rows = ((1, 5, 9, 13, 17), (2, 4, 6, 8, 10, 12, 14, 16, 18), (3, 7, 11))
    labelled = LabelledTokens(rows, {LabelFamily.POSITION: tuple((None,) * len(r) for r in rows)})
    hook = site_hook(tiny_encoder, "resid_post", 1)
    sae = random_sae(tiny_encoder.cfg.d_model, width=16, k=3)

    def pairs(batch_size: int) -> set[tuple[int, int]]:
        (firing,) = feature_firing(tiny_encoder, {hook: sae}, labelled, batch_size=batch_size,
                                   progress=False).values()  # fmt: skip
        return set(zip(firing.token.tolist(), firing.feature.tolist(), strict=True))

    assert pairs(3) == pairs(1) and pairs(1)
