import pytest

from mechscope.core.sites import Component, Site, hook_names

FAMILY_SPECIFIC = {
    Component.NORMALIZED_RESID_POST,  # post-norm blocks (encoders)
    Component.LN1_SCALE,
    Component.LN2_SCALE,
    Component.MLP_IN,
    Component.LN2_NORMALIZED,  # a block with an MLP (the tiny decoder is attention-only)
}
ROTARY = {Component.ROT_Q, Component.ROT_K}


def test_rotary_hook_names_exist_on_a_rotary_model(hf_dirs):
    from mechscope.models import load_model

    model = load_model(hf_dirs["llama"])
    for component in ROTARY:
        assert hook_names(component, model.cfg.n_layers)[-1] in model.hook_dict


"""Hooks of some block designs only; each still exists on one of the test models."""


def test_hook_names_exist_on_decoder_and_encoder(tiny_decoder, tiny_encoder):
    per_layer = [c for c in Component if c.per_layer]
    models = (tiny_decoder, tiny_encoder)
    for model in models:
        for component in per_layer:
            if component in (Component.RESID_MID, Component.MLP_OUT) and model.cfg.attn_only:
                continue
            if component in FAMILY_SPECIFIC or component in ROTARY:
                continue
            for name in hook_names(component, model.cfg.n_layers):
                assert name in model.hook_dict, name
    for component in FAMILY_SPECIFIC:
        assert any(hook_names(component, 1)[0] in m.hook_dict for m in models), component
    outside = [c for c in Component if not c.per_layer]
    for component in outside:
        assert any(Site(component).hook_name in m.hook_dict for m in models), component
    assert Site(Component.EMBED).hook_name == "hook_embed"
    assert Site(Component.PATTERN, 1).hook_name == "blocks.1.attn.hook_pattern"


def test_site_validation():
    with pytest.raises(ValueError, match="needs a layer"):
        Site(Component.RESID_PRE)
    with pytest.raises(ValueError, match="no head axis"):
        Site(Component.RESID_PRE, 0, head=1)
    assert Site(Component.Z, 0, head=1).head == 1
