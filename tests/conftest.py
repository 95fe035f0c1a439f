"""Shared fixtures: tiny random models and small Hugging Face model directories."""

from pathlib import Path

import pytest

from mechscope.models import TinyConfig, load_model
from tests.hf_factories import BRIDGE_FAMILIES, save_hf_model, save_with_tokenizer


@pytest.fixture(scope="session")
def tiny_decoder():
    return load_model(TinyConfig(n_layers=2, n_heads=4, d_model=32, d_vocab=64, n_ctx=32))


@pytest.fixture(scope="session")
def tiny_encoder():
    return load_model(TinyConfig(encoder=True, n_layers=2, n_heads=4, d_model=32, d_vocab=64))


@pytest.fixture(scope="session")
def hf_dirs(tmp_path_factory) -> dict[str, Path]:
    """One saved random HF model directory per family."""
    root = tmp_path_factory.mktemp("hf")
    dirs = {}
    for family in ("gpt2", "neox", "llama", "llama-gqa", "bert", "bert-base"):
        save_hf_model(family, root / family)
        dirs[family] = root / family
    return dirs


@pytest.fixture(scope="session")
def bridge_dirs(tmp_path_factory) -> dict[str, Path]:
    """Random decoder directories with a word-level tokenizer (the Bridge boots with one)."""
    root = tmp_path_factory.mktemp("bridge")
    return {family: save_with_tokenizer(family, root / family) for family in BRIDGE_FAMILIES}
