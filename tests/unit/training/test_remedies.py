"""The training remedies, each against its formula on a tiny model, and resume with all on."""

import math
from dataclasses import replace

import pytest
import torch
from transformer_lens import HookedTransformer

from mechscope.core.errors import MechscopeError
from mechscope.core.sites import Component, hook_name
from mechscope.data.corpus import load_corpus
from mechscope.models import load_model
from mechscope.training import TrainConfig, train
from mechscope.training.batches import eval_text_batch
from mechscope.training.config import VitTrainConfig
from mechscope.training.loop import (
    TextCallbacks,
    TrainingInterrupted,
    learning_rate,
    model_config,
    noisy_tokens,
)
from mechscope.training.remedies import (
    Remedies,
    attention_entropy,
    redundancy,
    scale_initial_weights,
)
from mechscope.training.run_dir import read_metrics
from mechscope.training.vision import VisionCallbacks, train_vit
from tests.unit.training.test_loop import TEXT, tiny
from tests.unit.training.test_vision import tiny as tiny_vit


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.py"
    path.write_text(TEXT)
    return str(path)


TOKENS = torch.randint(0, 256, (3, 12), generator=torch.Generator().manual_seed(0))


def model_for(**options) -> tuple[TrainConfig, HookedTransformer]:
    cfg = TrainConfig(n_layers=2, n_heads=2, d_model=16, n_ctx=16, attn_only=False, **options)
    return cfg, HookedTransformer(model_config(cfg), move_to_device=False)


def scores_and_patterns(model, remedies=None, step=None):
    names = [hook_name(Component.ATTN_SCORES, 0), hook_name(Component.PATTERN, 0)]
    names += [hook_name(Component.Q, 0), hook_name(Component.K, 0)]
    if remedies is None:
        _, cache = model.run_with_cache(TOKENS, names_filter=names)
    else:
        with remedies.applied(model, step):
            _, cache = model.run_with_cache(TOKENS, names_filter=names)
    return [cache[name] for name in names]


def test_alibi_adds_press_et_al_s_linear_biases_and_no_position_embedding():
    _, model = model_for(positions="alibi")
    scores, _, q, k = scores_and_patterns(model)
    plain = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(8)
    slopes = torch.tensor([2 ** (-8 * h / 2) for h in (1, 2)])  # m_h = 2^(-8h/n)
    pos = torch.arange(12)
    bias = -slopes[:, None, None] * (pos[:, None] - pos[None, :])
    causal = pos[:, None] >= pos[None, :]
    assert torch.allclose(scores[:, :, causal], (plain + bias)[:, :, causal], atol=1e-5)
    before = model(TOKENS)
    with torch.no_grad():
        model.pos_embed.W_pos.normal_()  # present, but ALiBi models do not add it
    assert torch.equal(model(TOKENS), before)


def test_a_local_window_hides_keys_beyond_it():
    _, model = model_for(attn_window=3)
    _, pattern, _, _ = scores_and_patterns(model)
    distance = torch.arange(12)[:, None] - torch.arange(12)[None, :]
    assert (pattern[:, :, distance >= 3] == 0).all()
    assert (pattern[:, :, (distance >= 0) & (distance < 3)] > 0).all()


def test_temperature_divides_the_logits_and_folds_into_the_saved_weights():
    cfg, model = model_for(attn_temperature=2.0)
    remedies = Remedies(cfg, 2, 2, seed=0)
    plain, *_ = scores_and_patterns(model)
    hot, *_ = scores_and_patterns(model, remedies)
    causal = torch.ones(12, 12).tril().bool()
    assert torch.allclose(hot[:, :, causal], plain[:, :, causal] / 2, atol=1e-6)
    with remedies.applied(model, None):
        hooked = model(TOKENS)
    assert torch.allclose(remedies.folded(model)(TOKENS), hooked, atol=1e-5)


def test_sigma_reparam_divides_w_q_by_its_spectral_norm_times_gamma():
    cfg, model = model_for(sigma_reparam=True)
    remedies = Remedies(cfg, 2, 2, seed=0)
    with torch.no_grad():
        remedies.gamma_q.fill_(3.0)
    _, cache = model.run_with_cache(TOKENS, names_filter=[hook_name(Component.LN1_NORMALIZED, 0)])
    x = cache[hook_name(Component.LN1_NORMALIZED, 0)]
    attn = model.blocks[0].attn
    w = attn.W_Q.detach()
    sigma = torch.linalg.svdvals(torch.cat(list(w), dim=1))[0]  # d_model x (head d_head)
    expected = torch.einsum("bpm,hmd->bphd", x, w * 3.0 / sigma) + attn.b_Q
    *_, q, _ = scores_and_patterns(model, remedies)
    assert torch.allclose(q, expected, atol=1e-5)
    with remedies.applied(model, None):
        hooked = model(TOKENS)
    assert torch.allclose(remedies.folded(model)(TOKENS), hooked, atol=1e-5)


def test_learned_temperatures_and_gammas_get_gradients():
    cfg, model = model_for(learned_temperature=True, sigma_reparam=True)
    remedies = Remedies(cfg, 2, 2, seed=0)
    with remedies.applied(model, 0):
        model(TOKENS, return_type="loss").backward()
    for param in (remedies.log_temperature, remedies.gamma_q, remedies.gamma_k):
        assert param.grad is not None and param.grad.abs().sum() > 0


def test_the_entropy_regulariser_matches_its_formula_and_a_finite_difference():
    cfg = TrainConfig(n_layers=2, n_heads=2, d_model=16, n_ctx=16, attn_only=False,
                      entropy_floor=3.0, entropy_weight=0.5)  # fmt: skip
    model = HookedTransformer(replace(model_config(cfg), dtype=torch.float64),
                              move_to_device=False)  # fmt: skip
    remedies = Remedies(cfg, 2, 2, seed=0)

    def penalty() -> torch.Tensor:
        with remedies.applied(model, 0) as captured:
            model(TOKENS)
        return remedies.penalty(captured)

    _, cache = model.run_with_cache(TOKENS)
    by_hand = []
    for layer in range(2):
        p = cache[hook_name(Component.PATTERN, layer)][..., 1:, :]  # queries seeing 2+ keys
        h = -(p * p.clamp_min(1e-12).log()).sum(-1).mean((0, 2))
        by_hand.append((3.0 - h).clamp_min(0))
    assert torch.allclose(penalty(), 0.5 * torch.stack(by_hand).mean())
    weight = model.blocks[0].attn.W_Q
    penalty().backward()
    direction = torch.randn_like(weight)
    eps = 1e-6
    with torch.no_grad():
        weight += eps * direction
        up = penalty()
        weight -= 2 * eps * direction
        down = penalty()
        weight += eps * direction
    numeric = (up - down) / (2 * eps)
    assert weight.grad is not None
    assert torch.allclose((weight.grad * direction).sum(), numeric, rtol=1e-4)


def test_attention_entropy_of_a_uniform_pattern_is_log_keys():
    pattern = torch.full((1, 1, 4, 4), 0.25)
    assert torch.allclose(attention_entropy(pattern, causal=False), torch.tensor([math.log(4)]))


def test_the_redundancy_regulariser_is_the_mean_squared_off_diagonal_correlation():
    x = torch.randn(50, 5, dtype=torch.float64)
    x[:, 1] = x[:, 0] + 0.1 * x[:, 1]
    corr = torch.corrcoef(x.T)
    off = corr[~torch.eye(5, dtype=torch.bool)]
    assert torch.allclose(redundancy(x), off.pow(2).mean(), atol=1e-4)
    assert torch.autograd.gradcheck(redundancy, (x.clone().requires_grad_(),))


def test_dropout_acts_only_in_training_with_masks_fixed_by_the_step():
    cfg, model = model_for(attn_dropout=0.5, resid_dropout=0.5)
    remedies = Remedies(cfg, 2, 2, seed=0)
    plain = model(TOKENS)
    with remedies.applied(model, None):
        assert torch.equal(model(TOKENS), plain)
    outputs = []
    for step in (3, 3, 4):
        with remedies.applied(model, step):
            outputs.append(model(TOKENS))
    assert torch.equal(outputs[0], outputs[1]) and not torch.equal(outputs[0], outputs[2])
    assert not torch.allclose(outputs[0], plain)
    assert not model.hook_dict[hook_name(Component.PATTERN, 0)].fwd_hooks  # hooks removed


def test_token_noise_replaces_the_share_asked_never_bos_and_repeats_by_step():
    tokens = torch.full((64, 128), 300)  # a value no random byte takes
    noisy = noisy_tokens(tokens, 0.2, seed=1, step=5)
    changed = noisy != 300
    assert not changed[:, 0].any()
    assert 0.18 < changed[:, 1:].float().mean() < 0.22
    assert torch.equal(noisy, noisy_tokens(tokens, 0.2, seed=1, step=5))
    assert not torch.equal(noisy, noisy_tokens(tokens, 0.2, seed=1, step=6))


def test_the_cosine_schedule_warms_up_then_decays_to_its_floor():
    cfg = TrainConfig(lr=1e-3, warmup_steps=10, steps=110, schedule="cosine", min_lr_fraction=0.1)
    rates = [learning_rate(cfg, s) for s in range(110)]
    assert rates[0] == pytest.approx(1e-4) and rates[9] == pytest.approx(1e-3)
    assert rates[-1] == pytest.approx(1e-4)
    progress = (60 - 10) / (110 - 1 - 10)  # from the end of warm-up to the last step
    assert rates[60] == pytest.approx(1e-3 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))))
    assert all(a >= b for a, b in zip(rates[9:], rates[10:], strict=False))
    assert learning_rate(TrainConfig(warmup_steps=10), 50) == 1e-3  # constant after warm-up


def test_init_scale_multiplies_every_weight_matrix_and_depth_scaling_the_outputs():
    cfg, a = model_for(init_scale=0.5, depth_scaled_init=True)
    b = HookedTransformer(model_config(cfg), move_to_device=False)  # the same seed
    scale_initial_weights(b, cfg, cfg.n_layers)
    assert torch.equal(b.W_E, a.W_E * 0.5)
    assert torch.equal(b.blocks[1].attn.W_Q, a.blocks[1].attn.W_Q * 0.5)
    assert torch.equal(b.blocks[0].attn.W_O, a.blocks[0].attn.W_O * 0.5 / 2)  # 1/sqrt(2 x 2)
    assert torch.equal(b.blocks[0].mlp.W_out, a.blocks[0].mlp.W_out * 0.5 / 2)
    assert torch.equal(b.blocks[0].ln1.w, a.blocks[0].ln1.w)  # gains and biases unchanged
    assert torch.equal(b.blocks[0].attn.b_Q, a.blocks[0].attn.b_Q)


EVERY_OPTION = dict(
    attn_only=False, learned_temperature=True, attn_temperature=1.5, sigma_reparam=True,
    entropy_floor=2.0, entropy_weight=0.1, attn_dropout=0.1, resid_dropout=0.1,
    redundancy_weight=0.1, redundancy_layer=0, token_noise=0.1, positions="alibi",
    attn_window=8, schedule="cosine", init_scale=0.7, depth_scaled_init=True,
)  # fmt: skip


def interrupt_after_first_checkpoint(monkeypatch, callbacks: type) -> None:
    """Ctrl-C at the second evaluation (step 6 of 6), after the step-3 checkpoint is saved.

    A shorter first run would not do: the cosine schedule depends on the run's length.
    """
    evaluate = callbacks.evaluate

    def interrupting(self, model, step, *args):
        if step == 6:
            raise KeyboardInterrupt
        return evaluate(self, model, step, *args)

    monkeypatch.setattr(callbacks, "evaluate", interrupting)


def test_resume_after_ctrl_c_is_bit_identical_with_every_option_on(tmp_path, corpus, monkeypatch):
    straight = train(tiny(corpus, **EVERY_OPTION), tmp_path / "straight", progress=False)
    with monkeypatch.context() as patch:
        interrupt_after_first_checkpoint(patch, TextCallbacks)
        with pytest.raises(TrainingInterrupted):
            train(tiny(corpus, **EVERY_OPTION), tmp_path / "resumed", progress=False)
    resumed = train(tiny(corpus, **EVERY_OPTION), tmp_path / "resumed", resume=True,
                    progress=False)  # fmt: skip
    a = load_model(straight.final_checkpoint, device="cpu").state_dict()
    b = load_model(resumed.final_checkpoint, device="cpu").state_dict()
    assert all(torch.equal(a[name], b[name]) for name in a)
    assert read_metrics(straight.run_dir) [-1]["held_out_loss"] == read_metrics(
        resumed.run_dir)[-1]["held_out_loss"]  # fmt: skip


def test_the_saved_model_computes_what_the_trained_one_did(tmp_path, corpus):
    run = train(tiny(corpus, steps=3, **EVERY_OPTION), tmp_path / "r", progress=False)
    saved = load_model(run.final_checkpoint, device="cpu")
    assert saved.cfg.positional_embedding_type == "alibi" and saved.cfg.window_size == 8
    logged = read_metrics(run.run_dir)[-1]["held_out_loss"]
    assert run.records[-1].evaluation.held_out_loss == logged
    # the held-out loss measured on the loaded (folded) model equals the logged one
    cfg = tiny(corpus, steps=3, **EVERY_OPTION)
    text = eval_text_batch(cfg, load_corpus(cfg.corpus).held_out)
    assert float(saved(text, return_type="loss").detach()) == pytest.approx(logged, abs=1e-4)


def test_vit_resume_after_ctrl_c_is_bit_identical_with_the_shared_options_on(tmp_path, monkeypatch):
    options = dict(learned_temperature=True, sigma_reparam=True, entropy_floor=1.0,
                   entropy_weight=0.1, attn_dropout=0.1, resid_dropout=0.1,
                   redundancy_weight=0.1, schedule="cosine", init_scale=0.8)  # fmt: skip
    straight = train_vit(tiny_vit(**options), tmp_path / "straight", progress=False)
    with monkeypatch.context() as patch:
        interrupt_after_first_checkpoint(patch, VisionCallbacks)
        with pytest.raises(TrainingInterrupted):
            train_vit(tiny_vit(**options), tmp_path / "resumed", progress=False)
    resumed = train_vit(tiny_vit(**options), tmp_path / "resumed", resume=True, progress=False)
    a = load_model(straight.final_checkpoint, device="cpu").state_dict()
    b = load_model(resumed.final_checkpoint, device="cpu").state_dict()
    assert all(torch.equal(a[name], b[name]) for name in a)


def test_qk_norm_trains_and_loads_back_for_text_and_vit(tmp_path, corpus):
    text = train(tiny(corpus, steps=3, qk_norm=True), tmp_path / "t", progress=False)
    model = load_model(text.final_checkpoint, device="cpu")
    assert model.cfg.use_qk_norm and hasattr(model.blocks[0].attn, "q_norm")
    vit = train_vit(tiny_vit(steps=3, qk_norm=True), tmp_path / "v", progress=False)
    assert load_model(vit.final_checkpoint, device="cpu").cfg.use_qk_norm


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"qk_norm": True, "sigma_reparam": True}, "qk_norm normalises the queries"),
        ({"entropy_weight": 0.1}, "needs an entropy_floor"),
        ({"attn_dropout": 1.0}, r"attn_dropout must be in \[0, 1\)"),
        ({"redundancy_layer": 5}, "redundancy_layer 5 is not a block of 2"),
        ({"attn_window": -1}, "attn_window must be 0"),
    ],
)
def test_bad_options_are_refused_in_one_line(options, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**options)


def test_vit_recipes_take_the_shared_options_only():
    assert VitTrainConfig(sigma_reparam=True).sigma_reparam
    with pytest.raises(TypeError):
        VitTrainConfig(positions="alibi")  # type: ignore[call-arg]


def test_a_vit_trains_on_the_subset_asked_and_refuses_more_than_there_are(tmp_path):
    run = train_vit(tiny_vit(steps=3, train_images=50), tmp_path / "v", progress=False)
    assert run.records[-1].train_accuracy * 50 == pytest.approx(
        round(run.records[-1].train_accuracy * 50)
    )  # measured on the 50 images themselves
    with pytest.raises(MechscopeError, match="is more than the .* training images"):
        train_vit(tiny_vit(steps=3, train_images=10**6), tmp_path / "w", progress=False)


def test_random_crops_keep_the_shape_repeat_by_step_and_zoom_in():
    from mechscope.data import load_image_set
    from mechscope.training.vision import training_images

    train = load_image_set("digits").part(held_out=False)
    plain, _ = training_images(tiny_vit(shift=0), train, 3)
    cropped, _ = training_images(tiny_vit(shift=0, crop=4), train, 3)
    again, _ = training_images(tiny_vit(shift=0, crop=4), train, 3)
    assert cropped.shape == plain.shape and torch.equal(cropped, again)
    assert not torch.allclose(cropped, plain)
    # a crop of the whole image, resized to its own size, is the image
    from mechscope.training.vision import _random_crops

    assert torch.allclose(_random_crops(plain, 0, torch.Generator().manual_seed(0)), plain)
    with pytest.raises(ValueError, match="crop must be 0"):
        tiny_vit(crop=8)
