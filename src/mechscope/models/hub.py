"""Load a model by its TransformerLens name (``gpt2-small``, ``pythia-70m``...) from the hub.

This is TransformerLens's own ``from_pretrained`` path. Before it runs, mechscope checks that
the weights can be had: cached locally, or the hub reachable. Without either it fails at once
with the two fixes, instead of hanging in retries.
"""

import os
import socket
from urllib.parse import urlparse

import torch

from mechscope.core.errors import ModelSpecError, ModelUnavailableError
from mechscope.models.base import Model
from mechscope.models.legacy import HookedEncoder, HookedTransformer

HUB_PROBE_TIMEOUT_S = 3.0


def official_name(name: str) -> str:
    """The Hugging Face repo id TransformerLens knows ``name`` (or an alias of it) by.

    Raises:
        ModelSpecError: TransformerLens knows no such model.
    """
    from transformer_lens.loading_from_pretrained import get_official_model_name

    try:
        return get_official_model_name(name)
    except ValueError:
        raise ModelSpecError(
            f"unknown model {name!r}: it is not a TransformerLens model name, a bundled model "
            "('minilm'), or an existing directory. Check the spelling (e.g. 'gpt2-small', "
            "'pythia-70m'), or pass the path of a local Hugging Face or mechscope checkpoint "
            "directory."
        ) from None


def is_cached(repo_id: str) -> bool:
    """Whether the repo's config is in the local Hugging Face cache."""
    from huggingface_hub import try_to_load_from_cache

    hit = try_to_load_from_cache(repo_id, "config.json")
    return isinstance(hit, str)


def hub_reachable(timeout_s: float = HUB_PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to the hub (``HF_ENDPOINT`` or huggingface.co) opens in time."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"}:
        return False
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "huggingface.co", port), timeout=timeout_s):
            return True
    except OSError:
        return False


def unavailable(name: str, repo_id: str, reason: str) -> ModelUnavailableError:
    """The error for a named model that cannot be had, with both fixes."""
    return ModelUnavailableError(
        f"cannot load {name!r} ({repo_id}): {reason}. Either download it once with network "
        f"access (`mechscope info {name}` fills the Hugging Face cache), or pass the path of a "
        "local directory holding it (`model.save_pretrained(DIR)` and "
        "`tokenizer.save_pretrained(DIR)` on a machine with network access)."
    )


def load_from_hub(
    name: str, device: torch.device, dtype: torch.dtype, process_weights: bool
) -> Model:
    """Load ``name`` through TransformerLens ``from_pretrained``, failing fast when offline."""
    repo_id = official_name(name)
    if not is_cached(repo_id) and not hub_reachable():
        raise unavailable(name, repo_id, "it is not in the local cache and the hub is unreachable")
    try:
        if "bert" in repo_id.lower():
            return HookedEncoder.from_pretrained(repo_id, device=str(device), dtype=dtype)  # type: ignore[arg-type]
        loader = (
            HookedTransformer.from_pretrained
            if process_weights
            else HookedTransformer.from_pretrained_no_processing
        )
        return loader(repo_id, device=str(device), dtype=dtype)  # pyright: ignore[reportArgumentType]
    except OSError as error:  # connection and missing-file errors from the hub client
        raise unavailable(name, repo_id, f"download failed ({error})") from error
