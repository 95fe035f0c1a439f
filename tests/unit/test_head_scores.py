import torch

from mechscope.head_scores import induction_score, prefix_matching_score, previous_token_score


def _rows_to(targets, n):
    pattern = torch.zeros(n, n)
    for dest, src in enumerate(targets):
        pattern[dest, src] = 1.0
    return pattern


def test_scores_of_hand_built_heads():
    half = 4
    n = 1 + 2 * half
    previous = _rows_to([0] + list(range(n - 1)), n)
    induction = _rows_to([min(d, max(0, d - half + 1)) if d > half else 0 for d in range(n)], n)
    bos = _rows_to([0] * n, n)
    patterns = torch.stack([previous, induction, bos])[None, None]  # batch layer head dest src
    prev = previous_token_score(patterns)
    ind = induction_score(patterns, half)
    # dest 1's previous token is BOS, so heads resting on BOS get 1 of 8 destinations there.
    assert prev[0].tolist() == [1.0, 0.125, 0.125]
    assert ind[0].tolist() == [0.0, 1.0, 0.0]


def test_prefix_matching_counts_tokens_after_earlier_copies():
    tokens = torch.tensor([[7, 1, 2, 1, 3]])
    # Only dest 3 (token 1) has an earlier copy (pos 1), so src 2 matches; attending there scores 1.
    head = torch.zeros(5, 5)
    head[:, 0] = 1.0
    head[3] = 0.0
    head[3, 2] = 1.0
    patterns = head[None, None, None]
    assert prefix_matching_score(patterns, tokens).item() == 1.0
