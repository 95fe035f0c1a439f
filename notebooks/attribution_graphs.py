# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # An attribution graph on SmolLM2: "The capital of France is" -> " Paris"
#
# An attribution graph (Ameisen et al. 2025, "Circuit Tracing") reads MLPs through sparse
# transcoders, freezes the prompt's attention patterns and norm scales, and so makes every
# edge between input tokens, transcoder features, error nodes and a logit an exact direct
# effect. Here we train transcoders for SmolLM2's last three MLPs on about 2,600 tokens of the
# Python standard library (seconds), build the graph of " Paris" after "The capital of France
# is", check its features by ablating them in the real model, group them into supernodes and
# draw the page. Every other layer's MLP stays whole, as one error node per position: the
# graph is exact, but most of its influence starts at error nodes, which is what this
# notebook shows first. The full-size version (a transcoder per layer, `mechscope sae train
# --transcoder`, then `mechscope graph` or `python -m experiments.smollm_graphs`) and what it
# finds are on the findings page `docs/findings/smollm-graphs.md`.
#
# Figures describe SmolLM2's 4-bit (Q4_1) weights dequantised. Open with `jupytext --to
# notebook notebooks/attribution_graphs.py`, or run it as a script (about 15 s here).

# %%
import tempfile
from pathlib import Path

import torch

from mechscope import load_model
from mechscope.circuits import Replacement, Target, attribution_graph, validate_graph
from mechscope.data import load_corpus
from mechscope.features import SaeRecipe, fit_transcoder, mlp_hooks, read_sites
from mechscope.models import corpus_windows
from mechscope.viz import render_attribution_graph

model = load_model("smollm2-135m", device="cpu")
layers = [27, 28, 29]
corpus = load_corpus()  # the Python standard library's sources
generator = torch.Generator().manual_seed(0)
windows = corpus_windows(model, corpus.train.tobytes(), 48, 64, generator)
names = [name for layer in layers for name in mlp_hooks(model, layer)]
values = read_sites(model, windows, names, progress=False)  # one pass, every layer's MLP
held = 6 * 63  # the last 6 windows' tokens (the BOS position is skipped) are held out

# %% [markdown]
# ## 1. Three transcoders: each reads its MLP's input and predicts its output
#
# Trained for a second each on about 2,600 tokens, they are poor (explained variance on 378
# held-out tokens 0.51, 0.00 and 0.16 here; layer 28's MLP is one that even the full-size
# transcoders of the findings page do not learn, 0.07): what they miss goes to error nodes.

# %%
recipe = SaeRecipe(width=1024, sparsity_coefficient=0.02, tokens=30_000, batch_size=512, lr=1e-3)
transcoders, explained = {}, {}
for i, layer in enumerate(layers):
    inputs, outputs = values[2 * i], values[2 * i + 1]
    transcoder = fit_transcoder(inputs[:-held], outputs[:-held], recipe, progress=False).eval()
    truth = outputs[-held:]
    with torch.no_grad():
        predicted = transcoder.decode(transcoder.encode(inputs[-held:]))
    explained[layer] = float(
        1 - ((truth - predicted) ** 2).sum() / ((truth - truth.mean(0)) ** 2).sum()
    )
    transcoders[layer] = transcoder
    print(f"layer {layer}: explained variance on held-out text {explained[layer]:.2f}")

# %% [markdown]
# ## 2. The replacement model of one prompt
#
# Features in place of the three MLPs, error nodes for what they miss (and for the 27 MLPs
# without a transcoder): it gives the real model's logit exactly, and the logit splits into
# every node's direct effect plus the biases.

# %%
tokens = model.to_tokens("The capital of France is")[0]
paris = model.to_single_token(" Paris")
replacement = Replacement.of(model, transcoders, tokens)
with torch.no_grad():
    rebuilt = replacement.forward(replacement.embeddings, replacement.features, replacement.errors)
gap = float((rebuilt[-1, paris] - replacement.logits[-1, paris]).abs())
split = replacement.logit_effects(paris)
print(f"logit(' Paris') = {split.logit:.3f}; the replacement's differs by {gap:.1e}")
print(f"the nodes' effects add up to it within {split.completeness_gap():.1e}; error nodes "
      f"hold {split.error_share():.2f} of the absolute direct effects")  # fmt: skip

# %% [markdown]
# ## 3. The graph: explore features by influence, prune, score

# %%
target = Target(paris)
graph = attribution_graph(replacement, target, max_features=128, progress=False)
n_features = sum(name.startswith("f") for name in graph.nodes)
print(f"{graph.n_active} active features, {graph.n_explored} explored; kept {n_features} "
      f"features in {len(graph.nodes)} nodes")  # fmt: skip
print({name: round(value, 3) for name, value in graph.scores.items()})
index = {name: i for i, name in enumerate(graph.nodes)}
for name, influence in graph.top(6):
    print(f"  {name:<12} influence {influence:.4f}  direct {float(graph.direct[index[name]]):+.3f}"
          f"  {graph.labels[index[name]]}")  # fmt: skip
france = graph.tokens.index(" France")
path, weight = graph.strongest_path(f"emb@{france}")
print("strongest path from ' France':", " -> ".join(path), f"({weight:.2e})")

# %% [markdown]
# The replacement score is the share of the end-to-end influence on the logit that starts at
# input tokens rather than error nodes: tiny here, because 27 of the 30 MLPs are error nodes.
# The path from " France" runs through them, not through features.
#
# ## 4. Check the graph in the real model
#
# Ablate each of the 20 most influential features alone (through the transcoder splice, with
# the error term kept, every other part of the model recomputing) and compare the change in
# the logit with the graph's predictions.

# %%
check = validate_graph(replacement, graph, target, n_features=20)
print(
    f"r (measured, predicted total effect) = {check.correlation('total'):.3f} over "
    f"{len(check.features)} features; direct effect alone {check.correlation('direct'):.3f}"
)
largest = int(check.measured.abs().argmax())
print(f"largest: {check.features[largest]} measured {float(check.measured[largest]):+.3f}, "
      f"predicted {float(check.predicted_total[largest]):+.3f}")  # fmt: skip

# %% [markdown]
# These are last-layer features: their effect is almost all direct, and the real model agrees
# with the graph (on the findings page the same holds for layers 20-29 and fails for the
# early layers, where the prediction runs through 20-odd layers of transcoders).
#
# ## 5. Supernodes and the page
#
# Group the ten most influential layer-29 features at the last position that raise the logit,
# and the ten that lower it, into two supernodes, redraw, and write the interactive page
# (hover for numbers, click a node to draw its paths).

# %%
last = len(graph.tokens) - 1
late = [name for name, _ in graph.top(len(graph.nodes)) if name.startswith("f29.")
        and name.endswith(f"@{last}")]  # fmt: skip
groups = {
    "raise Paris": [n for n in late if float(graph.direct[index[n]]) > 0][:10],
    "lower Paris": [n for n in late if float(graph.direct[index[n]]) <= 0][:10],
}
grouped = graph.group({name: members for name, members in groups.items() if members})
print(f"{len(graph.nodes)} nodes -> {len(grouped.nodes)} with supernodes "
      f"{[(g, len(m)) for g, m in grouped.groups.items()]}")  # fmt: skip
page = render_attribution_graph(grouped, validation=check, title="' Paris' on SmolLM2",
                                note="Transcoders for layers 27-29 only.")  # fmt: skip
path = page.save(Path(tempfile.mkdtemp()) / "paris.html")
print("open", path)
