"""A cached checkpoint's load against reading its file, and against the way it used to load.

On the SmolLM2 cache (converted from the GGUF on first use; ``--models induction-2l`` for a
shipped checkpoint), interleaved in one process:
- "read the file": ``safetensors.load_file`` and one sum over every tensor (the file's pages
  read: safetensors maps the file lazily, so without the sum nothing is read);
- "load_model": the whole of ``load_model(dir)`` (config, tokenizer, model, weights, finite
  check, layout);
- "weights only": what `load_model` adds to building the empty model and its tokenizer: the
  weights taken from the file (``load_state_dict(assign=True)``, the gated MLP's and the
  unembedding's stored in the layout they are held in), the finite check (one sum per weight),
  the layout (nothing left to copy);
- "copied weights (before)": the weights copied into the model's own tensors, an ``isfinite``
  mask per parameter and the layout's copies, as `load_model` did before issue 32.

Target (issue 32): the weights placed within 2x of reading the file. Values checked equal.
First conversion (GGUF to cache) is timed once when no cache exists.
"""

import time
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformer_lens import HookedTransformer

from benchmarks.common import header, interleaved, options, ratio, seconds
from mechscope.models import load_model
from mechscope.models.base import linear_layout, place, quiet_transformer_lens
from mechscope.models.checkpoint import (
    WEIGHTS_FILE,
    config_from_json,
    read_checkpoint_record,
    stored_weights,
)
from mechscope.models.loader import check_finite_weights

MODELS = ("smollm2", "induction-2l")


def directory(name: str) -> Path:
    """The checkpoint directory of ``name`` (SmolLM2: converted first if not cached, timed)."""
    if name == "induction-2l":
        from mechscope.models.bundled import BUNDLED

        return Path(BUNDLED[name]())
    from mechscope.models.smollm import cache_dir, smollm_dir

    if not cache_dir().is_dir():
        start = time.perf_counter()
        smollm_dir()
        print(f"  first conversion (GGUF to cache): {time.perf_counter() - start:.1f}s")
    return smollm_dir()


def empty_model(path: Path) -> HookedTransformer:
    """The model of a checkpoint with its weights uninitialised (``init_weights=False``)."""
    cfg = config_from_json(read_checkpoint_record(path)["config"], torch.device("cpu"))
    cfg.init_weights = False
    with quiet_transformer_lens():
        return HookedTransformer(cfg, move_to_device=False)


def compare(name: str, rounds: int) -> None:
    path = directory(name)
    weights = path / WEIGHTS_FILE
    record = read_checkpoint_record(path)
    size = weights.stat().st_size / 2**20

    def read() -> float:
        return sum(float(t.sum()) for t in load_file(weights).values())

    def new(model: HookedTransformer) -> HookedTransformer:
        model.load_state_dict(stored_weights(weights, record), strict=True, assign=True)
        check_finite_weights(model, name)
        return linear_layout(place(model, torch.device("cpu"), torch.float32))

    def before(model: HookedTransformer) -> HookedTransformer:
        model.load_state_dict(stored_weights(weights, record), strict=True)
        for parameter in model.parameters():
            assert bool(torch.isfinite(parameter).all())
        return linear_layout(place(model, torch.device("cpu"), torch.float32))

    models = [empty_model(path) for _ in range(2)]  # built outside the timed part
    candidates = {
        "read the file": read,
        "load_model": lambda: load_model(path, device="cpu"),
        "weights only": lambda: new(models[0]),
        "copied weights (before)": lambda: before(models[1]),
    }
    times = interleaved(candidates, rounds)
    loaded = load_model(path, device="cpu")
    reference = before(empty_model(path)).state_dict().values()
    equal = all(
        torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), reference, strict=True)
    )
    print(
        f"{name}: {size:.0f} MiB file; read {seconds(times, 'read the file')}; load_model "
        f"{seconds(times, 'load_model')} = {ratio(times, 'load_model', 'read the file')} the "
        f"read; weights only {seconds(times, 'weights only')} = "
        f"{ratio(times, 'weights only', 'read the file')} the read (target <= 2x); before "
        f"{ratio(times, 'copied weights (before)', 'weights only')} slower; equal {equal}"
    )


def main(argv: list[str] | None = None) -> None:
    opts = options(argv)
    print(header(opts))
    for name in opts.models or MODELS:
        compare(name, opts.rounds)


if __name__ == "__main__":
    main()
