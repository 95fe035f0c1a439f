# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Features of the induction model: train an SAE, read its features, ablate and steer one
#
# The 2-layer attention-only model shipped with mechscope copies: its layer-1 induction heads
# find an earlier copy of the current token and predict what followed it. A sparse
# autoencoder (SAELens's TopK) trained on what layer 1's attention writes should have features
# that fire on the second copy of a repeated span. We train a small one on Python standard
# library text, label its features against repeated random tokens, check them causally
# (zeroing the "second copy" features hurts the induction task far more than zeroing as many
# others), and steer with one.
#
# Open with `jupytext --to notebook notebooks/features.py`, or run it as a script.

# %%
import torch

from mechscope import load_model
from mechscope.data import load_corpus
from mechscope.features import (
    SaeRecipe,
    ablate_features,
    add_features,
    attribute_features,
    evaluate_reconstruction,
    fit_sae,
    induction_tokens,
    label_features,
    read_features,
    site_activations,
    site_hook,
    splice,
    steer,
)
from mechscope.interventions import repeated_pairs
from mechscope.models import corpus_windows
from mechscope.viz import feature_browser

model = load_model("induction-2l", device="cpu")
hook = site_hook(model, "attn_out", 1)  # what the layer-1 (induction) heads write
corpus = load_corpus()  # the Python standard library's sources
generator = torch.Generator().manual_seed(0)
windows = corpus_windows(model, corpus.train.tobytes(), 260, 128, generator)  # ~33k tokens
held = corpus_windows(model, corpus.held_out.tobytes(), 40, 128, generator)
activations = site_activations(model, windows, hook, progress=False)
print(f"{activations.shape[0]} training activations of width {activations.shape[1]}")

# %% [markdown]
# ## 1. Train a TopK SAE (SAELens's trainer) and measure its reconstruction on held-out text

# %%
recipe = SaeRecipe(width=512, k=16, tokens=100_000, batch_size=1024, lr=3e-3, checkpoints=0)
sae, _ = fit_sae(activations, recipe, progress=False)
sae.eval()
evaluation = evaluate_reconstruction(sae, hook, site_activations(model, held, hook, progress=False))
print(
    f"explained variance {evaluation.explained_variance:.3f}, L0 {evaluation.l0:.1f}, "
    f"dead {evaluation.dead_fraction:.2f}"
)

# %% [markdown]
# ## 2. Label every feature against repeated random tokens
#
# Each feature's best label ("first copy" or "second copy") is chosen on half of the rows and
# scored on the other half (precision, recall, F1), against 20 shuffles of the labels.

# %%
repeats = induction_tokens(model, n_rows=64, half_length=24, seed=1)
labels = label_features(model, sae, hook, repeats, progress=False)
column = labels.families.index("induction")
second = [
    f
    for f in range(labels.n_features)
    if labels.labels[column][f] == "second copy" and labels.clears()[f, column]
]
best = max(second, key=lambda f: float(labels.f1[f, column]))
print(
    f"{len(second)} features clear the control as 'second copy'; the best, feature {best}:",
    labels.best(best),
)

# %% [markdown]
# ## 3. Does the induction task use them? Ablations, then attribution
#
# The task: ``BOS A A[:-1]`` must predict ``A[-1]``; the metric is the logit difference
# against the corrupted prompt's answer. The SAE is spliced in with its error term, so only
# the zeroed features change anything. First all the "second copy" features at once, against
# as many other live features drawn at random; then activation x gradient ranks every
# feature and the top ones are zeroed one at a time.

# %%
task = repeated_pairs(model, n_prompts=32, half=12, seed=2)
metric = task.logit_diff()
alive = [f for f in range(labels.n_features) if labels.alive[f] and f not in second]
others = [alive[i] for i in torch.randperm(len(alive), generator=generator)[: len(second)]]
with torch.no_grad():
    clean_diff = float(metric(model(task.clean.tokens)))
    with splice(model, sae, hook, [ablate_features(second)]):
        without_second = float(metric(model(task.clean.tokens)))
    with splice(model, sae, hook, [ablate_features(others)]):
        without_others = float(metric(model(task.clean.tokens)))
print(
    f"logit diff {clean_diff:.2f}; without the {len(second)} second-copy features "
    f"{without_second:.2f}; without {len(others)} other live features {without_others:.2f}"
)
attribution = attribute_features(model, sae, hook, task.clean, metric, top_k=5, progress=False)
for row in attribution.table():
    print(row)

# %% [markdown]
# ## 4. Read the most attributed feature, and steer with it
#
# Its top activating contexts in held-out text, the bytes its decoder direction promotes,
# and what adding it does to a prompt's next byte and continuation.

# %%
top = int(attribution.top[0])
reading = read_features(model, sae, hook, held, k=5, progress=False)
print("top contexts:", ["".join(t for t, _ in reading.context(top, r)) for r in range(3)])
steering = steer(
    model,
    sae,
    hook,
    "def parse(self, text):\n    return self.",
    [add_features([top], 8.0)],
    n_tokens=12,
)
print("gained:", steering.gained[:3], f"KL {steering.kl():.3f}")
print(repr(steering.clean_continuation), "->", repr(steering.steered_continuation))
browser = feature_browser(reading)  # an offline HTML page: save it, or show it in a notebook
