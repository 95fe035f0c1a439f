"""SmolLM2-135M-Instruct (4-bit GGUF, dequantised) loaded offline: parity and known behaviour.

The model is converted once per cache directory and loaded once per test session.
"""

import pytest
import torch

from mechscope.core.axes import HeadId
from mechscope.core.batch import pad_token_lists
from mechscope.core.metrics import second_copy_metric
from mechscope.heads import DetectionSettings, HeadKind, detect_heads
from mechscope.heads.detect import repeated_rows
from mechscope.interventions import ablation_effects
from mechscope.lens import logit_lens
from mechscope.models import adapt, load_model, tokenize
from tests.smollm import require_smollm

require_smollm()

PROMPTS = [
    "The capital of France is",
    "When Mary and John went to the store, John gave a drink to",
    "def fib(n):\n    return",
    "Hello",
]


@pytest.fixture(scope="session")
def smollm():
    return load_model("smollm2-135m", device="cpu")


def test_shape_and_adapter(smollm):
    cfg = smollm.cfg
    assert (cfg.n_layers, cfg.n_heads, cfg.n_key_value_heads, cfg.d_model, cfg.d_vocab) == (
        30, 9, 3, 576, 49152,
    )  # fmt: skip
    adapter = adapt(smollm)
    assert adapter.causal and adapter.has_unembedding and adapter.start_id is None


def test_logits_match_hugging_face_from_the_same_gguf(smollm):
    from mechscope.models.smollm import load_hf_smollm

    reference, _ = load_hf_smollm(tokenizer=False)
    batch = tokenize(smollm, PROMPTS)
    assert (batch.attention_mask == 0).any()  # padded
    with torch.no_grad():
        ours = smollm(batch.tokens, attention_mask=batch.attention_mask)
        theirs = reference(input_ids=batch.tokens, attention_mask=batch.attention_mask).logits
    real = batch.attention_mask.bool()
    # 30 layers of float32 on logits of magnitude ~35: measured 9.7e-5 (log-probs 5.2e-5).
    assert float((ours - theirs)[real].abs().max()) < 5e-4
    log_diff = ours.log_softmax(-1) - theirs.log_softmax(-1)
    assert float(log_diff[real].abs().max()) < 2e-4


def test_paris_forms_late_in_the_logit_lens(smollm):
    trajectory = logit_lens(smollm, [PROMPTS[0]], targets=[" Paris"])
    ranks = trajectory.rank[:, 0, -1]
    assert int(ranks[-1]) == 1  # the model's answer
    assert int(ranks[: len(ranks) // 2].min()) > 100  # far from the top in the first half


def test_an_induction_head_that_ablation_confirms(smollm):
    settings = DetectionSettings(induction_rows=8, induction_half_length=20)
    scores = detect_heads(smollm, PROMPTS, [HeadKind.INDUCTION], settings, progress=False)
    ((best, score),) = scores.top(HeadKind.INDUCTION, 1)
    assert score >= 0.5  # measured 0.87 (head 18.6)
    rows = repeated_rows(smollm, settings)
    batch = pad_token_lists(rows, 0)
    metric = second_copy_metric(batch, 20)
    same_layer = [HeadId(best.layer, h) for h in range(smollm.cfg.n_heads)]
    effects = ablation_effects(smollm, batch, metric, same_layer)
    change = dict(zip(effects.heads, effects.change.tolist(), strict=True))
    others = [change[h] for h in same_layer if h != best]
    # The second copy gets much harder (measured +2.03 nats); no other head of the same layer
    # costs as much (the next +0.83, the other seven within +-0.1).
    assert change[best] > 1.0
    assert change[best] > max(others) and change[best] - sum(others) / len(others) > 1.0


@pytest.fixture(scope="module")
def smollm_bridge():
    """The same dequantised weights through TransformerLens's TransformerBridge."""
    return load_model("smollm2-135m", device="cpu", backend="bridge")


def test_the_bridge_backend_gives_the_hooked_logits_lens_and_patching(smollm, smollm_bridge):
    """Issue 31: the Hugging Face model through the Bridge, against HookedTransformer."""
    from mechscope.core import Component, Site
    from mechscope.interventions import activation_patching, ioi_pairs

    batch = tokenize(smollm, PROMPTS)
    assert torch.equal(tokenize(smollm_bridge, PROMPTS).tokens, batch.tokens)
    real = batch.attention_mask.bool()
    with torch.no_grad():
        logits = [m(batch.tokens, attention_mask=batch.attention_mask)[real]
                  for m in (smollm, smollm_bridge)]  # fmt: skip
    assert float((logits[0] - logits[1]).abs().max()) < 5e-4  # measured 9.7e-5 of ~32
    lens = [
        logit_lens(m, [PROMPTS[0]], targets=[" Paris"]).log_prob for m in (smollm, smollm_bridge)
    ]
    assert float((lens[0] - lens[1]).abs().max()) < 1e-3
    sites = [Site(Component.Z, layer, head) for layer in (28, 29) for head in range(9)]
    values = []
    for model in (smollm, smollm_bridge):
        runs = ioi_pairs(model, 4).runs(model)
        values.append(activation_patching(runs, sites, progress=False).values)
    assert float((values[0] - values[1]).abs().max()) < 1e-3 * float(values[0].abs().max())
