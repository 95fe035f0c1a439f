"""What every benchmark shares: best-of timing and the wider random comparison model."""

import time
from collections.abc import Callable

from mechscope.models import TinyConfig, load_model

REPEATS = 3

WIDER = TinyConfig(n_layers=4, n_heads=8, d_model=256, d_vocab=258, n_ctx=128)
"""A random byte-vocabulary model with more heads than the shipped ones."""


def best_of(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    """The fastest of ``repeats`` wall-clock timings of ``fn``, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def load_with_tokenizer(spec: object):  # noqa: ANN201 - a TransformerLens model
    """``load_model(spec)``; a random model borrows the shipped byte-level tokenizer."""
    model = load_model(spec, device="cpu")  # pyright: ignore[reportArgumentType]
    if model.tokenizer is None:
        model.set_tokenizer(load_model("induction-2l").tokenizer)
    return model
