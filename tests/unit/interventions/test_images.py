"""Images through the one engine: patching, attribution and ablation of a ViT's `ImageBatch`.

References written here: one ``run_with_hooks`` per site (activation patching), the
first-order sum over sites (attribution), and the `ablate` context manager per head
(ablation effects).
"""

import pytest
import torch

from mechscope.core.batch import ImageBatch, ImageError
from mechscope.core.sites import Component, Site, every_site
from mechscope.interventions import (
    PairedRuns,
    ablate,
    ablation_effects,
    activation_patching,
    attribution_patching,
)
from mechscope.models import HookedViT, ViTConfig
from mechscope.vision import patch_image_positions


@pytest.fixture(scope="module")
def vit():
    cfg = ViTConfig(image_size=8, patch_size=4, n_classes=3, d_model=16, n_layers=2,
                    n_heads=2, d_mlp=16, seed=5)  # fmt: skip
    return HookedViT(cfg).eval()


@pytest.fixture(scope="module")
def pair(vit):
    generator = torch.Generator().manual_seed(0)
    clean = torch.rand(3, 1, 8, 8, generator=generator)
    corrupted = torch.rand(3, 1, 8, 8, generator=generator)
    return vit.image_batch(clean), vit.image_batch(corrupted)


LABELS = torch.tensor([0, 2, 1])


def metric(logits):
    return logits.log_softmax(-1).gather(-1, LABELS[:, None]).mean()


@torch.no_grad()
def reference(vit, clean, corrupted, site):
    """Corrupted run with one site's activation replaced by the clean run's."""
    _, cache = vit.run_with_cache(clean.pixels, names_filter=[site.hook_name])
    source = cache[site.hook_name]

    def patch(act, hook):  # noqa: ARG001
        act = act.clone()
        index = (slice(None), site.pos if site.pos is not None else slice(None))
        if site.head is not None:
            index = (*index, site.head)
        act[index] = source[index]
        return act

    return float(metric(vit.run_with_hooks(corrupted.pixels, fwd_hooks=[(site.hook_name, patch)])))


def test_activation_patching_of_images_equals_one_run_per_site(vit, pair):
    clean, corrupted = pair
    runs = PairedRuns.run(vit, clean, corrupted, metric)
    sites = every_site(Component.RESID_PRE, 2, n_pos=clean.n_positions)
    sites += every_site(Component.Z, 2, n_heads=2)
    result = activation_patching(runs, sites, max_rows=6, progress=False)
    expected = torch.tensor([reference(vit, clean, corrupted, site) for site in sites])
    torch.testing.assert_close(result.values, expected, atol=1e-5, rtol=1e-5)
    assert result.tokens == ["[CLS]", "0,0", "0,1", "1,0", "1,1"]
    # Patching the whole stream entering block 0 at every position restores the clean run.
    whole = activation_patching(runs, [Site(Component.RESID_PRE, 0)], progress=False)
    assert float(whole.normalised[0]) == pytest.approx(1.0, abs=1e-5)


def test_attribution_on_images_is_the_first_order_sum(vit, pair):
    clean, corrupted = pair
    runs = PairedRuns.run(vit, clean, corrupted, metric)
    sites = every_site(Component.RESID_PRE, 2, n_pos=clean.n_positions)
    result = attribution_patching(runs, sites)
    names = sorted({s.hook_name for s in sites})
    _, source = vit.run_with_cache(clean.pixels, names_filter=names)
    kept = {}

    def keep(act, hook):
        act.retain_grad()
        kept[hook.name] = act

    with torch.enable_grad():
        value = metric(vit.run_with_hooks(corrupted.pixels, fwd_hooks=[(n, keep) for n in names]))
        value.backward()
    for site, estimate in zip(sites, result.values.tolist(), strict=True):
        act = kept[site.hook_name]
        delta = (source[site.hook_name] - act.detach())[:, site.pos]
        expected = float(value.detach()) + float((delta * act.grad[:, site.pos]).sum())
        assert estimate == pytest.approx(expected, abs=1e-5)


def test_ablation_effects_on_images_equal_the_context_manager(vit, pair):
    batch, reference_batch = pair
    effects = ablation_effects(vit, batch, metric, heads="all", how="mean",
                               reference=reference_batch, max_rows=4)  # fmt: skip
    assert len(effects.groups) == 4
    for group, value in zip(effects.groups, effects.ablated.tolist(), strict=True):
        with ablate(vit, group, "mean", reference=reference_batch), torch.no_grad():
            expected = float(metric(vit(batch.pixels)))
        assert value == pytest.approx(expected, abs=1e-5)


def test_patch_image_positions_is_the_engine_per_image(vit, pair):
    clean, corrupted = pair
    result = patch_image_positions(vit, clean.pixels, corrupted.pixels, LABELS, max_rows=5)
    runs = PairedRuns.run(vit, clean, corrupted, metric)
    sites = every_site(Component.RESID_PRE, 2, n_pos=clean.n_positions)
    mean_metric = activation_patching(runs, sites, progress=False).values.reshape(2, -1)
    # The engine's per-image values, averaged over images, are the batch metric's values.
    torch.testing.assert_close(result.patched.mean(0), mean_metric, atol=1e-5, rtol=1e-5)


def test_image_pairs_must_match(vit, pair):
    clean, _ = pair
    other = ImageBatch(torch.rand(2, 1, 8, 8), 4)
    with pytest.raises(ImageError, match="differ in shape"):
        PairedRuns.run(vit, clean, other, metric)
