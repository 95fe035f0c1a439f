"""Collecting pooled activations: parity with a cached forward pass, stores, bad input."""

import numpy as np
import pytest
import torch

from mechscope.core.errors import MechscopeError
from mechscope.core.results import load_result
from mechscope.core.sites import Component, Site
from mechscope.data.conllu import Sentence
from mechscope.heads.syntax import align
from mechscope.models import load_model, random_like
from mechscope.models.run import target_hook
from mechscope.representations import Activations, Pooling, collect

SENTENCES = [
    Sentence(("The", "cat", "sat", "."), (1, 2, -1, 2), ("det", "nsubj", "root", "punct"),
             ("DET", "NOUN", "VERB", "PUNCT"), "email-0001"),
    Sentence(("Dogs", "bark"), (1, -1), ("nsubj", "root"), ("NOUN", "VERB"), "weblog-0002"),
    Sentence(("A", "very", "small", "mouse", "ran", "away", "."), (3, 2, 3, 4, -1, 4, 4),
             ("det", "advmod", "amod", "nsubj", "root", "advmod", "punct"),
             ("DET", "ADV", "ADJ", "NOUN", "VERB", "ADV", "PUNCT"), "reviews-0003"),
]  # fmt: skip


@pytest.fixture(scope="module")
def model():
    return load_model("induction-2l", device="cpu")


def reference_words(model, sentence, how):
    """Each word's vector at every boundary, pooled by hand from run_with_cache."""
    aligned = align(model, sentence)
    names = [target_hook(model, layer) for layer in range(model.cfg.n_layers + 1)]
    _, cache = model.run_with_cache(torch.tensor([aligned.tokens]), names_filter=names)
    out = []
    for name in names:
        rows = []
        for word in range(len(sentence.words)):
            positions = [t for t, w in enumerate(aligned.word_of_token) if w == word]
            positions = {"mean": positions, "first": positions[:1], "last": positions[-1:]}[how]
            rows.append(cache[name][0, positions].mean(0))
        out.append(torch.stack(rows))
    return torch.stack(out)


@pytest.mark.parametrize(("pooling", "how"), [(Pooling.WORD_MEAN, "mean"),
                                              (Pooling.WORD_FIRST, "first"),
                                              (Pooling.WORD_LAST, "last")])  # fmt: skip
def test_word_pooling_equals_pooling_a_cached_pass_by_hand(model, pooling, how):
    acts = collect(model, SENTENCES, pooling=pooling, batch_size=2, progress=False)
    assert acts.units == tuple(w for s in SENTENCES for w in s.words)
    assert acts.group.tolist() == [0] * 4 + [1] * 2 + [2] * 7
    expected = torch.cat([reference_words(model, s, how) for s in SENTENCES], dim=1)
    torch.testing.assert_close(acts.values, expected, atol=1e-5, rtol=1e-5)
    assert acts.boundaries == ("embeddings", "after block 0", "after block 1")


def test_token_and_sentence_pooling_match_the_stream(model):
    prompts = ["the cat sat on the mat", "a dog"]
    tokens = collect(model, prompts, pooling=Pooling.TOKEN, progress=False)
    means = collect(model, prompts, pooling=Pooling.SENTENCE_MEAN, progress=False)
    last = collect(model, prompts, pooling=Pooling.SENTENCE_LAST, progress=False)
    for i, prompt in enumerate(prompts):
        ids = model.to_tokens(prompt)
        _, cache = model.run_with_cache(ids)
        stream = cache["blocks.1.hook_resid_pre"][0]
        rows = tokens.layer(1)[tokens.group == i]
        torch.testing.assert_close(rows, stream, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(means.layer(1)[i], stream[1:].mean(0), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(last.layer(1)[i], stream[-1], atol=1e-5, rtol=1e-5)
    with pytest.raises(MechscopeError, match="sentence-cls"):
        collect(model, prompts, pooling=Pooling.SENTENCE_CLS, progress=False)


def test_a_store_on_disk_is_memory_mapped_and_loads_back(model, tmp_path):
    memory = collect(model, SENTENCES, progress=False)
    stored = collect(model, SENTENCES, store=tmp_path / "acts", progress=False)
    assert stored.store == str(tmp_path / "acts" / "values.npy")
    on_disk = np.load(stored.store, mmap_mode="r")
    assert isinstance(on_disk, np.memmap) and on_disk.shape == tuple(memory.values.shape)
    torch.testing.assert_close(stored.values, memory.values)
    stored.save(tmp_path / "acts")
    loaded = load_result(tmp_path / "acts")
    assert isinstance(loaded, Activations)
    torch.testing.assert_close(loaded.layer(2), memory.layer(2))
    assert loaded.sentences == tuple(SENTENCES) and loaded.pooling is Pooling.WORD_MEAN
    memory.save(tmp_path / "again")  # an in-memory result writes values.npy itself
    torch.testing.assert_close(load_result(tmp_path / "again").values, memory.values)
    half = collect(model, SENTENCES, dtype=torch.float16, progress=False)
    assert half.values.dtype == torch.float16 and half.layer(0).dtype == torch.float32


class _AttnIn(Site):
    """A real hook point that a default forward never runs (blocks.L.hook_attn_in)."""

    def __init__(self, layer):
        super().__init__(Component.RESID_PRE, layer)

    @property
    def hook_name(self):
        return f"blocks.{self.layer}.hook_attn_in"


def test_other_sites_and_unusable_sentences(model):
    sites = [Site(Component.ATTN_OUT, 0), Site(Component.ATTN_OUT, 1)]
    broken = Sentence(("a", "b"), (1, 0), ("x", "y"), ("X", "X"))  # a cycle, no root
    acts = collect(model, [*SENTENCES, broken], sites=sites, progress=False)
    assert acts.boundaries == ("attn_out L0", "attn_out L1")
    aligned = align(model, SENTENCES[1])
    _, cache = model.run_with_cache(torch.tensor([aligned.tokens]))
    dogs = [t for t, word in enumerate(aligned.word_of_token) if word == 0]
    expected = cache["blocks.1.hook_attn_out"][0, dogs].mean(0)
    torch.testing.assert_close(acts.layer(1)[acts.group.tolist().index(1)], expected,
                               atol=1e-5, rtol=1e-5)  # fmt: skip
    assert acts.skipped == {"malformed tree: no root": 1}
    assert len(acts.sentences) == 3
    with pytest.raises(MechscopeError, match="out of range"):
        collect(model, SENTENCES, sites=[Site(Component.RESID_POST, 5)], progress=False)
    with pytest.raises(MechscopeError, match="never ran"):  # off unless cfg.use_attn_in
        collect(model, SENTENCES, sites=[Site(Component.RESID_PRE, 0), _AttnIn(0)],
                progress=False)  # fmt: skip
    some = collect(model, SENTENCES, boundaries=[0, 2], progress=False)
    every = collect(model, SENTENCES, progress=False)
    assert some.boundaries == ("embeddings", "after block 1")
    torch.testing.assert_close(some.layer(1), every.layer(2))
    with pytest.raises(MechscopeError, match="boundary 3 is out of range"):
        collect(model, SENTENCES, boundaries=[3], progress=False)
    with pytest.raises(MechscopeError, match="out of range"):
        acts.layer(2)
    with pytest.raises(MechscopeError, match="none of the 1 inputs"):
        collect(model, [broken], progress=False)


def test_random_like_keeps_the_shape_and_redraws_the_weights(model):
    fresh = random_like(model, seed=1)
    assert fresh.cfg.n_layers == model.cfg.n_layers and fresh.tokenizer is model.tokenizer
    assert not torch.equal(fresh.W_Q, model.W_Q)
    assert abs(float(fresh.W_Q.detach().std()) - 0.02) < 0.002
    assert torch.equal(random_like(model, seed=1).W_Q, fresh.W_Q)
    assert fresh.mechscope_spec == "random-init(induction-2l, seed=1)"


def test_images_collect_at_cls_or_over_the_patches_like_the_stream():
    from mechscope.models import HookedViT, ViTConfig
    from mechscope.models.run import boundary_stream

    vit = HookedViT(ViTConfig(image_size=8, patch_size=4, n_classes=2, d_model=16, n_layers=2,
                              n_heads=2, d_mlp=16, seed=1)).eval()  # fmt: skip
    batch = vit.image_batch(torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(0)))
    stream = boundary_stream(vit, batch)  # boundary image pos d_model
    cls = collect(vit, batch, batch_size=2, progress=False)  # [CLS] by default
    torch.testing.assert_close(cls.values, stream[:, :, 0])
    mean = collect(vit, batch, pooling=Pooling.SENTENCE_MEAN, batch_size=3, progress=False)
    torch.testing.assert_close(mean.values, stream[:, :, 1:].mean(2))
    assert cls.units == tuple(f"image {i}" for i in range(5)) and cls.group.tolist() == [
        0,
        1,
        2,
        3,
        4,
    ]
    with pytest.raises(MechscopeError, match="sentence-cls .* or sentence-mean"):
        collect(vit, batch, pooling=Pooling.WORD_MEAN, progress=False)
    with pytest.raises(MechscopeError, match="vision transformer"):
        collect(vit, ["some text"], progress=False)


def test_images_need_a_vit(model):
    from mechscope.core.batch import ImageBatch

    with pytest.raises(MechscopeError, match="works on images"):
        collect(model, ImageBatch(torch.rand(2, 1, 8, 8), 4), progress=False)
