# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Attention on the image grid of the shipped ViT
#
# `vit-shapes` is a 4-layer ViT that mechscope trained on generated shapes (32x32 pixels,
# 4-pixel patches: an 8x8 grid after [CLS]). Here we pick an image and a patch, look at its
# attention on the grid per head and layer, find the heads that look at the object, and
# ablate them.
#
# Open with `jupytext --to notebook notebooks/vit_attention.py`, or run it as a script.

# %%
from contextlib import nullcontext

import torch

from mechscope import load_model
from mechscope.core import ImageBatch
from mechscope.data import load_image_set
from mechscope.interventions import ablate
from mechscope.models import attention_patterns
from mechscope.vision import (
    GridKind,
    attention_map,
    classify_grid_heads,
    object_attention,
    query_position,
)
from mechscope.viz import (
    attention_overlay,
    attention_small_multiples,
    interactive_attention_grid,
)

model = load_model("vit-shapes", device="cpu")
cfg = model.vit_cfg
held_out = load_image_set("shapes").part(held_out=True).subset(slice(0, 300))
image_index, patch = 0, (3, 4)  # any held-out image, any (row, col) of the 8x8 grid
print("image", image_index, "is a", cfg.class_names[int(held_out.labels[image_index])])

# %% [markdown]
# The attention of the chosen patch, in every head of layer 0, drawn over the image.

# %%
batch = ImageBatch(held_out.pixels[image_index : image_index + 1], cfg.patch_size)
patterns = attention_patterns(model, batch)[0]  # layer head dest src
query = query_position(patch, cfg.grid)
maps = torch.stack([attention_map(patterns[0, h], query, cfg.grid)[0] for h in range(4)])
image = held_out.pixels[image_index, 0]
attention_small_multiples(image, maps, [f"head 0.{h}" for h in range(4)], patch_size=4,
                          query=patch, title=f"Layer 0, from patch {patch}")  # fmt: skip

# %% [markdown]
# One head through the layers: [CLS]'s attention (`query=None`) in head 0 of each layer.

# %%
figures = [
    attention_overlay(
        image,
        attention_map(patterns[layer, 0], 0, cfg.grid)[0],
        patch_size=4,
        title=f"layer {layer}, head 0, from [CLS]",
    )  # fmt: skip
    for layer in range(cfg.n_layers)
]
figures[-1]

# %% [markdown]
# Every layer and head at once: hover a patch to see where it looks (works offline; in
# Jupyter, show it with `IPython.display.HTML(view)`).

# %%
view = interactive_attention_grid(image, patterns, grid=cfg.grid, patch_size=4,
                                  title="hover a patch")  # fmt: skip

# %% [markdown]
# Which heads look at the object? The object score is the share of a head's attention to
# the patches that falls on the shape (chance: the shape's share of the image).

# %%
kinds = classify_grid_heads(model, held_out.pixels, held_out.masks)
object_score = kinds.score(GridKind.OBJECT)
ranked = object_score.flatten().argsort(descending=True).tolist()
object_heads = [(i // cfg.n_heads, i % cfg.n_heads) for i in ranked[:4]]
other_heads = [(i // cfg.n_heads, i % cfg.n_heads) for i in ranked[-4:]]
print(f"chance {kinds.object_chance:.3f}; most object-focused heads:",
      [(f"{layer}.{head}", round(float(object_score[layer, head]), 3))
       for layer, head in object_heads])  # fmt: skip


# %% [markdown]
# Ablate the four most object-focused heads (mean ablation over the held-out images), and,
# as a control, the four least object-focused ones: accuracy and [CLS]'s share on the shape.


# %%
def accuracy_and_share(heads=None):
    """Accuracy and [CLS]'s share on the shape with ``heads`` ablated (None: nothing)."""
    reference = ImageBatch(held_out.pixels, cfg.patch_size)
    ablated = ablate(model, heads, "mean", reference=reference) if heads else nullcontext()
    with torch.no_grad(), ablated:
        correct = (model(held_out.pixels).argmax(-1) == held_out.labels).float().mean()
        share = object_attention(model, held_out.pixels, held_out.masks).cls_share[:, -1].mean()
    return float(correct), float(share)


rows = {
    "nothing": accuracy_and_share(),
    "object heads": accuracy_and_share(object_heads),
    "least object-focused heads": accuracy_and_share(other_heads),
}
for name, (accuracy, share) in rows.items():
    print(f"{name:>28}: accuracy {accuracy:.3f}, last-layer [CLS] on the shape {share:.3f}")
