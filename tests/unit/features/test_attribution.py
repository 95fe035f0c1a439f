"""Feature attribution and feature patching against straightforward references written here."""

import torch

from mechscope.core.metrics import Metric
from mechscope.core.results import load_result
from mechscope.features import FeatureAttribution, ablate_features, site_hook, splice
from mechscope.features.attribution import attribute_features, patch_features
from tests.unit.features.test_sae import random_sae


def _decoder(sae):  # noqa: ANN001, ANN202
    """What one unit of each feature writes: SAELens's TopK SAEs divide by the decoder norm."""
    assert sae.cfg.rescale_acts_by_decoder_norm
    return sae.W_dec.detach() / sae.W_dec.detach().norm(dim=1, keepdim=True)


def _metric() -> Metric:
    # the mean log-probability of byte 'e' at the last position
    return Metric("log p(e)", lambda logits: logits[:, -1].log_softmax(-1)[:, ord("e")].mean())


def _activation_gradient(model, hook, tokens, metric):  # noqa: ANN001, ANN202
    """The metric's gradient with respect to the hook's activation (no SAE anywhere)."""
    kept = {}

    def keep(act, hook):  # noqa: ANN001, ANN202, ARG001
        act.retain_grad()
        kept["x"] = act

    with torch.enable_grad():
        x_in = model.embed(tokens)  # make the graph need gradients from the start
        x_in.requires_grad_(True)
        with model.hooks(fwd_hooks=[(hook, keep)]):
            value = metric(model(tokens))
        value.backward()
    return kept["x"].detach(), kept["x"].grad.detach()


def test_attribution_is_activation_times_gradient_and_exact_ablation(byte_model, tmp_path):
    tokens = byte_model.to_tokens(["the cat sat on th", "a fine day for th"])
    hook = site_hook(byte_model, "resid_post", 0)
    sae = random_sae(byte_model.cfg.d_model, width=24, k=4)
    metric = _metric()
    result = attribute_features(byte_model, sae, hook, tokens, metric, top_k=5, progress=False)
    for p in byte_model.parameters():
        p.requires_grad_(True)
    x, grad = _activation_gradient(byte_model, hook, tokens, metric)
    acts = sae.encode(x).detach()
    reference = -torch.einsum("bpf,fd,bpd->f", acts, _decoder(sae), grad)
    assert torch.allclose(result.estimate, reference, atol=1e-5)
    assert result.top.tolist() == reference.abs().topk(5).indices.tolist()
    clean = float(metric(byte_model(tokens)))
    assert abs(result.baseline - clean) < 1e-6  # the splice with its error term changes nothing
    for feature, effect in zip(result.top.tolist(), result.exact.tolist(), strict=True):
        with splice(byte_model, sae, hook, [ablate_features([feature])]):
            assert abs(effect - (float(metric(byte_model(tokens))) - clean)) < 1e-5
    with splice(byte_model, sae, hook, [ablate_features(result.top.tolist())]):
        assert result.together is not None
        assert abs(result.together - (float(metric(byte_model(tokens))) - clean)) < 1e-5
    result.save(tmp_path)
    loaded = load_result(tmp_path)
    assert isinstance(loaded, FeatureAttribution) and torch.equal(loaded.exact, result.exact)


def test_patching_a_feature_moves_the_corrupted_run_by_its_decoded_difference(byte_model):
    clean = byte_model.to_tokens(["the cat sat on th"])
    corrupted = byte_model.to_tokens(["a dog ran onto th"])
    hook = site_hook(byte_model, "resid_post", 1)
    sae = random_sae(byte_model.cfg.d_model, width=24, k=4, seed=2)
    metric = _metric()
    result = patch_features(byte_model, sae, hook, clean, corrupted, metric, top_k=3,
                            progress=False)  # fmt: skip
    assert abs(result.reference - float(metric(byte_model(clean)))) < 1e-6
    assert abs(result.baseline - float(metric(byte_model(corrupted)))) < 1e-6
    _, cache = byte_model.run_with_cache(clean, names_filter=hook)
    a_clean = sae.encode(cache[hook]).detach()
    x, grad = _activation_gradient(byte_model, hook, corrupted, metric)
    a_corrupted = sae.encode(x).detach()
    decoder = _decoder(sae)
    reference = torch.einsum("bpf,fd,bpd->f", a_clean - a_corrupted, decoder, grad)
    assert torch.allclose(result.estimate, reference, atol=1e-5)
    for feature, effect in zip(result.top.tolist(), result.exact.tolist(), strict=True):
        shift = (a_clean - a_corrupted)[..., feature, None] * decoder[feature]

        def moved(act, hook, shift=shift):  # noqa: ANN001, ANN202, ARG001
            return act + shift

        with byte_model.hooks(fwd_hooks=[(hook, moved)]):
            patched = float(metric(byte_model(corrupted)))
        assert abs(effect - (patched - result.baseline)) < 1e-5
    shift = (a_clean - a_corrupted)[..., result.top] @ decoder[result.top]

    def all_moved(act, hook):  # noqa: ANN001, ANN202, ARG001
        return act + shift

    with byte_model.hooks(fwd_hooks=[(hook, all_moved)]):
        assert result.together is not None
        assert (
            abs(result.together - (float(metric(byte_model(corrupted))) - result.baseline)) < 1e-5
        )
    # every feature patched plus the error term patched: together they are the whole clean
    # activation, so patching both moves the run all the way to clean
    assert result.all_features is not None and result.error_term is not None
    decoded = sae.decode(a_clean).detach() - sae.decode(a_corrupted).detach()

    def features_moved(act, hook):  # noqa: ANN001, ANN202, ARG001
        return act + decoded

    with byte_model.hooks(fwd_hooks=[(hook, features_moved)]):
        every = float(metric(byte_model(corrupted))) - result.baseline
    assert abs(result.all_features - every) < 1e-5
    clean_x = cache[hook].detach()

    def error_moved(act, hook):  # noqa: ANN001, ANN202, ARG001
        return act + (clean_x - act) - decoded

    with byte_model.hooks(fwd_hooks=[(hook, error_moved)]):
        error = float(metric(byte_model(corrupted))) - result.baseline
    assert abs(result.error_term - error) < 1e-4
    gap = result.reference - result.baseline
    assert torch.allclose(result.normalised(result.exact), result.exact / gap)
