"""The same analyses on CUDA and on the CPU (issue 31): run where a GPU is present.

Skipped on a machine without one (this one); no other test depends on a GPU. Each compares a
CUDA result with the CPU one of the same model to a float32 tolerance.
"""

import pytest
import torch

import mechscope as ms
from mechscope.core import Component, TokenBatch, every_site

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")


@pytest.fixture(scope="module")
def models():
    return {device: ms.load_model("induction-2l", device=device) for device in ("cpu", "cuda")}


def close(a: torch.Tensor, b: torch.Tensor, tolerance: float = 1e-4) -> bool:
    a, b = a.detach().float().cpu(), b.detach().float().cpu()
    scale = max(1.0, float(a.nan_to_num().abs().max()))
    return torch.equal(a.isnan(), b.isnan()) and float((a - b).nan_to_num().abs().max()) <= (
        tolerance * scale
    )


def test_head_kinds_patching_and_the_lens_agree_with_the_cpu(models):
    results = {}
    for device, model in models.items():
        pairs = ms.repeated_pairs(model, n_prompts=8)
        sites = every_site(Component.Z, model.cfg.n_layers, n_heads=model.cfg.n_heads)
        tokens = pairs.clean.tokens.to(device)
        results[device] = (
            ms.detect_heads(model, pairs.clean.tokens.tolist(), progress=False).per_prompt,
            ms.activation_patching(pairs.runs(model), sites, progress=False).values,
            ms.logit_lens(model, TokenBatch.full(tokens)).log_prob,
        )
    for cpu, cuda in zip(results["cpu"], results["cuda"], strict=True):
        assert close(cpu, cuda)


def test_an_sae_and_a_probe_fit_on_cuda(models):
    torch.manual_seed(0)
    data = torch.randn(4096, 32)
    recipe = ms.SaeRecipe(width=64, k=4, tokens=4096 * 4, batch_size=512)
    sae, _ = ms.fit_sae(data, recipe, device="cuda", progress=False)
    assert next(sae.parameters()).device.type == "cuda"
    labels = (data[:, 0] > 0).long()
    probe = ms.fit_probe(data.cuda(), labels.cuda(), 2)
    accuracy = (probe(data.cuda()).argmax(-1).cpu() == labels).float().mean()
    assert accuracy > 0.95  # a linearly separable label


def test_the_text_trainer_runs_on_cuda(tmp_path):
    from mechscope.training import TrainConfig, train

    cfg = TrainConfig(n_layers=1, d_model=32, n_heads=2, n_ctx=32, batch_size=4, steps=20,
                      eval_every=10, eval_prompts=4)  # fmt: skip
    run = train(cfg, tmp_path / "run", progress=False, device="cuda")
    assert run.records[-1].evaluation.held_out_loss < run.records[0].evaluation.held_out_loss
    assert ms.load_model(run.final_checkpoint, device="cpu").cfg.n_layers == 1
