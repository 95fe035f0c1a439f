"""detect_heads on the hand-built model (known answers) and against TransformerLens."""

import pytest
import torch
from transformer_lens.head_detector import detect_head

from mechscope.core.axes import HeadId
from mechscope.core.batch import PaddingSide, pad_token_lists
from mechscope.core.errors import MechscopeError
from mechscope.heads import (
    DetectionSettings,
    HeadKind,
    HeadScores,
    Normalisation,
    detect,
    detect_heads,
)
from mechscope.models.hand_built import (
    IDLE_HEAD,
    INDUCTION_HEAD,
    PREVIOUS_TOKEN_HEAD,
    SINK_HEAD,
    induction_circuit_model,
)


@pytest.fixture(scope="module")
def model():
    return induction_circuit_model()


def letter_prompts(n: int, length: int, seed: int = 0, n_letters: int = 12) -> list[str]:
    generator = torch.Generator().manual_seed(seed)
    rows = torch.randint(0, n_letters, (n, length), generator=generator)
    return ["".join(chr(ord("a") + i) for i in row) for row in rows.tolist()]


@pytest.fixture(scope="module")
def scores(model) -> HeadScores:
    return detect_heads(model, letter_prompts(8, 23), progress=False)


def test_the_classifier_names_exactly_the_built_heads(scores):
    labels = {head: set(kinds) for head, kinds in scores.classify().items()}
    assert labels == {
        # A previous-token head also keeps all its mass within the local window.
        PREVIOUS_TOKEN_HEAD: {HeadKind.PREVIOUS_TOKEN, HeadKind.LOCAL_WINDOW},
        SINK_HEAD: {HeadKind.FIRST_TOKEN, HeadKind.NO_OP},
        # Induction on repeated random tokens, prefix matching on the prompts themselves.
        INDUCTION_HEAD: {HeadKind.INDUCTION, HeadKind.PREFIX_MATCHING},
        IDLE_HEAD: set(),
    }


def test_the_built_heads_score_near_one(scores):
    assert scores.score(HeadKind.PREVIOUS_TOKEN)[PREVIOUS_TOKEN_HEAD] > 0.99
    assert scores.score(HeadKind.INDUCTION)[INDUCTION_HEAD] > 0.99
    assert scores.score(HeadKind.FIRST_TOKEN)[SINK_HEAD] > 0.99
    # The sink's value is zero, so the loss does not depend on attention to it at all.
    assert scores.score(HeadKind.NO_OP)[SINK_HEAD] == 0.0
    assert scores.top(HeadKind.INDUCTION, 1)[0][0] == INDUCTION_HEAD


def test_the_idle_head_is_uniform(scores, model):
    # Uniform causal attention over d + 1 sources has entropy log(d + 1) and mean distance d / 2,
    # averaged over the queries that see at least two keys (d = 1 .. n - 1).
    n = 24  # BOS + 23 letters
    expected = sum(torch.log(torch.tensor(d + 1.0)) for d in range(1, n)) / (n - 1)
    assert scores.score(HeadKind.ENTROPY)[IDLE_HEAD] == pytest.approx(float(expected), abs=1e-4)
    span = sum(d / 2 for d in range(1, n)) / (n - 1)
    assert scores.score(HeadKind.EFFECTIVE_SPAN)[IDLE_HEAD] == pytest.approx(span, abs=1e-4)
    assert scores.score(HeadKind.MAX_WEIGHT)[PREVIOUS_TOKEN_HEAD] > 0.99


def test_statistic_kinds_are_the_diagnostics_statistics(model):
    from mechscope.diagnostics import attention_stats
    from mechscope.models.tokens import tokenize

    batch = tokenize(model, letter_prompts(1, 23, seed=5))
    kinds = [HeadKind.ENTROPY, HeadKind.MAX_WEIGHT, HeadKind.EFFECTIVE_SPAN]
    ours = detect_heads(model, batch, kinds, progress=False)
    stats = attention_stats(model, batch)
    for kind, field in zip(kinds, ("entropy", "max_weight", "span"), strict=True):
        torch.testing.assert_close(ours.score(kind), getattr(stats, field), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("exclude_first", [False, True])
@pytest.mark.parametrize("exclude_current", [False, True])
def test_equal_to_transformer_lens_detect_head_with_its_settings(
    model, exclude_first, exclude_current
):
    prompts = letter_prompts(5, 17, seed=3) + ["abcabc", "aaaa"]
    settings = DetectionSettings(
        normalisation=Normalisation.ALL_DESTINATIONS,
        exclude_first=exclude_first,
        exclude_current=exclude_current,
    )
    pairs = {
        "previous_token_head": HeadKind.PREVIOUS_TOKEN,
        "duplicate_token_head": HeadKind.DUPLICATE_TOKEN,
        "induction_head": HeadKind.PREFIX_MATCHING,
    }
    ours = detect_heads(model, prompts, list(pairs.values()), settings, progress=False)
    for name, kind in pairs.items():
        theirs = detect_head(
            model,
            prompts,
            name,
            exclude_bos=exclude_first,
            exclude_current_token=exclude_current,
        )
        torch.testing.assert_close(ours.score(kind), theirs.float(), atol=1e-5, rtol=0)


@pytest.mark.parametrize("which", ["tiny_decoder", "tiny_encoder"])
@pytest.mark.parametrize("side", list(PaddingSide))
def test_padding_changes_no_prompt_score(which, side, request):
    model = request.getfixturevalue(which)
    generator = torch.Generator().manual_seed(0)
    rows = [torch.randint(0, 64, (n,), generator=generator).tolist() for n in (30, 9, 17)]
    kinds = [
        k for k in HeadKind.parse("all") if k not in (HeadKind.SEPARATOR, HeadKind.PUNCTUATION)
    ]
    together = detect_heads(model, pad_token_lists(rows, 0, side), kinds, progress=False)
    for i, row in enumerate(rows):
        alone = detect_heads(model, pad_token_lists([row], 0), kinds, progress=False)
        torch.testing.assert_close(
            together.per_prompt[:, i], alone.per_prompt[:, 0], atol=1e-5, rtol=0, equal_nan=True
        )


def test_token_lists_texts_and_batches_give_the_same_scores(model):
    texts = letter_prompts(3, 9, seed=4)
    lists = [list(model.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
    lists = [[model.tokenizer.bos_token_id, *ids][: 5 + i] for i, ids in enumerate(lists)]
    kinds = [HeadKind.PREVIOUS_TOKEN, HeadKind.ENTROPY]
    from_lists = detect_heads(model, lists, kinds, progress=False)
    from_batch = detect_heads(model, pad_token_lists(lists, 0), kinds, progress=False)
    assert torch.equal(from_lists.per_prompt, from_batch.per_prompt)
    from_texts = detect_heads(model, texts, kinds, progress=False)
    as_rows = [
        [model.tokenizer.bos_token_id, *model.tokenizer(t, add_special_tokens=False)["input_ids"]]
        for t in texts
    ]
    assert torch.equal(
        from_texts.per_prompt, detect_heads(model, as_rows, kinds, progress=False).per_prompt
    )


def test_an_encoder_is_scored_both_ways(tiny_encoder):
    rows = [[1, 5, 5, 9, 2], [1, 7, 3, 2]]
    kinds = [HeadKind.PREVIOUS_TOKEN, HeadKind.DUPLICATE_TOKEN, HeadKind.NO_OP, HeadKind.ENTROPY]
    scores = detect_heads(tiny_encoder, pad_token_lists(rows, 0), kinds, progress=False)
    assert scores.mean.shape == (4, 2, 4)
    assert torch.isfinite(scores.score(HeadKind.NO_OP)).all()
    # Bidirectional: the first 5 attends to the later 5 too, so duplicate scores exist.
    assert (scores.score(HeadKind.DUPLICATE_TOKEN) > 0).all()


def test_no_hooks_are_left_behind(model):
    detect_heads(model, ["abcabc"], "all", progress=False)
    assert all(not hp.fwd_hooks and not hp.bwd_hooks for hp in model.hook_dict.values())


def test_bad_input_gives_clear_errors(model):
    with pytest.raises(MechscopeError, match="no prompts"):
        detect_heads(model, [], progress=False)
    with pytest.raises(MechscopeError, match="longer than the model's context"):
        detect_heads(model, ["a" * 40], progress=False)
    with pytest.raises(MechscopeError, match="unknown head kind 'indution'.*induction"):
        detect_heads(model, ["abc"], "indution", progress=False)


def test_scores_round_trip_and_tabulate(scores, tmp_path):
    scores.save(tmp_path / "heads")
    assert (tmp_path / "heads" / "result.json").exists()
    loaded = HeadScores.load(tmp_path / "heads")
    torch.testing.assert_close(loaded.per_prompt, scores.per_prompt, equal_nan=True)
    assert loaded.kinds == scores.kinds and loaded.classify() == scores.classify()
    assert loaded.provenance.model == "hand-built-induction"
    assert loaded.provenance.config["induction_rows"] == 8  # the DetectionSettings used
    frame = scores.to_dataframe()
    assert len(frame) == len(scores.kinds) * 4
    row = frame[(frame.kind == "induction") & (frame.layer == 1) & (frame["head"] == 0)].iloc[0]
    assert bool(row.label) and row["mean"] > 0.99 and row.n_prompts == 8
    assert (scores.std >= 0).all() and scores.count[0].max() == 8


def test_heads_of_orders_best_first_and_refuses_diagnostics(scores):
    assert scores.heads_of("induction") == [HeadId(1, 0)]
    with pytest.raises(ValueError, match="diagnostic"):
        scores.heads_of(HeadKind.ENTROPY)
    with pytest.raises(KeyError, match="not scored"):
        detect_heads(induction_circuit_model(), ["abc"], ["entropy"], progress=False).score(
            "induction"
        )


@pytest.mark.parametrize("which", ["tiny_decoder", "tiny_encoder"])
def test_the_memory_budget_changes_chunks_not_scores(which, request, monkeypatch):
    model = request.getfixturevalue(which)
    calls = []
    real_score_batch = detect.score_batch
    monkeypatch.setattr(detect, "row_bytes", lambda *_: 2**20)  # a row is the whole budget
    monkeypatch.setattr(detect, "score_batch", lambda *a: calls.append(a) or real_score_batch(*a))
    generator = torch.Generator().manual_seed(1)
    rows = [torch.randint(0, 64, (n,), generator=generator).tolist() for n in (30, 4, 17, 9, 30)]
    kinds = [
        k for k in HeadKind.parse("all") if k not in (HeadKind.SEPARATOR, HeadKind.PUNCTUATION)
    ]
    one_chunk = DetectionSettings(batch_size=64, memory_budget_mb=None)
    one_row_each = DetectionSettings(batch_size=64, memory_budget_mb=1)  # every row alone
    whole = detect_heads(model, rows, kinds, one_chunk, progress=False)
    split = detect_heads(model, rows, kinds, one_row_each, progress=False)
    n_induction_rows = DetectionSettings().induction_rows
    # Prompts and induction rows in a chunk each, then every row alone.
    assert len(calls) == 2 + len(rows) + n_induction_rows
    torch.testing.assert_close(
        split.per_prompt, whole.per_prompt, atol=1e-5, rtol=0, equal_nan=True
    )


def test_the_repeated_rows_get_no_backward_pass_and_every_score_is_unchanged(model, monkeypatch):
    prompts = letter_prompts(4, 15)
    kinds = [HeadKind.INDUCTION, HeadKind.NO_OP, HeadKind.PREVIOUS_TOKEN]
    together = detect_heads(model, prompts, kinds, progress=False)
    seen = []
    real = detect.score_batch

    def recording(model_, batch, kinds_, *args, **kwargs):
        seen.append((batch.tokens.shape[0], list(kinds_)))
        return real(model_, batch, kinds_, *args, **kwargs)

    monkeypatch.setattr(detect, "score_batch", recording)
    again = detect_heads(model, prompts, kinds, progress=False)
    rows = DetectionSettings().induction_rows
    assert (rows, [HeadKind.INDUCTION, HeadKind.PREVIOUS_TOKEN]) in seen  # no no-op there
    assert (4, kinds) in seen
    torch.testing.assert_close(again.per_prompt, together.per_prompt, equal_nan=True)
    # each kind alone gives the same numbers as all three in one call
    for i, kind in enumerate(kinds):
        alone = detect_heads(model, prompts, [kind], progress=False).per_prompt[0]
        n = alone.shape[0]
        torch.testing.assert_close(together.per_prompt[i, :n], alone, equal_nan=True)
