# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # What each layer encodes: probes with controls, a projection, CKA
#
# MiniLM (all-MiniLM-L6-v2, a 6-layer BERT) reads gold-parsed English from UD English EWT.
# We collect each word's vector at every layer (the mean of its sub-tokens), fit a linear
# part-of-speech probe per layer on train sentences and score it on dev sentences, with the
# control task of Hewitt & Liang (2019): each word type gets one fixed random tag, so a probe
# that scores well on it memorises words rather than reading syntax. Then one layer is drawn
# in 2-D coloured by part of speech, and the layers are compared by linear CKA.
#
# Needs `mechscope[bert]` and UD English EWT in `$MECHSCOPE_DATA/ud_english_ewt/` (default: a
# `shared/data` in the working directory or above it, or beside the checkout).

# %%

from mechscope.data import dataset_dir, read_conllu
from mechscope.models import load_model
from mechscope.representations import (
    ProbeTask,
    collect,
    probe_layers,
    project,
    similarity_matrix,
    task_labels,
)
from mechscope.viz import probe_figure, projection_figure, similarity_figure

UD = dataset_dir("ud_english_ewt")  # $MECHSCOPE_DATA, or a shared/data nearby: any directory
train_sentences = read_conllu(UD / "en_ewt-ud-train.conllu")[::40]  # ~314, across documents
dev_sentences = read_conllu(UD / "en_ewt-ud-dev.conllu", 150)

model = load_model("minilm", device="cpu")
train = collect(model, train_sentences, progress=False)
dev = collect(model, dev_sentences, progress=False)
print(f"{len(train.units)} train words, {len(dev.units)} dev words, boundaries {dev.boundaries}")

# %% [markdown]
# ## 1. A UPOS probe per layer, with its control task

# %%
upos = probe_layers(
    train, task_labels(ProbeTask.UPOS, train.sentences, len(train.units)),
    dev, task_labels(ProbeTask.UPOS, dev.sentences, len(dev.units)),
    task="upos", progress=False,
)  # fmt: skip
for layer, label in enumerate(upos.boundaries):
    print(f"{label:<11} accuracy {float(upos.accuracy[layer]):.3f} "
          f"[{float(upos.ci_low[layer]):.3f}, {float(upos.ci_high[layer]):.3f}]  "
          f"control {float(upos.control[layer]):.3f}  "
          f"selectivity {float(upos.selectivity[layer]):.3f}")  # fmt: skip
print(f"majority class {upos.majority:.3f}; best boundary {upos.best_boundary}; "
      f"expected layer {upos.expected_layer:.2f}")  # fmt: skip
probe_figure(upos)

# %% [markdown]
# ## 2. The best layer in 2-D, coloured by part of speech (hover a point: its word and sentence)

# %%
dev_upos = task_labels(ProbeTask.UPOS, dev.sentences, len(dev.units))
projection = project(dev, dev_upos, boundaries=[upos.best_index], max_points=1500)
projection_figure(projection)

# %% [markdown]
# ## 3. Linear CKA between the layers

# %%
cka = similarity_matrix(dev, progress=False)
similarity_figure(cka)
