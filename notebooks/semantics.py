# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # The semantic half: coreference heads, entity and sentiment probes, dropping layers
#
# MiniLM (all-MiniLM-L6-v2, a 6-layer BERT) reads UD English GUM, whose gold annotation marks
# every entity mention, its type and its coreference chain, and SST-2's movie-review
# sentences. We ask where the *semantic* information lives:
#
# 1. which heads send a mention to its antecedent (Clark et al. 2019, section 5), against
#    the baselines of picking the nearest mention or the nearest with the same head word;
# 2. at which layer a linear probe reads entity types and sentiment, with controls;
# 3. which heads aggregate attention onto sentiment words (a polarity lexicon from SST-2's
#    one-word rows);
# 4. what the sentiment readout loses when a block is dropped;
# 5. a BertViz-style model view and neuron view of one sentence.
#
# Needs `mechscope[bert]` and the shared data (`$MECHSCOPE_DATA/ud_english_gum/` and
# `sst2/`; default: a `shared/data` in the working directory or above it, or beside the
# checkout). About 30 s on two CPU cores.

# %%
import torch

from mechscope.data import (
    dataset_dir,
    polarity_lexicon,
    read_conllu,
    read_mentions,
    read_sst2,
    reviews_as_sentences,
    split_reviews,
)
from mechscope.heads import (
    aggregation_scores,
    coreference_scores,
    query_key,
    sentence_attention,
    sentiment_targets,
)
from mechscope.interventions import dropped_blocks
from mechscope.models import load_model
from mechscope.representations import (
    Pooling,
    ProbeSettings,
    SurveySettings,
    collect,
    fit_probe,
    probe_survey,
)
from mechscope.viz import model_view, neuron_view

GUM = dataset_dir("ud_english_gum")
SST2 = dataset_dir("sst2") / "train.tsv"
model = load_model("minilm", device="cpu")

# %% [markdown]
# ## 1. Coreference heads
#
# Each document is read four sentences at a time; for every mention with an earlier mention
# of its chain in the window, a head "picks" the earlier mention its head word attends to
# most. The nearest mention is right only about a third of the time.

# %%
mentions = read_mentions(GUM / "en_gum-ud-dev.conllu", 60)
coreference = coreference_scores(model, mentions, window=4, progress=False)
best, accuracy = coreference.best()
low, high = coreference.interval(coreference.correct[:, best.layer, best.head])
nearest, head_match = float(coreference.nearest.mean()), float(coreference.head_match.mean())
print(f"{coreference.n_mentions} mentions: best head {best} {accuracy:.3f} [{low:.3f}, "
      f"{high:.3f}]; nearest mention {nearest:.3f}, same head word {head_match:.3f}")  # fmt: skip
by_layer = coreference.accuracy().amax(1)
print("best head per layer:", " ".join(f"{float(v):.2f}" for v in by_layer))

# %% [markdown]
# ## 2. Entity types and sentiment, by layer, with controls
#
# Entity type is probed on the head words of GUM's mentions (Hewitt & Liang's control task:
# one random label per word type); sentiment on whole SST-2 sentences, mean-pooled (the
# control: the same probe fitted on shuffled labels). Fitted on train, scored on held-out
# sentences fixed by the seed. With 150 held-out sentences the sentiment accuracies of most
# layers are tied (the embeddings alone read much of SST-2's sentiment from its words).

# %%
settings = SurveySettings(random_baseline=False, seed=0)
gum_train = read_conllu(GUM / "en_gum-ud-train.conllu")[::60]  # ~172, across documents
gum_dev = read_conllu(GUM / "en_gum-ud-dev.conllu")[::20]  # ~79
entity = probe_survey(model, gum_train, gum_dev, ["entity"], settings, progress=False).probes[0]
reviews = read_sst2(SST2, 450, seed=0)
held, rest = split_reviews(reviews, 150, seed=0)
sst_train, sst_eval = reviews_as_sentences(rest), reviews_as_sentences(held)
survey = probe_survey(model, sst_train, sst_eval, ["sentiment"], settings, progress=False)
sentiment = survey.probes[0]
for result in (entity, sentiment):
    b = result.best_index
    print(f"{result.task:<9} best boundary {result.best_boundary} acc. "
          f"{float(result.accuracy[b]):.3f} [{float(result.ci_low[b]):.3f}, "
          f"{float(result.ci_high[b]):.3f}], control {float(result.control[b]):.3f}, "
          f"expected layer {result.expected_layer:.2f}, "
          f"majority {result.majority:.3f}")  # fmt: skip

# %% [markdown]
# ## 3. Semantic aggregation heads
#
# The share of every token's attention that lands on sentiment-bearing words, against the
# share uniform attention would give (enrichment 1 = no preference).

# %%
lexicon = polarity_lexicon(SST2)
aggregation = aggregation_scores(
    model, {"sentiment": sentiment_targets([s.words for s in sst_eval], lexicon)}, progress=False
)
print(f"{len(lexicon)} lexicon words; they are {float(aggregation.share[0]):.1%} of the keys")
for head, value in aggregation.top("sentiment", 3):
    print(f"  head {head}: enrichment {value:.2f}")

# %% [markdown]
# ## 4. Dropping a block
#
# A sentiment probe fitted on the intact model's last layer is scored with the first or the
# last block skipped (its output replaced by its input): `layer_dropping(model, measures)`
# runs every block in turn, and the top k together (the hierarchy experiment does).

# %%
last = model.cfg.n_layers
fitted = collect(model, sst_train, pooling=Pooling.SENTENCE_MEAN, boundaries=[last],
                 progress=False)  # fmt: skip
classes = ["negative", "positive"]
y = torch.tensor([classes.index(s.label) for s in sst_train])
probe = fit_probe(fitted.layer(0), y, 2, ProbeSettings(seed=0))
y_eval = torch.tensor([classes.index(s.label) for s in sst_eval])


def readout(m) -> float:  # noqa: ANN001 - any model
    acts = collect(m, sst_eval[:100], pooling=Pooling.SENTENCE_MEAN, boundaries=[last],
                   progress=False)  # fmt: skip
    return float((probe.predict(acts.layer(0)) == y_eval[:100]).float().mean())


intact = readout(model)
with dropped_blocks(model, [0]):
    without_first = readout(model)
with dropped_blocks(model, [last - 1]):
    without_last = readout(model)
print(
    f"intact {intact:.3f}; block 0 dropped {without_first:.3f}; "
    f"block {last - 1} dropped {without_last:.3f}"
)

# %% [markdown]
# ## 5. A model view and a neuron view
#
# In Jupyter, `IPython.display.HTML(view)` shows them; `mechscope heads` puts both in its
# report.

# %%
text = "The movie was great, and the actors loved it."
view = model_view(sentence_attention(model, text))
neuron = neuron_view(query_key(model, text, best.layer, best.head))
print(f"model view {len(view) // 1000} kB, neuron view of head {best} {len(neuron) // 1000} kB")
