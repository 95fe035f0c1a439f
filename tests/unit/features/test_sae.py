"""SAEs through SAELens: recovering known features, the splice, the evaluation, training runs."""

import json

import pytest
import torch

from mechscope.core.errors import MechscopeError
from mechscope.features import (
    LOSSES,
    Architecture,
    SaeRecipe,
    ablate_features,
    add_features,
    clamp_features,
    evaluate_sae,
    fit_sae,
    load_sae,
    site_activations,
    site_hook,
    splice,
    train_sae,
    training_sae,
)


def superposition(n_features: int, d: int, p: float, n: int, seed: int):
    """Elhage et al. 2022's toy data: sparse nonnegative features in a smaller space."""
    generator = torch.Generator().manual_seed(seed)
    directions = torch.nn.functional.normalize(
        torch.randn(n_features, d, generator=generator), dim=-1
    )
    on = (torch.rand(n, n_features, generator=generator) < p).float()
    return (torch.rand(n, n_features, generator=generator) * on) @ directions, directions


@pytest.mark.parametrize(
    ("architecture", "coefficient"),
    [(Architecture.TOPK, 0.0), (Architecture.BATCHTOPK, 0.0), (Architecture.JUMPRELU, 0.05),
     (Architecture.RELU, 0.5)],
)  # fmt: skip
def test_an_sae_recovers_the_features_of_a_toy_model_of_superposition(architecture, coefficient):
    # 64 features in 32 dimensions, each on with probability 0.04 (2.6 per sample); 128
    # features, k=3. Mean max cosine with these 80 steps of 512 (measured): TopK 0.994,
    # BatchTopK 0.925, JumpReLU 0.924, ReLU + L1 0.997; 160 steps: BatchTopK 0.954,
    # JumpReLU 0.985.
    data, truth = superposition(64, 32, 0.04, 30_000, seed=0)
    recipe = SaeRecipe(architecture=architecture, width=128, k=3,
                       sparsity_coefficient=coefficient, tokens=80 * 512, batch_size=512,
                       lr=1e-2)  # fmt: skip
    sae, _ = fit_sae(data, recipe, progress=False)
    decoder = torch.nn.functional.normalize(sae.W_dec.detach(), dim=-1)
    best = (truth @ decoder.T).max(-1).values
    assert float(best.mean()) >= 0.9, float(best.mean())


def random_sae(d_in: int, width: int = 32, k: int = 4, seed: int = 0):
    from mechscope.features.sae import training_sae as fresh

    sae = fresh(SaeRecipe(width=width, k=k, seed=seed), d_in)
    with torch.no_grad():  # a decoder of unit-ish rows and a nonzero bias, so edits show
        sae.W_dec.normal_(generator=torch.Generator().manual_seed(seed))
        sae.b_dec.normal_(generator=torch.Generator().manual_seed(seed + 1))
    return sae


def test_the_splice_with_its_error_term_leaves_the_model_exactly_as_it_was(byte_model):
    tokens = byte_model.to_tokens(["some text here", "and more text!"])
    hook = site_hook(byte_model, "resid_post", 0)
    sae = random_sae(byte_model.cfg.d_model)
    clean = byte_model(tokens)
    with splice(byte_model, sae, hook):
        assert torch.equal(byte_model(tokens), clean)
    with splice(byte_model, sae, hook, error_term=False):
        assert not torch.allclose(byte_model(tokens), clean)
    assert torch.equal(byte_model(tokens), clean)  # the hook is gone


def test_a_feature_edit_moves_the_activation_by_its_decoded_difference(byte_model):
    tokens = byte_model.to_tokens(["some text here"])
    hook = site_hook(byte_model, "resid_post", 0)
    sae = random_sae(byte_model.cfg.d_model)
    _, cache = byte_model.run_with_cache(tokens, names_filter=hook)
    x = cache[hook]
    features = sae.encode(x).detach()
    seen = {}

    def record(act, hook):
        seen["x"] = act

    later = "blocks.1.hook_resid_pre"
    # adding 2.0 to feature 3 moves the stream by the decoded difference
    with (
        splice(byte_model, sae, hook, [add_features([3], 2.0)]),
        byte_model.hooks([(later, record)]),
    ):
        byte_model(tokens)
    added = features.clone()
    added[..., 3] += 2.0
    assert torch.allclose(seen["x"], x + (sae.decode(added) - sae.decode(features)), atol=1e-5)
    # ablating the active features of the last position removes their decoded contribution
    active = features[0, -1].nonzero().flatten().tolist()
    with (
        splice(byte_model, sae, hook, [ablate_features(active)]),
        byte_model.hooks([(later, record)]),
    ):
        byte_model(tokens)
    kept = features.clone()
    kept[0, :, active] = 0
    removed = sae.decode(features)[0, -1] - sae.decode(kept)[0, -1]
    assert removed.norm() > 0.1
    assert torch.allclose(seen["x"][0, -1], x[0, -1] - removed, atol=1e-5)
    # clamping to the value each already has changes nothing
    value = float(features[0, -1, active[0]])
    edit = clamp_features([active[0]], value)
    assert torch.allclose(edit.apply(features)[0, -1], features[0, -1])


def test_the_evaluation_against_a_reference_written_here(byte_model):
    hook = site_hook(byte_model, "resid_post", 1)
    sae = random_sae(byte_model.cfg.d_model, width=24, k=3)
    texts = ["the quick brown fox jumps", "over the lazy dog, again", "and again and again"]
    windows = byte_model.to_tokens(texts)
    result = evaluate_sae(byte_model, sae, hook, windows, batch_size=2, progress=False)
    pad = 257
    keep = windows != pad
    keep[:, 0] = False
    x = site_activations(byte_model, windows, hook, progress=False)
    assert x.shape[0] == int(keep.sum()) == result.n_tokens
    recon = sae.decode(sae.encode(x)).detach()
    reference_ev = 1 - ((x - recon) ** 2).sum() / ((x - x.mean(0)) ** 2).sum()
    assert result.explained_variance == pytest.approx(float(reference_ev), abs=1e-4)
    per_dim = 1 - (((x - recon) ** 2).sum(0) / ((x - x.mean(0)) ** 2).sum(0)).mean()
    assert result.explained_variance_per_dim == pytest.approx(float(per_dim), abs=1e-4)
    assert result.l0 <= 3 + 1e-6
    clean, with_error = (result.losses[LOSSES.index(r)] for r in ("clean", "with_error"))
    assert torch.equal(clean, with_error)
    c, s, z = (
        result.losses[LOSSES.index(r)].double().mean() for r in ("clean", "spliced", "zero_ablated")
    )
    assert result.recovered()[0] == pytest.approx(float((z - s) / (z - c)))
    metrics = result.metrics()
    assert metrics["loss_with_error"] == metrics["loss_clean"]
    assert 0 <= metrics["dead_fraction"] <= 1 and metrics["n_windows"] == 3


def test_a_training_run_saves_loads_and_resumes_to_the_same_sae(byte_model, tmp_path):
    from mechscope.data.corpus import load_corpus

    corpus = load_corpus([json.__file__.replace("__init__.py", "decoder.py")], 0.2)
    hook = site_hook(byte_model, "mlp_out", 1)
    recipe = SaeRecipe(width=32, k=4, tokens=8 * 256, read_tokens=3000, batch_size=256,
                       n_ctx=32, eval_tokens=600, checkpoints=2)  # fmt: skip
    whole = train_sae(byte_model, hook, corpus, recipe, tmp_path / "whole", progress=False)
    assert (tmp_path / "whole" / "cfg.json").is_file()
    metrics = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    assert metrics["loss_with_error"] == metrics["loss_clean"]
    loaded = load_sae(tmp_path / "whole")
    assert torch.equal(loaded.W_dec, whole.sae.W_dec)
    assert loaded.cfg.metadata.hook_name == hook
    # Interrupted after its first checkpoint: the resumed run ends where the whole one did.
    part = tmp_path / "part"
    train_sae(byte_model, hook, corpus, recipe, part, progress=False)
    checkpoints = sorted((part / "checkpoints").iterdir(), key=lambda p: int(p.name))
    for later in checkpoints[1:]:
        import shutil

        shutil.rmtree(later)
    with pytest.raises(MechscopeError, match="pass --resume"):
        train_sae(byte_model, hook, corpus, recipe, part, progress=False)
    resumed = train_sae(byte_model, hook, corpus, recipe, part, resume=True, progress=False)
    assert resumed.resumed_from == int(checkpoints[0].name)
    assert torch.allclose(resumed.sae.W_dec, whole.sae.W_dec, atol=1e-6)
    other = SaeRecipe(width=48, k=4, tokens=8 * 256, read_tokens=3000, batch_size=256,
                      n_ctx=32, eval_tokens=600, checkpoints=2)  # fmt: skip
    with pytest.raises(MechscopeError, match="width differ"):
        train_sae(byte_model, hook, corpus, other, part, resume=True, progress=False)


def test_bad_sites_recipes_and_saes_are_one_line_errors(byte_model, tiny_decoder, tmp_path):
    with pytest.raises(MechscopeError, match=r"no site mlp_out at layer 0 \(an attention-only"):
        site_hook(tiny_decoder, "mlp_out", 0)
    with pytest.raises(MechscopeError, match="layer 5 is out of range"):
        site_hook(byte_model, "resid_post", 5)
    with pytest.raises(MechscopeError, match="unknown site 'resid'"):
        site_hook(byte_model, "resid", 0)
    with pytest.raises(MechscopeError, match="--k 64 is larger than the SAE's 32 features"):
        training_sae(SaeRecipe(width=32, k=64), 16)
    with pytest.raises(ValueError, match="--width must be at least 1"):
        SaeRecipe(width=0)
    wide = random_sae(24)
    wrong = "width 24, but blocks.0.hook_resid_post has width 16"
    with (
        pytest.raises(MechscopeError, match=wrong),
        splice(byte_model, wide, "blocks.0.hook_resid_post"),
    ):
        pass
    with pytest.raises(MechscopeError, match="holds no SAE"):
        load_sae(tmp_path)
