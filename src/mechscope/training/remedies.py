"""The remedies a recipe switches on (`RemedyOptions`), applied while a model trains.

The diagnostics find attention-entropy collapse, unstable gradients, over-fitting and
representation degeneration; these are the fixes the literature proposes for them. Each
works through the model's hooks or its config, so the trained model stays a plain
HookedTransformer (or HookedViT) that every analysis reads:

- **In the architecture** (the model's config): ALiBi positions, local attention windows and
  QK-norm are TransformerLens options (`mechscope.training.loop.model_config`).
- **A different function, folded in when saved**: a softmax temperature (fixed or learned per
  head) divides each head's queries; sigma-reparam (Zhai et al. 2023) rescales W_Q and W_K to
  ``gamma / sigma_max(W) x W``. Both act on ``hook_q``/``hook_k`` while training and are folded
  into W_Q, b_Q and W_K in the checkpoint's weights (`Remedies.folded`), so the saved model
  computes what the trained one did (to float rounding). The raw weights and the learned
  temperatures and gammas are saved beside the optimiser state, so a resumed run is
  bit-identical.
- **Training only**: dropout on the attention pattern and on each block's attention and MLP
  output (masks drawn from a generator seeded by the step), the entropy regulariser
  (``weight x mean over heads of max(0, floor - H)``, H a head's mean entropy over the batch's
  queries that see at least two keys) and the redundancy regulariser (the mean squared
  off-diagonal correlation of one block's output features over the batch's tokens: Barlow
  Twins' redundancy term, Zbontar et al. 2021, without the invariance term, which needs two
  views).
- **At initialisation and in the schedule**: every weight matrix scaled by ``init_scale``
  (W_O and W_out also by ``1 / sqrt(2 n_layers)`` with ``depth_scaled_init``), and a cosine
  learning-rate decay after warm-up (`learning_rate`).
"""

import copy
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor, nn
from transformer_lens.hook_points import HookPoint

from mechscope.core.sites import Component, hook_name
from mechscope.models.base import Model
from mechscope.training.batches import step_generator
from mechscope.training.config import RemedyOptions

DROPOUT_SALT = 7_919
"""Offsets the dropout generator's seed from the batch generator's (`step_generator`)."""


def scale_initial_weights(model: nn.Module, cfg: RemedyOptions, n_layers: int) -> None:
    """``init_scale`` on every weight matrix; ``depth_scaled_init`` on W_O and W_out too."""
    depth = 1 / math.sqrt(2 * n_layers) if cfg.depth_scaled_init else 1.0
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.ndim < 2:  # biases and norm gains keep their init
                continue
            scale = cfg.init_scale
            if name.endswith(("W_O", "W_out")):
                scale *= depth
            if scale != 1.0:
                param.mul_(scale)


def attention_entropy(
    pattern: Float[Tensor, "batch head dest_pos src_pos"], causal: bool
) -> Float[Tensor, " head"]:
    """Each head's mean entropy (nats) over the batch's queries that see two keys or more."""
    entropy = -(pattern * pattern.clamp_min(1e-12).log()).sum(-1)
    if causal:
        entropy = entropy[..., 1:]  # the first query sees only itself
    return entropy.mean((0, 2))


def redundancy(features: Float[Tensor, "batch d_model"]) -> Float[Tensor, ""]:
    """Mean squared off-diagonal correlation between the features over the batch."""
    centred = features - features.mean(0)
    standard = centred / (centred.pow(2).mean(0) + 1e-5).sqrt()
    corr = standard.T @ standard / features.shape[0]
    d = corr.shape[0]
    off = corr - torch.diag_embed(corr.diagonal())
    return off.pow(2).sum() / (d * (d - 1))


@dataclass
class Captured:
    """What the hooks of one training forward pass kept for the regularisers."""

    patterns: list[Tensor] = field(default_factory=list)
    features: list[Tensor] = field(default_factory=list)


class Remedies(nn.Module):
    """The learned parameters and the hooks of a recipe's remedies, for one model.

    Its parameters (per-head log temperatures, sigma-reparam gammas) train with the model's.
    """

    def __init__(self, cfg: RemedyOptions, n_layers: int, n_heads: int, seed: int) -> None:
        super().__init__()
        self.cfg, self.n_layers, self.seed = cfg, n_layers, seed
        log_t = torch.full((n_layers, n_heads), math.log(cfg.attn_temperature))
        if cfg.learned_temperature:
            self.log_temperature = nn.Parameter(log_t)
        else:
            self.register_buffer("log_temperature", log_t)
        if cfg.sigma_reparam:
            self.gamma_q = nn.Parameter(torch.ones(n_layers))
            self.gamma_k = nn.Parameter(torch.ones(n_layers))

    @property
    def folds(self) -> bool:
        """Whether the saved weights differ from the trained parameters (folding)."""
        c = self.cfg
        return c.learned_temperature or c.sigma_reparam or c.attn_temperature != 1.0

    @property
    def active(self) -> bool:
        """Whether any remedy acts on the forward pass or the loss."""
        c = self.cfg
        return self.folds or any((c.attn_dropout, c.resid_dropout, c.entropy_weight,
                                  c.redundancy_weight))  # fmt: skip

    def _query_scale(self, model: Model, layer: int) -> tuple[Tensor, Tensor]:
        """The factors on (W_Q[layer] per head, b_Q[layer] per head): sigma x 1/T."""
        inv_t = (-self.log_temperature[layer]).exp()
        weight = inv_t * self._sigma_factor(model, layer, "q")
        return weight, inv_t

    def _sigma_factor(self, model: Model, layer: int, which: str) -> Tensor:
        if not self.cfg.sigma_reparam:
            return torch.ones(())
        attn = model.blocks[layer].attn
        w = attn.W_Q if which == "q" else attn.W_K
        sigma = torch.linalg.matrix_norm(w.permute(1, 0, 2).flatten(1), ord=2)
        gamma = self.gamma_q if which == "q" else self.gamma_k
        return gamma[layer] / sigma

    def _function_hooks(self, model: Model) -> list[tuple[str, Callable[..., Tensor]]]:
        if not self.folds:
            return []

        def on_q(q: Tensor, hook: HookPoint) -> Tensor:
            layer = hook.layer()
            b = model.blocks[layer].attn.b_Q
            weight, bias = self._query_scale(model, layer)
            return (q - b) * weight[:, None] + b * bias[:, None]

        def on_k(k: Tensor, hook: HookPoint) -> Tensor:
            layer = hook.layer()
            b = model.blocks[layer].attn.b_K
            return (k - b) * self._sigma_factor(model, layer, "k") + b

        hooks: list[tuple[str, Callable[..., Tensor]]] = []
        for layer in range(self.n_layers):
            hooks.append((hook_name(Component.Q, layer), on_q))
            if self.cfg.sigma_reparam:
                hooks.append((hook_name(Component.K, layer), on_k))
        return hooks

    def _training_hooks(
        self, model: Model, step: int, captured: Captured
    ) -> list[tuple[str, Callable[..., Tensor | None]]]:
        c = self.cfg
        generator = step_generator(self.seed, step + DROPOUT_SALT)
        causal = model.cfg.attention_dir == "causal"

        def dropout(p: float) -> Callable[..., Tensor]:
            def apply(x: Tensor, hook: HookPoint) -> Tensor:  # noqa: ARG001
                keep = torch.rand(x.shape, generator=generator) >= p
                return x * keep.to(x.device) / (1 - p)

            return apply

        def keep_pattern(pattern: Tensor, hook: HookPoint) -> None:  # noqa: ARG001
            captured.patterns.append(attention_entropy(pattern, causal))

        def keep_features(resid: Tensor, hook: HookPoint) -> None:  # noqa: ARG001
            captured.features.append(resid.flatten(0, -2))

        hooks: list[tuple[str, Callable[..., Tensor | None]]] = []
        for layer in range(self.n_layers):
            if c.entropy_weight:
                hooks.append((hook_name(Component.PATTERN, layer), keep_pattern))
            if c.attn_dropout:
                hooks.append((hook_name(Component.PATTERN, layer), dropout(c.attn_dropout)))
            if c.resid_dropout:
                for component in (Component.ATTN_OUT, Component.MLP_OUT):
                    if component is Component.ATTN_OUT or not model.cfg.attn_only:
                        hooks.append((hook_name(component, layer), dropout(c.resid_dropout)))
        if c.redundancy_weight:
            layer = c.redundancy_layer % self.n_layers
            hooks.append((hook_name(Component.RESID_POST, layer), keep_features))
        return hooks

    @contextmanager
    def applied(self, model: Model, step: int | None) -> Iterator[Captured]:
        """The remedies on ``model`` inside the block, removed after it (however it exits).

        ``step``: a training step (dropout with that step's masks, and the regularisers'
        inputs kept in the yielded `Captured`); None: evaluation (only what changes the
        function the model computes: temperature and sigma-reparam).
        """
        captured = Captured()
        hooks: list[tuple[str | Any, Any]] = list(self._function_hooks(model))
        if step is not None:
            hooks += self._training_hooks(model, step, captured)
        if not hooks:
            yield captured
            return
        with model.hooks(fwd_hooks=hooks):
            yield captured

    def penalty(self, captured: Captured) -> Tensor:
        """The regularisers' part of the training loss, from one forward pass's captures."""
        c = self.cfg
        total = torch.zeros(())
        if captured.patterns:
            entropy = torch.stack(captured.patterns)  # layer head
            total = total + c.entropy_weight * (c.entropy_floor - entropy).clamp_min(0).mean()
        if captured.features:
            total = total + c.redundancy_weight * redundancy(captured.features[0])
        return total

    @torch.no_grad()
    def folded(self, model: Model) -> Model:
        """A copy of ``model`` with the temperatures and sigma-reparam in its weights."""
        if not self.folds:
            return model
        out = copy.deepcopy(model)
        for layer in range(self.n_layers):
            weight, bias = self._query_scale(model, layer)
            attn = out.blocks[layer].attn
            attn.W_Q.mul_(weight.reshape(-1, 1, 1))
            attn.b_Q.mul_(bias[:, None])
            attn.W_K.mul_(self._sigma_factor(model, layer, "k"))
        return out

    def summary(self) -> dict[str, Any]:
        """The learned values now (JSON-ready): per-head temperatures, gammas."""
        out: dict[str, Any] = {}
        if self.cfg.learned_temperature:
            out["temperature"] = self.log_temperature.detach().exp().tolist()
        if self.cfg.sigma_reparam:
            out["gamma_q"] = self.gamma_q.detach().tolist()
            out["gamma_k"] = self.gamma_k.detach().tolist()
        return out
