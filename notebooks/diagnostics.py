# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Diagnosing broken mechanisms: rank collapse and gradient health
#
# Two cases where the answer is known. First, pure attention loses rank with depth unless skip
# connections keep it (Dong et al. 2021). Second, a deep model without LayerNorm and with a
# too-large initialisation has exploding gradients, which the gradient flags catch.

# %%
import torch
from transformer_lens import HookedTransformer, HookedTransformerConfig

from mechscope.core import TokenBatch
from mechscope.diagnostics import gradient_norms, rank_of_representations, without_skips
from mechscope.models import boundary_stream


def deep_model(normalization, *, mlp=True, init_scale=1.0, seed=0):
    """A random 8-layer decoder; ``init_scale`` multiplies every block weight."""
    cfg = HookedTransformerConfig(
        n_layers=8, n_heads=4, d_model=64, d_head=16, d_mlp=256 if mlp else None,
        attn_only=not mlp, d_vocab=128, n_ctx=64, act_fn="gelu",
        normalization_type=normalization, seed=seed, device="cpu",
    )  # fmt: skip
    model = HookedTransformer(cfg, move_to_device=False).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.startswith("blocks") and ".W_" in name:
                param.mul_(init_scale)
    return model


tokens = torch.randint(0, 128, (8, 32), generator=torch.Generator().manual_seed(0))

# %% [markdown]
# ## 1. Rank collapse
# res(X) is the distance of each prompt's token representations to the nearest matrix whose
# rows are all equal (0 = every token represented alike).

# %%
pure = deep_model(None, mlp=False)


def res_by_layer(model):
    stream = boundary_stream(model, tokens)
    return rank_of_representations(stream, torch.ones_like(tokens)).res.mean(-1)


with_skips = res_by_layer(pure)
with without_skips(pure):
    collapsed = res_by_layer(pure)
for layer, (a, b) in enumerate(zip(with_skips.tolist(), collapsed.tolist(), strict=True)):
    print(f"boundary {layer}: with skips {a:.3f}, without {b:.4f}")

# %% [markdown]
# ## 2. Gradient health
# Per-block gradient norms of the next-token loss at initialisation, and the flags.

# %%
batch = TokenBatch.full(tokens)
runs = {
    "pre-LN": deep_model("LN"),
    "no LayerNorm": deep_model(None),
    "no LayerNorm, weights x4": deep_model(None, init_scale=4.0),
}
health = {name: gradient_norms(model, batch) for name, model in runs.items()}
for name, grads in health.items():
    norms = ", ".join(f"{v:.3g}" for v in grads.per_layer.tolist())
    print(f"{name}: loss {grads.loss:.3g}; block norms {norms}; flags {grads.flags() or 'none'}")
