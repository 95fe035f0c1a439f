"""Mention similarity against a by-hand reading of the residual stream."""

import torch

from mechscope.core.results import load_result
from mechscope.data.conllu import read_mentions
from mechscope.models.words import align_words
from mechscope.representations import MentionSimilarity, mention_similarity
from tests.unit.heads.test_coreference import DOC


def test_similarity_and_retrieval_match_a_reading_by_hand(tmp_path):
    from mechscope.data.byte_tokenizer import save_byte_tokenizer
    from mechscope.models import TinyConfig, load_model

    model = load_model(TinyConfig(n_layers=2, n_heads=2, d_model=16, d_vocab=258, n_ctx=64))
    model.set_tokenizer(save_byte_tokenizer(tmp_path / "tok"))
    path = tmp_path / "doc.conllu"
    path.write_text(DOC)
    result = mention_similarity(model, read_mentions(path), window=2, boundaries=[0, 2],
                                progress=False)  # fmt: skip
    # the window: "Kim met Lee She saw Lee"; "She" (word 3) has candidates Kim (0, its
    # chain) and Lee (2); the second "Lee" (5) has Kim, Lee (its chain), She
    aligned = align_words(model, ["Kim", "met", "Lee", "She", "saw", "Lee"])
    _, cache = model.run_with_cache(torch.tensor([aligned.tokens]))
    for i, name in enumerate(["blocks.0.hook_resid_pre", "blocks.1.hook_resid_post"]):
        stream = cache[name][0]
        words = torch.stack([stream[[t for t, w in enumerate(aligned.word_of_token) if w == k]]
                             .mean(0) for k in range(6)])  # fmt: skip
        words = torch.nn.functional.normalize(words - words.mean(0), dim=-1)
        cos = words @ words.T
        same = (cos[3, 0] + cos[5, 2]) / 2
        other = (cos[3, 2] + cos[5, 0] + cos[5, 3]) / 3
        assert abs(float(result.coreferent[i]) - float(same)) < 1e-5
        assert abs(float(result.other[i]) - float(other)) < 1e-5
        picks = [bool(cos[3, 0] > cos[3, 2]), int(cos[5, [0, 2, 3]].argmax()) == 1]
        assert result.retrieved[i].tolist() == [float(p) for p in picks]
        # The distributions: 2 coreferent and 3 other pairs, and the share of (coreferent,
        # other) pairs the coreferent one wins.
        pairs_same, pairs_other = [cos[3, 0], cos[5, 2]], [cos[3, 2], cos[5, 0], cos[5, 3]]
        assert result.coreferent_hist[i].sum() == 2 and result.other_hist[i].sum() == 3
        wins = sum(float(a > b) + 0.5 * float(a == b) for a in pairs_same for b in pairs_other)
        assert abs(float(result.separation[i]) - wins / 6) < 1e-6
        centres, same_density, _ = result.density(i)
        assert abs(sum(same_density) * (centres[1] - centres[0]) - 1) < 1e-5
        assert same_density[int((float(cos[3, 0]) + 1) / 2 * len(centres))] > 0
    assert result.nearest.tolist() == [0.0, 0.0]  # the nearest earlier mention is never right
    assert result.boundaries == ("embeddings", "after block 1") and len(result.table()) == 2
    result.save(tmp_path / "sim")
    loaded = load_result(tmp_path / "sim")
    assert isinstance(loaded, MentionSimilarity)
    assert loaded.separation is not None and torch.equal(loaded.separation, result.separation)
    assert "separation" in result.table()[0]


def test_separation_counts_ties_half_and_needs_both_sides():
    from mechscope.representations.mentions import separation

    assert separation(torch.tensor([0.5, 0.9]), torch.tensor([0.1, 0.5])) == 0.875
    assert separation(torch.tensor([0.2]), torch.tensor([0.3, 0.4])) == 0.0
    assert separation(torch.tensor([0.2]), torch.tensor([])) != separation(
        torch.tensor([0.2]), torch.tensor([])
    )  # NaN: nothing to compare
