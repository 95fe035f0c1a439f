"""Sparse autoencoders through SAELens: the architectures, the recipe, loading and saving.

SAELens (``sae-lens``) provides the SAE classes, their training step and their on-disk format
(``cfg.json`` + ``sae_weights.safetensors``); mechscope picks the architecture from a recipe
and loads any SAELens-format SAE: a local directory offline, or a published release by name
(``release`` + ``sae_id``) with network access. ``import sae_lens`` takes seconds, so it
happens inside the functions that need it.
"""

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from mechscope.core.errors import MechscopeError, ModelUnavailableError
from mechscope.features.config import Architecture, SaeRecipe

if TYPE_CHECKING:
    from sae_lens import SAE, TrainingSAE


def training_sae(recipe: SaeRecipe, d_in: int, *, device: str = "cpu") -> "TrainingSAE":
    """A fresh SAELens training SAE of ``recipe``'s architecture for inputs of width ``d_in``.

    Raises:
        MechscopeError: ``k`` larger than the width (topk, batchtopk).
    """
    import sae_lens

    width = recipe.width_for(d_in)
    torch.manual_seed(recipe.seed)
    common = {"d_in": d_in, "d_sae": width, "device": device}
    if recipe.architecture is Architecture.TOPK:
        return sae_lens.TopKTrainingSAE(sae_lens.TopKTrainingSAEConfig(k=recipe.k, **common))
    if recipe.architecture is Architecture.BATCHTOPK:
        config = sae_lens.BatchTopKTrainingSAEConfig(k=recipe.k, **common)
        return sae_lens.BatchTopKTrainingSAE(config)
    if recipe.architecture is Architecture.JUMPRELU:
        config = sae_lens.JumpReLUTrainingSAEConfig(
            l0_coefficient=recipe.sparsity_coefficient, **common
        )
        return sae_lens.JumpReLUTrainingSAE(config)
    config = sae_lens.StandardTrainingSAEConfig(
        l1_coefficient=recipe.sparsity_coefficient, **common
    )
    return sae_lens.StandardTrainingSAE(config)


def load_sae(source: str | Path, sae_id: str | None = None, *, device: str = "cpu") -> "SAE[Any]":
    """An SAE (or transcoder) in SAELens format, ready for inference.

    ``source``: a directory holding ``cfg.json`` and ``sae_weights.safetensors`` (offline),
    or, with ``sae_id``, a SAELens release name (``SAE.from_pretrained``; needs the network
    or the Hugging Face cache).

    Raises:
        MechscopeError: a directory that is no SAE, or a release that cannot be had.
    """
    from sae_lens import SAE

    path = Path(source).expanduser()
    if sae_id is None:
        if not (path / "cfg.json").is_file():
            raise MechscopeError(
                f"{path} holds no SAE (no cfg.json); pass an SAE directory (from `mechscope sae "
                "train`, or any SAELens-format SAE), or a release name with its SAE id."
            )
        try:
            return SAE.load_from_disk(path, device=device)
        except (OSError, ValueError, KeyError, RuntimeError) as error:
            raise MechscopeError(f"cannot read the SAE in {path}: {error}") from error
    from mechscope.models.hub import hub_reachable

    try:
        return SAE.from_pretrained(str(source), sae_id, device=device)
    except (OSError, ValueError, KeyError) as error:
        reason = "the hub is unreachable" if not hub_reachable() else str(error).split("\n")[0]
        raise ModelUnavailableError(
            f"cannot load SAE {sae_id!r} of release {source!r}: {reason}. Either download it "
            "once with network access (it is then in the Hugging Face cache), or pass the "
            "path of a local directory holding it (cfg.json and sae_weights.safetensors)."
        ) from error


def sae_hook(sae: "SAE[Any]") -> str | None:
    """The hook point an SAE was trained on, as its config records it (None if unknown)."""
    metadata = getattr(sae.cfg, "metadata", None)
    return getattr(metadata, "hook_name", None)


def write_directions(sae: "SAE[Any]") -> torch.Tensor:
    """What one unit of each feature's activation adds to the site: ``[feature, d_in]``.

    The decoder's rows, divided by their norms when the SAE rescales activations by them
    (SAELens's ``rescale_acts_by_decoder_norm``, on for its TopK SAEs), so that reading a
    feature's writes (its logit weights, its attribution) matches what ``decode`` does.
    """
    decoder = sae.W_dec.detach()
    if getattr(sae.cfg, "rescale_acts_by_decoder_norm", False):
        decoder = decoder / decoder.norm(dim=-1, keepdim=True)
    return decoder
