"""Coreference heads against a brute-force reading of the attention, and the baselines by hand."""

import torch

from mechscope.core.results import load_result
from mechscope.data.conllu import read_mentions
from mechscope.heads.coreference import CoreferenceScores, coreference_scores


def _row(i: int, word: str, head: int, upos: str = "X", misc: str = "_") -> str:
    return f"{i}\t{word}\t{word}\t{upos}\tX\t_\t{head}\tdep\t_\t{misc}"


DOC = "\n".join([
    "# newdoc id = GUM_news_a", "# sent_id = GUM_news_a-1",
    _row(1, "Kim", 2, misc="Entity=(1-person-new-x-cf1-1-coref)"),
    _row(2, "met", 0),
    _row(3, "Lee", 2, misc="Entity=(2-person-new-x-cf2-1-coref)"), "",
    "# sent_id = GUM_news_a-2",
    _row(1, "She", 2, "PRON", "Entity=(1-person-giv-x-cf1-1-coref)"),
    _row(2, "saw", 0),
    _row(3, "Lee", 2, misc="Entity=(2-person-giv-x-cf2-1-coref)"), "",
])  # fmt: skip


def _reference(model, found, query_word, candidates, tokens, word_of):  # noqa: ANN001, ANN202
    """Each head's pick among ``candidates`` by the word-level attention, done by hand."""
    _, cache = model.run_with_cache(torch.tensor([tokens]))
    picks = torch.zeros(model.cfg.n_layers, model.cfg.n_heads, dtype=torch.long)
    for layer in range(model.cfg.n_layers):
        pattern = cache["pattern", layer][0]
        for head in range(model.cfg.n_heads):
            q_tokens = [t for t, w in enumerate(word_of) if w == query_word]
            scores = []
            for c in candidates:
                k_tokens = [t for t, w in enumerate(word_of) if w == c]
                scores.append(float(pattern[head][q_tokens][:, k_tokens].sum(1).mean()))
            picks[layer, head] = max(range(len(scores)), key=scores.__getitem__)
    return picks


def test_antecedent_selection_matches_a_reading_by_hand_and_the_baselines(byte_model, tmp_path):
    from mechscope.models.words import align_words

    path = tmp_path / "doc.conllu"
    path.write_text(DOC)
    found = read_mentions(path)
    scores = coreference_scores(byte_model, found, window=2, progress=False)
    # scored: "She" (antecedent Kim; candidates Kim, Lee) and the second "Lee" (candidates
    # Kim, Lee, She; antecedent the first Lee)
    assert scores.n_mentions == 2 and scores.pronoun.tolist() == [True, False]
    # nearest: Lee for "She" (wrong), She for "Lee" (wrong); head match: none for "She"
    # (nearest, wrong), the first "Lee" for "Lee" (right)
    assert scores.nearest.tolist() == [0.0, 0.0] and scores.head_match.tolist() == [0.0, 1.0]
    words = ["Kim", "met", "Lee", "She", "saw", "Lee"]
    aligned = align_words(byte_model, words)
    assert not isinstance(aligned, str)
    she = _reference(byte_model, found, 3, [0, 2], aligned.tokens, aligned.word_of_token)
    lee = _reference(byte_model, found, 5, [0, 2, 3], aligned.tokens, aligned.word_of_token)
    assert torch.equal(scores.correct[0], (she == 0).float())
    assert torch.equal(scores.correct[1], (lee == 1).float())
    table = scores.table()
    assert table[-1]["head"] == "baseline:head-match" and table[-1]["accuracy"] == 0.5
    scores.save(tmp_path / "saved")
    assert isinstance(load_result(tmp_path / "saved"), CoreferenceScores)
