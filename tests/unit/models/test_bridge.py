"""The Bridge backend gives the hooked backend's numbers on the same weights, analysis by analysis.

Each family's random Hugging Face directory is loaded twice, through TransformerLens's
HookedTransformer (our conversion) and through its TransformerBridge (the Hugging Face model
itself), and every analysis must agree to float tolerance.
"""

from collections.abc import Callable

import pytest
import torch

import mechscope as ms
from mechscope.core import Component, MechscopeError, ModelSpecError, TokenBatch, every_site
from mechscope.data.conllu import Sentence
from mechscope.models import adapt, is_bridge, load_model
from tests.hf_factories import BRIDGE_FAMILIES as FAMILIES
from tests.hf_factories import VOCAB

TOLERANCE = 1e-5


@pytest.fixture(scope="module", params=FAMILIES)
def both(request, bridge_dirs):
    path = bridge_dirs[request.param]
    bridge = load_model(path, device="cpu", backend="bridge")
    hooked = load_model(path, device="cpu")
    assert is_bridge(bridge) and not is_bridge(hooked)
    return request.param, hooked, bridge


def tokens() -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(4, VOCAB, (3, 12), generator=generator)
    ids[:, 0] = 1
    return ids


def task(model):
    ids = tokens()
    clean, corrupted = TokenBatch.full(ids), TokenBatch.full(ids.roll(1, 0))
    return ms.TaskPairs(clean, corrupted, ids[:, 5], ids[:, 6], torch.full((3,), 11), "task")


def heads(model, component=Component.Z):
    per_layer = adapt(model).n_key_value_heads if component is Component.V else model.cfg.n_heads
    return every_site(component, model.cfg.n_layers, n_heads=per_layer)


def sentences() -> list[Sentence]:
    words = [f"w{i}" for i in range(4, 30)]
    return [Sentence(tuple(words[i : i + 6]), (-1, 0, 0, 0, 0, 0), ("root",) + ("dep",) * 5)
            for i in range(6)]  # fmt: skip


def spliced_logits(model):
    torch.manual_seed(0)
    sae = ms.training_sae(ms.SaeRecipe(width=32, k=4), model.cfg.d_model)
    with ms.splice(model, sae, "blocks.1.hook_resid_pre", [ms.ablate_features([0, 1, 2])]):
        return model(tokens())


def probe_accuracy(model):
    acts = ms.collect(model, sentences(), progress=False)
    labels = torch.arange(acts.values.shape[1]) % 3
    classifier = ms.fit_probe(acts.values[1], labels, 3)
    return classifier(acts.values[1]).argmax(-1).float()


ANALYSES: dict[str, Callable] = {
    "logits": lambda m: m(tokens()),
    "detect_heads": lambda m: ms.detect_heads(m, tokens(), progress=False).per_prompt,
    "attention_stats": lambda m: ms.attention_stats(m, TokenBatch.full(tokens())).entropy,
    "rank": lambda m: ms.rank_stats(m, TokenBatch.full(tokens())).effective_rank,
    "anisotropy": lambda m: ms.anisotropy_stats(m, TokenBatch.full(tokens())).baseline,
    "activation patching, heads": lambda m: (
        ms.activation_patching(task(m).runs(m), heads(m), progress=False).values
    ),
    "activation patching, values": lambda m: (
        ms.activation_patching(task(m).runs(m), heads(m, Component.V), progress=False).values
    ),
    "activation patching, stream": lambda m: (
        ms.activation_patching(
            task(m).runs(m),
            every_site(Component.RESID_PRE, m.cfg.n_layers, n_pos=12),
            progress=False,
        ).values
    ),  # fmt: skip
    "attribution patching": lambda m: ms.attribution_patching(task(m).runs(m), heads(m)).values,
    "path patching": lambda m: torch.tensor(
        ms.path_patching(task(m).runs(m), [(0, 1)], [(1, 2)]).value
    ),
    "edge attribution": lambda m: ms.edge_attribution(m, task(m)).scores,
    "ablation": lambda m: (
        ms.ablation_effects(m, TokenBatch.full(tokens()), task(m).logit_diff()).ablated
    ),
    "logit lens": lambda m: ms.logit_lens(m, TokenBatch.full(tokens())).log_prob,
    "direct logit attribution": lambda m: (
        ms.direct_logit_attribution(m, TokenBatch.full(tokens()), tokens()[:, 5]).values
    ),
    "stream decomposition": lambda m: ms.decompose_stream(m, TokenBatch.full(tokens())).parts,
    "composition": lambda m: ms.composition_scores(m, ms.CompositionKind.K),
    "weight circuits": lambda m: ms.weight_circuits(m).copying,
    "collect": lambda m: ms.collect(m, sentences(), progress=False).values,
    "probe": probe_accuracy,
    "SAE activations": lambda m: ms.site_activations(
        m, tokens(), "blocks.1.hook_resid_pre", progress=False
    ),
    "SAE splice": spliced_logits,
}


@pytest.mark.parametrize("analysis", list(ANALYSES))
def test_every_analysis_gives_the_hooked_numbers(both, analysis):
    _, hooked, bridge = both
    expected, got = (ANALYSES[analysis](model).detach() for model in (hooked, bridge))
    assert got.shape == expected.shape
    assert torch.equal(got.isnan(), expected.isnan())
    scale = max(1.0, float(expected.nan_to_num().abs().max()))
    assert float((got - expected).nan_to_num().abs().max()) <= TOLERANCE * scale


def test_the_neuron_view_reads_rotated_queries_or_says_the_bridge_has_none(both):
    family, hooked, bridge = both
    if family == "neox":  # TransformerLens's NeoX Bridge has no hook_rot_q
        with pytest.raises(MechscopeError, match="hooked backend"):
            ms.query_key(bridge, tokens()[0], 1, 2)
        return
    expected, got = ms.query_key(hooked, tokens()[0], 1, 2), ms.query_key(bridge, tokens()[0], 1, 2)
    for name in ("q", "k", "pattern"):
        assert torch.allclose(getattr(got, name), getattr(expected, name), atol=1e-5)


def test_the_adapter_plans_every_pass_from_the_embeddings(both):
    _, hooked, bridge = both
    assert adapt(bridge).causal and adapt(bridge).bridge and not adapt(bridge).post_norm
    assert not adapt(bridge).can_start_at_layer and adapt(hooked).can_start_at_layer
    assert adapt(bridge).embedding_hooks == adapt(hooked).embedding_hooks
    for name in ("W_Q", "W_K", "W_V", "W_O"):  # per query head, under grouped queries too
        assert torch.allclose(adapt(bridge).head_weight(name), adapt(hooked).head_weight(name))


def test_a_device_map_split_gives_the_same_logits_and_patching(bridge_dirs):
    path = bridge_dirs["gpt2"]
    split = {"transformer.wte": "cpu", "transformer.wpe": "cpu", "transformer.h.0": "cpu",
             "transformer.h.1": "cpu", "transformer.ln_f": "cpu", "lm_head": "cpu"}  # fmt: skip
    mapped = load_model(path, backend="bridge", device_map=split)
    hooked = load_model(path, device="cpu")
    assert torch.allclose(mapped(tokens()), hooked(tokens()), atol=1e-5)
    sites = every_site(Component.RESID_PRE, 2, n_pos=12)  # across the block boundary
    values = [ms.activation_patching(task(m).runs(m), sites, progress=False).values
              for m in (mapped, hooked)]  # fmt: skip
    assert torch.allclose(values[0], values[1], atol=1e-5)


def test_what_the_bridge_cannot_take_is_refused_in_one_line(bridge_dirs, hf_dirs, tmp_path):
    path = bridge_dirs["gpt2"]
    cases = {
        "is a mechscope checkpoint": lambda: load_model("induction-2l", backend="bridge"),
        "is an encoder": lambda: load_model(hf_dirs["bert"], backend="bridge"),
        "has no tokenizer": lambda: load_model(hf_dirs["gpt2"], backend="bridge"),
        "sends modules to disk": lambda: load_model(
            path, backend="bridge", device_map={"transformer.h.0": "disk"}
        ),
        "mixes CPU and CUDA": lambda: load_model(
            path, backend="bridge", device_map={"transformer.h.0": "cpu", "lm_head": 0}
        ),
        "neither a strategy": lambda: load_model(path, backend="bridge", device_map="fast"),
        "add backend='bridge'": lambda: load_model(path, device_map="auto"),
        "unknown backend": lambda: load_model(path, backend="vllm"),
        "no config.json": lambda: load_model(tmp_path, backend="bridge"),
    }
    for message, load in cases.items():
        with pytest.raises((ModelSpecError, MechscopeError), match=message) as error:
            load()
        assert "\n" not in str(error.value)


def test_path_attribution_forks_the_bridge_s_attention_inputs(both):
    _, hooked, bridge = both
    got, expected = (ms.path_attribution(task(m).runs(m), [(1, 2)]) for m in (bridge, hooked))
    assert torch.allclose(got, expected, atol=1e-5, equal_nan=True)  # NaN: not upstream
    assert bool(expected.nan_to_num().abs().sum() > 0)


def test_gradient_norms_count_the_same_weights(both):
    """Per block and component; the Bridge counts the Hugging Face model's parameters. Llama
    has no biases there, while HookedTransformer gives it zero biases that get gradients, so
    its attention and MLP norms are the hooked ones without those (never larger)."""
    family, hooked, bridge = both
    expected, got = (ms.gradient_norms(m, TokenBatch.full(tokens())) for m in (hooked, bridge))
    from mechscope.diagnostics.gradients import COMPONENTS

    norm = COMPONENTS.index("norm")
    assert torch.allclose(got.norms[:, norm], expected.norms[:, norm], atol=1e-5)
    if family == "llama-gqa":
        assert bool((got.norms <= expected.norms + 1e-5).all())
        assert bool((got.norms[:, :2] > 0.5 * expected.norms[:, :2]).all())
    else:
        assert torch.allclose(got.norms, expected.norms, atol=1e-5)
