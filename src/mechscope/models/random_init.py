"""A random-init copy of a model: the same shape and tokenizer, untrained weights.

The baseline of representation probes (Hewitt & Manning 2019; Tenney et al. 2019 report it
too): what a probe reads from the architecture and the input alone. Weights are drawn as
BERT and GPT-2 initialise them: matrices and embeddings from N(0, 0.02^2), biases zero, norm
scales one and norm biases zero.
"""

import copy

import torch

from mechscope.core.errors import MechscopeError
from mechscope.models.adapter import SPEC_ATTRIBUTE, model_spec
from mechscope.models.base import Model
from mechscope.models.bridge import is_bridge
from mechscope.models.vit import HookedViT

INIT_STD = 0.02


@torch.no_grad()
def random_like(model: Model, *, seed: int = 0) -> Model:
    """A model of ``model``'s class and config with freshly drawn weights (see the module)."""
    if is_bridge(model):
        raise MechscopeError(
            "random-init copies are drawn for the hooked backend's models; load the model "
            "with backend='hooked' (--backend hooked) for a random-init control."
        )
    cfg = copy.deepcopy(model.cfg)
    generator = torch.Generator().manual_seed(seed)
    if isinstance(model, HookedViT):  # built from its own config, not a tokenizer
        fresh: Model = HookedViT(model.vit_cfg)
    else:
        fresh = type(model)(cfg, tokenizer=model.tokenizer, move_to_device=False)
    for module in fresh.modules():
        norm = "Norm" in type(module).__name__
        for name, param in module.named_parameters(recurse=False):
            if norm:
                param.fill_(1.0 if name == "w" else 0.0)
            elif param.dim() >= 2:
                param.copy_(torch.randn(param.shape, generator=generator) * INIT_STD)
            else:
                param.zero_()
    fresh.to(model.cfg.device or "cpu")
    setattr(fresh, SPEC_ATTRIBUTE, f"random-init({model_spec(model)}, seed={seed})")
    return fresh.eval()
