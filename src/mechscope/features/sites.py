"""Where a sparse autoencoder reads: a site of the model (a hook point at one layer)."""

from enum import Enum

from mechscope.core.errors import MechscopeError
from mechscope.models.base import Model


class SaeSite(Enum):
    """Activations an SAE (or a transcoder's input / output) reads, by layer.

    ``mlp_in`` is what the MLP reads (after ``ln2``), ``mlp_out`` what it writes; the
    residual stream is read before the block, between attention and MLP, or after it.
    """

    RESID_PRE = "resid_pre"
    RESID_MID = "resid_mid"
    RESID_POST = "resid_post"
    ATTN_OUT = "attn_out"
    MLP_IN = "mlp_in"
    MLP_OUT = "mlp_out"

    def hook_name(self, layer: int) -> str:
        """The TransformerLens hook point of this site at ``layer``."""
        return f"blocks.{layer}.{_HOOKS[self]}"


_HOOKS = {
    SaeSite.RESID_PRE: "hook_resid_pre",
    SaeSite.RESID_MID: "hook_resid_mid",
    SaeSite.RESID_POST: "hook_resid_post",
    SaeSite.ATTN_OUT: "hook_attn_out",
    SaeSite.MLP_IN: "ln2.hook_normalized",
    SaeSite.MLP_OUT: "hook_mlp_out",
}


def site_hook(model: Model, site: SaeSite | str, layer: int) -> str:
    """The hook point of ``site`` at ``layer``, checked against ``model``.

    Raises:
        MechscopeError: an unknown site, a layer out of range, or a site the model lacks
            (an attention-only model has no MLP sites).
    """
    try:
        site = SaeSite(site)
    except ValueError:
        raise MechscopeError(
            f"unknown site {site!r}; choose one of {', '.join(s.value for s in SaeSite)}."
        ) from None
    n_layers = model.cfg.n_layers
    if not 0 <= layer < n_layers:
        raise MechscopeError(
            f"layer {layer} is out of range: the model has layers 0-{n_layers - 1}."
        )
    name = site.hook_name(layer)
    if not _has(model, site, layer):
        why = " (an attention-only model has no MLP)" if model.cfg.attn_only else ""
        raise MechscopeError(
            f"the model has no site {site.value} at layer {layer}{why}; choose one of "
            f"{', '.join(s.value for s in SaeSite if _has(model, s, layer))}."
        )
    return name


def _has(model: Model, site: SaeSite, layer: int) -> bool:
    mlp = site in (SaeSite.MLP_IN, SaeSite.MLP_OUT)
    return site.hook_name(layer) in model.hook_dict and not (mlp and model.cfg.attn_only)
