import pytest


@pytest.fixture(scope="module")
def byte_model(tmp_path_factory):
    """A random-init 2-layer byte-level model with the byte tokenizer (fast, with offsets)."""
    from mechscope.data.byte_tokenizer import save_byte_tokenizer
    from mechscope.models import TinyConfig, load_model

    model = load_model(TinyConfig(n_layers=2, n_heads=2, d_model=16, d_vocab=258, n_ctx=64))
    model.set_tokenizer(save_byte_tokenizer(tmp_path_factory.mktemp("tokenizer")))
    return model
