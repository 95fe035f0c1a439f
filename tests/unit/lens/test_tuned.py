"""The tuned lens's pieces against straightforward references on a random tiny decoder."""

import torch

from mechscope.core.batch import TokenBatch
from mechscope.lens.logit import boundary_hooks, lens_trajectory
from mechscope.lens.tuned import (
    LOGIT_LENS,
    TunedLens,
    compare_lenses,
    fit_regression,
    frozen,
)
from mechscope.models.run import boundary_stream


def _tokens(n: int, pos: int = 12, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 64, (n, pos), generator=torch.Generator().manual_seed(seed))


def test_regression_start_is_the_least_squares_map_to_the_final_residual(tiny_decoder):
    batches = [_tokens(4, seed=s) for s in range(3)]
    lens = fit_regression(tiny_decoder, TunedLens(2, 32), batches, ridge=0.0)
    resid = torch.cat([boundary_stream(tiny_decoder, t).flatten(1, 2) for t in batches], 1)
    for b in range(2):
        x = torch.cat([resid[b], torch.ones(resid.shape[1], 1)], -1).double()
        expected = torch.linalg.lstsq(x, resid[-1].double()).solution
        translator = lens.translators[b]
        assert torch.allclose(translator.weight.T.double(), expected[:32], atol=1e-4)
        assert torch.allclose(translator.bias.double(), expected[32], atol=1e-4)


def test_comparison_of_the_identity_lens_is_the_logit_lens(tiny_decoder):
    tokens = _tokens(6)
    comparison = compare_lenses(
        tiny_decoder, {LOGIT_LENS: None, "identity": TunedLens(2, 32)}, tokens, batch_size=4
    )
    assert comparison.kl.shape == (2, 3, 6)
    assert torch.allclose(comparison.kl[0], comparison.kl[1], atol=1e-6)
    reference = lens_trajectory(tiny_decoder, TokenBatch.full(tokens)).kl_to_final.mean(-1)
    assert torch.allclose(comparison.kl[0], reference, atol=1e-5)
    assert comparison.mean(LOGIT_LENS)[-1] < 1e-6
    expected_se = comparison.kl[0, 0].double().std() / 6**0.5
    assert abs(comparison.sem(LOGIT_LENS)[0] - float(expected_se)) < 1e-9
    sampled = compare_lenses(tiny_decoder, TunedLens(2, 32), tokens, positions=4, seed=1)
    assert sampled.lenses == [LOGIT_LENS, "tuned lens"]
    assert not torch.allclose(sampled.kl[0, 0], comparison.kl[0, 0])  # fewer positions


def test_boundaries_read_out_together_or_one_by_one_give_the_same_kl(tiny_decoder, monkeypatch):
    from mechscope.lens.tuned import kl_to_final
    from mechscope.models import run

    torch.manual_seed(0)
    lens = TunedLens(2, 32)
    with torch.no_grad():
        for translator in lens.translators:
            translator.weight.add_(0.3 * torch.randn_like(translator.weight))
    tokens = _tokens(6)
    resid = boundary_stream(tiny_decoder, tokens)
    translated = lens.translate_stream(resid)
    assert torch.equal(translated[-1], resid[-1])  # the model's output is not translated
    final = run.readout(tiny_decoder, resid[-1]).log_softmax(-1)
    expected = torch.stack([kl_to_final(tiny_decoder, lens(b, resid[b]), final) for b in range(2)])
    assert run.readout_groups(3, 72) == [slice(0, 3)]  # 3 x 72 rows: one readout
    together = compare_lenses(tiny_decoder, {"t": lens}, tokens, batch_size=6).kl[0]
    monkeypatch.setattr(run, "READOUT_ROWS", 1)
    assert run.readout_groups(3, 72) == [slice(0, 1), slice(1, 2), slice(2, 3)]
    alone = compare_lenses(tiny_decoder, {"t": lens}, tokens, batch_size=6).kl[0]
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=0)
    torch.testing.assert_close(together[:2], expected.mean(-1), atol=1e-5, rtol=0)
    assert float(together[:2].min()) > 1e-3 and float(together[-1].abs().max()) < 1e-5


def test_frozen_restores_the_gradient_flags(tiny_decoder):
    before = [p.requires_grad for p in tiny_decoder.parameters()]
    try:
        with frozen(tiny_decoder):
            assert not any(p.requires_grad for p in tiny_decoder.parameters())
            raise RuntimeError
    except RuntimeError:
        pass
    assert [p.requires_grad for p in tiny_decoder.parameters()] == before
    assert len(boundary_hooks(2)) == 3


def test_reading_a_few_columns_equals_the_models_own_logits_soft_cap_included():
    """`readout_columns` (and `readout`) give the logits of a full forward pass, the final
    soft-cap of a Gemma-2-style model included."""
    from mechscope.models.legacy import HookedTransformer, HookedTransformerConfig
    from mechscope.models.run import readout, readout_columns

    tokens = torch.randint(0, 20, (2, 6), generator=torch.Generator().manual_seed(0))
    every = []
    for cap in (-1.0, 0.05):
        cfg = HookedTransformerConfig(n_layers=1, d_model=16, n_heads=2, d_head=8, d_mlp=32,
                                      n_ctx=8, d_vocab=20, act_fn="gelu", seed=0,
                                      output_logits_soft_cap=cap)  # fmt: skip
        model = HookedTransformer(cfg)
        with torch.no_grad():
            logits = model(tokens)
            resid = model(tokens, stop_at_layer=cfg.n_layers)
            torch.testing.assert_close(readout(model, resid), logits, atol=1e-6, rtol=1e-5)
            columns = torch.tensor([[3, 0, 5], [1, 1, 2]])
            picked = readout_columns(model, resid[:, -1], columns)
        torch.testing.assert_close(picked, logits[:, -1].gather(1, columns), atol=1e-6, rtol=1e-5)
        every.append(logits)
    assert float(every[1].abs().max()) <= 0.05 + 1e-6 < float(every[0].abs().max())  # it bit
