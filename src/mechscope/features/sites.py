"""Where a sparse autoencoder reads: a site of the model (a hook point at one layer)."""

from typing import TYPE_CHECKING

from mechscope.core.errors import MechscopeError
from mechscope.core.sites import Component, hook_name
from mechscope.features.config import SaeSite

if TYPE_CHECKING:
    from mechscope.models.base import Model


def site_hook(model: "Model", site: SaeSite | str, layer: int) -> str:
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
    if site is SaeSite.MLP_IN and not model.cfg.attn_only:
        return mlp_input_hook(model, layer)
    if not _has(model, site, layer):
        why = " (an attention-only model has no MLP)" if model.cfg.attn_only else ""
        raise MechscopeError(
            f"the model has no site {site.value} at layer {layer}{why}; choose one of "
            f"{', '.join(s.value for s in SaeSite if _has(model, s, layer))}."
        )
    return name


def _has(model: "Model", site: SaeSite, layer: int) -> bool:
    mlp = site in (SaeSite.MLP_IN, SaeSite.MLP_OUT)
    return site.hook_name(layer) in model.hook_dict and not (mlp and model.cfg.attn_only)


def mlp_input_hook(model: "Model", layer: int) -> str:
    """What the MLP at ``layer`` reads: after ``ln2`` (pre-norm), after ``ln1`` (post-norm)."""
    from mechscope.models.adapter import adapt

    component = Component.LN1_NORMALIZED if adapt(model).post_norm else Component.LN2_NORMALIZED
    return hook_name(component, layer)


def site_width(model: "Model", hook: str) -> int:
    """The width of the activations at ``hook``.

    A head's for a per-head site, else the residual stream's (every `SaeSite` is as wide as
    the stream).
    """
    if hook.endswith(Component.Z.value):
        return int(model.cfg.d_head)
    return int(model.cfg.d_model)
