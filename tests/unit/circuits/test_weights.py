"""QK/OV circuits: known answers on the hand-built model, references on random ones."""

import pytest
import torch

from mechscope.circuits.composition import folded
from mechscope.circuits.weights import (
    copying_score,
    diagonal_top1,
    full_ov_circuit,
    ov_circuit,
    positional_qk,
    weight_circuits,
)
from mechscope.core.errors import MechscopeError
from mechscope.models import load_model
from mechscope.models.hand_built import (
    IDLE_HEAD,
    INDUCTION_HEAD,
    PREVIOUS_TOKEN_HEAD,
    induction_circuit_model,
)


@pytest.fixture(scope="module")
def hand_built():
    return induction_circuit_model()


@pytest.fixture(scope="module")
def circuits(hand_built):
    return weight_circuits(hand_built)


def test_the_induction_head_copies_and_the_previous_token_head_looks_one_back(circuits):
    assert circuits.copying[INDUCTION_HEAD] > 0.9
    offsets = circuits.preferred_offset()
    assert offsets is not None
    assert offsets[PREVIOUS_TOKEN_HEAD] == 1
    assert circuits.positional is not None
    assert circuits.positional[PREVIOUS_TOKEN_HEAD][1] > 0.9


def test_k_composition_from_the_previous_token_head_into_the_induction_head_is_strongest(
    circuits,
):
    k_scores = circuits.composition["K"][0, :, 1, INDUCTION_HEAD.head]
    assert int(k_scores.argmax()) == PREVIOUS_TOKEN_HEAD.head
    assert float(k_scores.max()) > circuits.baseline["K"]


def test_copying_score_equals_the_full_vocabulary_eigenvalues(tiny_decoder):
    """Reference: form W_E W_OV W_U (64 x 64) and take all its eigenvalues."""
    circuits = weight_circuits(tiny_decoder)
    model = folded(tiny_decoder)
    for layer, head in [(0, 1), (1, 3)]:
        full = model.W_E @ model.W_V[layer, head] @ model.W_O[layer, head] @ model.W_U
        eigenvalues = torch.linalg.eigvals(full.detach().double())
        assert circuits.copying[layer, head] == pytest.approx(
            float(copying_score(eigenvalues)), abs=1e-4
        )
        singular = ov_circuit(model, layer, head).S
        assert torch.allclose(circuits.ov_singular[layer, head], singular, atol=1e-4)


def test_full_ov_on_a_vocabulary_subset(hand_built):
    ids = torch.arange(10)
    matrix = full_ov_circuit(hand_built, INDUCTION_HEAD.layer, INDUCTION_HEAD.head, ids)
    assert matrix.shape == (10, 10)
    assert diagonal_top1(matrix) == 1.0
    idle = full_ov_circuit(hand_built, IDLE_HEAD.layer, IDLE_HEAD.head, ids)
    assert idle.abs().max() == 0


def test_positional_qk_needs_learned_positions(hf_dirs):
    with pytest.raises(MechscopeError, match="learned positional embeddings"):
        positional_qk(load_model(hf_dirs["llama"]))
    assert weight_circuits(load_model(hf_dirs["llama"])).positional is None


def test_composition_is_skipped_when_asked(hand_built):
    circuits = weight_circuits(hand_built, composition=False)
    assert circuits.composition == {} and circuits.baseline == {}


@pytest.mark.parametrize("gqa", [False, True])
def test_composition_from_per_head_factors_equals_transformer_lens(tiny_decoder, gqa):
    from transformer_lens import HookedTransformerConfig

    from mechscope.circuits.composition import CompositionKind, composition_scores
    from mechscope.models import load_model

    decoder = tiny_decoder
    if gqa:  # grouped-query attention, RMSNorm, rotary: SmolLM2's kind of block
        decoder = load_model(HookedTransformerConfig(
            n_layers=3, d_model=48, n_heads=6, n_key_value_heads=2, d_head=8, d_mlp=64,
            d_vocab=50, n_ctx=16, act_fn="silu", normalization_type="RMS", gated_mlp=True,
            positional_embedding_type="rotary", seed=0,
        ))  # fmt: skip
    model = folded(decoder)
    for kind in CompositionKind:
        expected = model.all_composition_scores(kind.value).detach()
        assert torch.allclose(composition_scores(decoder, kind), expected, atol=1e-6)


def test_the_random_baseline_equals_transformer_lens_on_the_same_draws(tiny_decoder):
    from transformer_lens.FactoredMatrix import FactoredMatrix
    from transformer_lens.utilities.matrix import composition_scores as tl_scores

    from mechscope.circuits.composition import CompositionKind, random_baseline

    d_model, d_head, n = tiny_decoder.cfg.d_model, tiny_decoder.cfg.d_head, 16
    for kind in CompositionKind:
        generator = torch.Generator().manual_seed(5)
        draws = [torch.randn(n, *shape, generator=generator)
                 for shape in ((d_model, d_head), (d_head, d_model)) * 2]  # fmt: skip
        later = FactoredMatrix(draws[2], draws[3])
        later = later.T if kind is CompositionKind.K else later
        expected = tl_scores(FactoredMatrix(draws[0], draws[1]), later, broadcast_dims=False)
        ours = random_baseline(tiny_decoder, kind, n_samples=n, seed=5)
        assert ours == pytest.approx(float(expected.mean()), abs=1e-6)


@pytest.mark.parametrize("normalization", ["LN", "RMS"])
def test_folding_equals_transformer_lens_s_load_and_process(normalization):
    """`folded` (one load of the folded state dict) against TransformerLens's own
    ``load_and_process_state_dict``, which folds the same way but loads key by key."""
    import copy

    from transformer_lens import HookedTransformer, HookedTransformerConfig

    cfg = HookedTransformerConfig(
        n_layers=2, d_model=32, n_heads=4, d_head=8, d_mlp=64, n_ctx=16, d_vocab=50,
        act_fn="silu", normalization_type=normalization, gated_mlp=normalization == "RMS",
        seed=1,
    )  # fmt: skip
    model = HookedTransformer(cfg)
    for param in model.parameters():  # norms away from 1, so that folding changes weights
        param.data += 0.1 * torch.randn_like(param)
    reference_cfg = copy.deepcopy(cfg)
    reference_cfg.normalization_type += "Pre"
    reference = HookedTransformer(reference_cfg)
    reference.load_and_process_state_dict(
        copy.deepcopy(model.state_dict()), fold_ln=True, center_writing_weights=False,
        center_unembed=False, fold_value_biases=False,
    )  # fmt: skip
    ours = folded(model)
    assert ours.cfg.normalization_type == normalization + "Pre"
    expected = reference.state_dict()
    assert ours.state_dict().keys() == expected.keys()
    for name, value in ours.state_dict().items():
        assert torch.equal(value, expected[name]), name
    tokens = torch.randint(0, 50, (2, 10))
    with torch.no_grad():
        assert torch.equal(ours(tokens), reference(tokens))
        torch.testing.assert_close(ours(tokens), model(tokens), rtol=1e-4, atol=1e-4)
    assert model.cfg.normalization_type == normalization  # the original is untouched
