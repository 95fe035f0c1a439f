# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Ablating heads of the embedded induction model
#
# The 2-layer attention-only model shipped with mechscope has a previous-token head in layer
# 0 and induction heads in layer 1 (see the induction reproduction). Here we ablate heads
# interactively and watch two things change: the loss on repeated random tokens, and the
# induction heads' attention.
#
# Open with `jupytext --to notebook notebooks/ablate_heads.py`, or run it as a script.

# %%
from contextlib import nullcontext

import torch

from mechscope import load_model
from mechscope.core import loss_per_position, pad_token_lists, repeated_half_losses
from mechscope.data import repeated_random_tokens
from mechscope.heads import HeadKind, attention_patterns, detect_heads
from mechscope.interventions import ablate
from mechscope.viz import attention_heads_view

model = load_model("induction-2l", device="cpu")
HALF = 20
tokens = repeated_random_tokens(16, HALF, 256, start_id=256, seed=0)  # BOS r r, bytes only
batch = pad_token_lists(tokens.tolist(), pad_id=0)

# %% [markdown]
# Which heads are which? One batched pass scores every head.

# %%
scores = detect_heads(model, batch, [HeadKind.INDUCTION, HeadKind.PREVIOUS_TOKEN], progress=False)
induction_heads = scores.heads_of(HeadKind.INDUCTION)
previous_heads = [h for h in scores.heads_of(HeadKind.PREVIOUS_TOKEN) if h.layer == 0]
print("induction heads:", [str(h) for h in induction_heads])
print("previous-token heads:", [str(h) for h in previous_heads])


# %% [markdown]
# The loss on the first and the second copy, with some heads ablated. Pick any heads
# (`(layer, head)` pairs) and any ablation: `"zero"`, `"mean"` or `"resample"`.


# %%
def halves(heads=None, how="zero"):
    """First- and second-copy loss with ``heads`` ablated (None: nothing ablated)."""
    ablated = ablate(model, heads, how, reference=batch) if heads else nullcontext()
    with torch.no_grad(), ablated:
        loss = loss_per_position(model(batch.tokens), batch.tokens)
    return repeated_half_losses(loss, HALF)


rows = {
    "nothing": halves(),
    "induction heads (zero)": halves(induction_heads),
    "induction heads (mean)": halves(induction_heads, "mean"),
    "previous-token head (zero)": halves(previous_heads),
}
for label, (first, second) in rows.items():
    print(f"{label:<28} first copy {first:.2f}  second copy {second:.2f}")

# %% [markdown]
# Removing the previous-token head breaks the induction heads' *keys* (K-composition), so
# their attention to "the token after the earlier copy" collapses even though they are not
# ablated themselves.


# %%
def induction_attention(heads=None):
    with ablate(model, heads, "zero") if heads else nullcontext():
        patterns = attention_patterns(model, batch)
    layer1 = patterns[:, 1]
    offset = HALF - 1  # dest i attends src i - HALF + 1 on the second copy
    diagonal = layer1.diagonal(offset=-offset, dim1=-2, dim2=-1)[..., HALF + 1 - offset :]
    return diagonal.mean(dim=(0, 2)), patterns


clean_attention, clean_patterns = induction_attention()
broken_attention, broken_patterns = induction_attention(previous_heads)
print("layer-1 induction attention, clean:      ", [round(x, 2) for x in clean_attention.tolist()])
print("with the previous-token head ablated:   ", [round(x, 2) for x in broken_attention.tolist()])

# %%
labels = ["<bos>"] + [f"{t}" for t in tokens[0, 1:].tolist()]
view = attention_heads_view(
    labels,
    torch.cat([clean_patterns[0, 1], broken_patterns[0, 1]]),
    [f"L1H{h} clean" for h in range(4)] + [f"L1H{h} without L0 prev-token" for h in range(4)],
    causal=True,
)
view  # noqa: B018 - displayed in a notebook
