"""The ViT model: TransformerLens hook names, a checkpoint round trip, the adapter's answers."""

import torch

from mechscope.core.batch import ImageBatch
from mechscope.interventions import ablate
from mechscope.models import HookedViT, ViTConfig, adapt, load_model, random_like, save_checkpoint
from mechscope.models.base import count_parameters


def small() -> HookedViT:
    return HookedViT(ViTConfig(image_size=8, patch_size=2, d_model=16, n_layers=2, n_heads=2,
                               d_mlp=16, n_classes=3, class_names=("a", "b", "c")))  # fmt: skip


def test_hook_names_follow_transformer_lens():
    model = small()
    names = set(model.hook_dict)
    for layer in range(2):
        for hook in ("attn.hook_pattern", "attn.hook_z", "hook_resid_pre", "hook_resid_post",
                     "hook_attn_out", "hook_mlp_out"):  # fmt: skip
            assert f"blocks.{layer}.{hook}" in names
    assert {"hook_embed", "hook_pos_embed"} <= names
    _, cache = model.run_with_cache(torch.rand(3, 1, 8, 8))
    assert cache["blocks.1.attn.hook_pattern"].shape == (3, 2, 17, 17)
    assert torch.allclose(cache["blocks.0.attn.hook_pattern"].sum(-1), torch.ones(3, 2, 17))


def test_the_forward_is_the_sum_of_its_parts():
    model = small().eval()
    pixels = torch.rand(2, 1, 8, 8)
    _, cache = model.run_with_cache(pixels)
    start = cache["hook_embed"] + cache["hook_pos_embed"]
    assert torch.allclose(start, cache["blocks.0.hook_resid_pre"])
    patches = pixels.reshape(2, 1, 4, 2, 4, 2).permute(0, 2, 4, 1, 3, 5).reshape(2, 16, 4)
    assert torch.allclose(cache["hook_embed"][:, 1:], patches @ model.embed.W_E + model.embed.b_E,
                          atol=1e-6)  # fmt: skip
    logits = model(pixels)
    assert torch.allclose(logits, model.classify(cache["blocks.1.hook_resid_post"]), atol=1e-6)


def test_zero_ablating_every_head_of_the_last_layer_removes_its_attention_output():
    model = small().eval()
    pixels = torch.rand(2, 1, 8, 8)
    with ablate(model, [(1, 0), (1, 1)]) as ablated:
        _, cache = ablated.run_with_cache(pixels, names_filter=lambda n: n.endswith("attn_out"))
    bias = model.blocks[1].attn.b_O
    assert torch.allclose(cache["blocks.1.hook_attn_out"], bias.expand(2, 17, -1), atol=1e-6)
    with ablate(model, [(1, 0)], "mean", reference=ImageBatch(torch.rand(4, 1, 8, 8), 2)):
        assert model(pixels).shape == (2, 3)


def test_checkpoint_round_trip_and_random_like(tmp_path):
    model = small()
    save_checkpoint(model, tmp_path / "vit")
    loaded = load_model(tmp_path / "vit", device="cpu")
    assert isinstance(loaded, HookedViT) and loaded.vit_cfg == model.vit_cfg
    for name, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[name]), name
    fresh = random_like(model, seed=1)
    assert isinstance(fresh, HookedViT) and count_parameters(fresh) == count_parameters(model)
    assert (
        adapt(fresh).takes_images and adapt(fresh).spec == "random-init(mechscope-vit-2l, seed=1)"
    )
