"""Transcoders: a known sparse map recovered, the splice in place of the MLP, a saved run."""

import json

import pytest
import torch

from mechscope.core.errors import MechscopeError
from mechscope.features import (
    LOSSES,
    SaeRecipe,
    ablate_features,
    evaluate_transcoder,
    fit_transcoder,
    load_sae,
    mlp_hooks,
    splice_transcoder,
    train_transcoder,
)


def test_a_transcoder_recovers_a_sparse_map_between_two_dictionaries():
    # The "MLP" reads x = s A and writes y = s B for a sparse code s (48 features, each on
    # with probability 0.04, in 32 dimensions). Measured with these 150 steps of 512: the
    # decoder's rows match B's with mean max cosine 0.989, explained variance of y 0.94.
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.nn.functional.normalize(torch.randn(48, 32, generator=generator), dim=-1)
            for _ in range(2))  # fmt: skip
    on = torch.rand(30_000, 48, generator=generator) < 0.04
    code = on.float() * torch.rand(30_000, 48, generator=generator)
    recipe = SaeRecipe(width=96, sparsity_coefficient=0.1, tokens=150 * 512, batch_size=512,
                       lr=1e-2)  # fmt: skip
    transcoder = fit_transcoder(code @ a, code @ b, recipe, progress=False)
    decoder = torch.nn.functional.normalize(transcoder.W_dec.detach(), dim=-1)
    assert float((b @ decoder.T).max(-1).values.mean()) >= 0.9


def test_the_transcoder_splice_and_its_evaluation(byte_model, tmp_path):
    from mechscope.data.corpus import load_corpus

    corpus = load_corpus([json.__file__.replace("__init__.py", "decoder.py")], 0.2)
    recipe = SaeRecipe(width=32, sparsity_coefficient=0.1, tokens=20 * 256, read_tokens=3000,
                       batch_size=256, n_ctx=32, eval_tokens=600)  # fmt: skip
    trained = train_transcoder(byte_model, 1, corpus, recipe, tmp_path / "tc", progress=False)
    metrics = json.loads((tmp_path / "tc" / "metrics.json").read_text())
    assert metrics["loss_with_error"] == metrics["loss_clean"]
    loaded = load_sae(tmp_path / "tc")
    assert torch.equal(loaded.W_dec, trained.transcoder.W_dec)
    assert loaded.cfg.metadata.hook_name == mlp_hooks(byte_model, 1)[0]
    tokens = byte_model.to_tokens(["some text here"])
    clean = byte_model(tokens)
    with splice_transcoder(byte_model, loaded, 1):
        assert torch.equal(byte_model(tokens), clean)
    with splice_transcoder(byte_model, loaded, 1, [ablate_features(range(32))]):
        ablated = byte_model(tokens)
    assert not torch.allclose(ablated, clean)
    windows = byte_model.to_tokens(["the quick brown fox", "jumps over the lazy dog"])
    result = evaluate_transcoder(byte_model, loaded, 1, windows, progress=False)
    assert result.losses is not None
    runs = dict(zip(LOSSES, result.losses.double().mean(-1).tolist(), strict=True))
    assert result.metrics()["loss_recovered_zero"] == pytest.approx(
        (runs["zero_ablated"] - runs["spliced"]) / (runs["zero_ablated"] - runs["clean"])
    )


def test_transcoders_need_an_mlp(tiny_decoder, byte_model):
    with pytest.raises(MechscopeError, match="attention-only"):
        mlp_hooks(tiny_decoder, 0)
    with pytest.raises(MechscopeError, match="layer 2 is out of range"):
        mlp_hooks(byte_model, 2)
