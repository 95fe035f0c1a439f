# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # The residual stream and the weights
#
# The shipped 2-layer attention-only model `induction-2l` (byte-level, trained by mechscope)
# on a repeated string: decompose its residual stream into the parts that wrote it, attribute
# the predicted token to heads, and read an induction head's OV circuit from the weights.

# %%
import torch

from mechscope.circuits import (
    decompose_stream,
    diagonal_top1,
    direct_logit_attribution,
    full_ov_circuit,
    weight_circuits,
)
from mechscope.models import load_model, tokenize

model = load_model("induction-2l", device="cpu")
prompt = "qxzjvkwmbyqxzjvkw"  # the second copy stops before 'm'
batch = tokenize(model, prompt)

# %% [markdown]
# ## 1. The stream is the sum of what wrote it
# Embeddings, then every head's output (with its share of the attention bias).

# %%
decomposition = decompose_stream(model, batch)
print(decomposition.labels)
print(f"largest |sum of parts - stream|: {decomposition.error():.1e}")
norms = decomposition.parts[:, 0, -1].norm(dim=-1)
for label, norm in zip(decomposition.labels, norms.tolist(), strict=True):
    print(f"  {label:<10} |part| at the last position = {norm:.2f}")

# %% [markdown]
# ## 2. Who writes the answer? Direct logit attribution of 'm'

# %%
(answer,) = model.to_tokens("m", prepend_bos=False)[0].tolist()
attribution = direct_logit_attribution(model, batch, torch.tensor([answer]))
last = attribution.at_last()[:, 0]
for label, value in sorted(zip(attribution.labels, last.tolist(), strict=True),
                           key=lambda pair: -abs(pair[1]))[:5]:  # fmt: skip
    print(f"  {label:<16} {value:+.2f}")
top_part = attribution.labels[int(last.abs().argmax())]
print(f"the answer's logit {float(attribution.logit[0, -1]):.2f} is mostly written by {top_part}")

# %% [markdown]
# ## 3. An induction head's OV circuit copies tokens
# The full OV circuit W_E W_OV W_U on the letters a-z: each row should peak on its diagonal.

# %%
circuits = weight_circuits(model)
layer, head = divmod(int(circuits.copying[1:].flatten().argmax()) + model.cfg.n_heads,
                     model.cfg.n_heads)  # fmt: skip
letters = torch.tensor([ord(c) for c in "abcdefghijklmnopqrstuvwxyz"])
ov = full_ov_circuit(model, layer, head, letters)
copying = float(circuits.copying[layer, head])
diagonal = diagonal_top1(ov)
print(f"head {layer}.{head}: copying score {copying:.2f}; {diagonal:.0%} of letters copy")
