"""The coreference causal check: the pronoun metric and each ablation against a hand reading."""

import pytest
import torch

from mechscope.core.axes import HeadId
from mechscope.core.errors import MechscopeError
from mechscope.data.prompts import FEMININE_NAMES, MASCULINE_NAMES, pronoun_prompts
from mechscope.heads import HeadKind, detect_heads
from mechscope.heads.coreference import CoreferenceScores, pronoun_metric, verify_coreference
from mechscope.models import TinyConfig, load_model
from tests.hf_factories import word_tokenizer

TEMPLATES = ("when {name} got home ,", "{name} went out because")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A random-init 3-layer decoder with a word tokenizer that knows every prompt word."""
    words = ["<bos>", "<pad>", "<unk>", "she", "he", "when", "got", "home", ",", "went", "out",
             "because", *FEMININE_NAMES, *MASCULINE_NAMES]  # fmt: skip
    tokenizer = word_tokenizer(tmp_path_factory.mktemp("tok"), words, "<unk>",
                               bos_token="<bos>", pad_token="<pad>")  # fmt: skip
    model = load_model(TinyConfig(n_layers=3, n_heads=4, d_model=32, d_vocab=len(words), seed=1))
    model.set_tokenizer(tokenizer, default_padding_side="right")
    return model


def _scores(accuracy: torch.Tensor) -> CoreferenceScores:
    """Scores whose per-head accuracy is ``accuracy`` (one mention per 1/4 of accuracy)."""
    n = 4
    correct = torch.stack([(accuracy > i / n).float() for i in range(n)])
    return CoreferenceScores(correct=correct, nearest=torch.zeros(n),
                             head_match=torch.full((n,), 0.5), pronoun=torch.ones(n, dtype=bool),
                             document=torch.arange(n), window=2, n_windows=n)  # fmt: skip


def test_pronoun_metric_is_the_signed_logit_difference_by_hand(model):
    batch, metric = pronoun_metric(model, TEMPLATES)
    pairs = pronoun_prompts(TEMPLATES)
    assert len(pairs) == 2 * (len(FEMININE_NAMES) + len(MASCULINE_NAMES))
    she, he = model.tokenizer.convert_tokens_to_ids(["she", "he"])
    expected = []
    for prompt, pronoun in pairs:
        with torch.no_grad():
            logits = model(model.to_tokens(prompt))[0, -1]
        sign = 1 if pronoun == "she" else -1
        expected.append(sign * float(logits[she] - logits[he]))
    with torch.no_grad():
        value = float(metric(model(batch.tokens)))
    assert value == pytest.approx(sum(expected) / len(expected), abs=1e-5)


def test_the_check_ablates_the_most_accurate_heads_against_controls_of_their_layers(model):
    accuracy = torch.zeros(3, 4)
    accuracy[1, 2], accuracy[2, 0], accuracy[1, 0] = 1.0, 0.75, 0.5
    check = verify_coreference(model, _scores(accuracy), k=2, templates=TEMPLATES)
    assert check.head_kind is HeadKind.COREFERENCE
    assert check.top.heads == (HeadId(1, 2), HeadId(2, 0))
    assert check.top_scores == (1.0, 0.75)
    controls = list(check.control.heads)
    # same layers as the top heads; never a head at or above the baseline (0.5)
    assert {h.layer for h in controls} <= {1, 2}
    assert HeadId(1, 0) not in controls and not set(controls) & {HeadId(1, 2), HeadId(2, 0)}
    # each head's effect: the metric with that head's z zeroed, by hand
    batch, metric = pronoun_metric(model, TEMPLATES)
    for h, change in zip(check.top.heads, check.top.change, strict=True):

        def zero(z, hook, h=h):  # noqa: ANN001, ANN202
            z[:, :, h.head] = 0.0
            return z

        with torch.no_grad():
            clean = float(metric(model(batch.tokens)))
            ablated = float(metric(model.run_with_hooks(
                batch.tokens, fwd_hooks=[(f"blocks.{h.layer}.attn.hook_z", zero)])))  # fmt: skip
        assert float(change) == pytest.approx(ablated - clean, abs=1e-4)
    assert check.verdict().startswith("coreference: ")
    # a logit difference: removing a head that matters lowers it, so harm is the fall
    assert check.higher_is_better
    assert check.specific == bool(-check.top.change.mean() > -check.control.change.mean())


def test_coreference_is_scored_on_annotation_not_prompts(model, tiny_encoder):
    assert HeadKind.COREFERENCE not in HeadKind.parse("all")
    with pytest.raises(MechscopeError, match="--coref FILE.conllu"):
        detect_heads(model, ["she went out"], ["coreference"], progress=False)
    with pytest.raises(MechscopeError, match="score this model"):
        verify_coreference(model, _scores(torch.zeros(2, 2)), templates=TEMPLATES)
    with pytest.raises(MechscopeError, match="unembedding"):
        pronoun_metric(tiny_encoder, TEMPLATES)
