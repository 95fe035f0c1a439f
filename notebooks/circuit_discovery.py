# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Finding the induction circuit automatically
#
# The shipped 2-layer model does induction: a previous-token head in layer 0 writes "the
# token before me" into the stream, and induction heads in layer 1 read it with their keys
# (K-composition), attend to the token after the earlier copy and write it into the logits.
# Here we let edge attribution (EAP-IG) find that circuit among the model's 81 edges, check
# it against exact ablation, and see where a linear score falls short.
#
# Open with `jupytext --to notebook notebooks/circuit_discovery.py`, or run it as a script.

# %%
from mechscope import load_model
from mechscope.circuits import (
    ComponentGraph,
    acdc,
    discover_circuit,
    edge_attribution,
    edge_effects,
)
from mechscope.interventions import repeated_pairs

model = load_model("induction-2l", device="cpu")
pairs = repeated_pairs(model, n_prompts=16)  # the corrupted side changes only the first copy
graph = ComponentGraph.of(model)
print(f"{len(graph.upstream)} writers, {len(graph.downstream)} readers, {graph.n_edges} edges")

# %% [markdown]
# Every edge's score at once: one corrupted pass, and one clean pass with a backward pass
# per integration step.

# %%
scores = edge_attribution(model, pairs, method="eap-ig", steps=5)
print(f"logit difference: clean {scores.clean_value:.2f}, corrupted {scores.corrupted_value:.2f}")
for edge, value in scores.top(8):
    print(f"  {edge:<18} {value:+.3f}")

# %% [markdown]
# Keep the top edges, ablate the rest (each ablated edge carries the corrupted run's
# activation), and watch faithfulness grow with the circuit's size.

# %%
found = discover_circuit(model, pairs, scores, target=0.8, progress=False)
for size, faithful in zip(found.sizes.tolist(), found.faithfulness.tolist(), strict=True):
    print(f"  {size:>3} edges: faithfulness {faithful:+.3f}")
print("chosen:", found.chosen, "edges; components", found.nodes())

# %% [markdown]
# The exact check: ablate each edge alone and compare with its score. ACDC, which removes
# edges one forward pass at a time, is the slow exact circuit.

# %%
every_edge = [graph.edge_name(u, d) for u, d in graph.valid.nonzero().tolist()]
exact = edge_effects(model, pairs, every_edge, scores=scores, progress=False)
print(f"rank correlation of the scores with exact single-edge ablation: {exact.spearman():.2f}")
costly = exact.effects.argsort()[:4].tolist()
for i in costly:
    print(f"  {every_edge[i]:<18} exact {float(exact.effects[i]):+.2f}  score "
          f"{float(exact.estimates[i]):+.2f}")  # fmt: skip
reference = acdc(model, pairs, tau=0.05, progress=False)
print(f"ACDC: {len(reference.edges)} edges, faithfulness {reference.faithfulness:.2f}")
k_composition = [e for e in reference.edges if e.startswith("a0.0->a1.") and e.endswith("<k>")]
print("previous-token head -> induction keys kept by ACDC:", k_composition)

# %% [markdown]
# The costliest edges are the previous-token head's value input and its edge into the
# induction head's keys, and their scores are near zero: the induction head needs its keys
# *and* its values clean, which a first-order (or input-integrated) score does not see.
# Exact ablation does.
