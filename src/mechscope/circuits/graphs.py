"""The replacement model of one prompt, and every node's exact direct effect on a logit.

Following Ameisen et al. 2025 ("Circuit Tracing"): for one prompt, every MLP is read through
its transcoder (features in place of the MLP, plus an *error node*, what the transcoder
misses at each position), and every attention pattern and normalisation scale is frozen at
its value in the real forward pass. The replacement model then gives exactly the real
model's output on that prompt (tested to float tolerance), and the logits are linear in its
*nodes*: the embeddings at each position, every feature's activation at each (layer,
position) and every error node. Each node's direct effect on a target logit is its value
times the gradient there, all from one backward pass, and they add up to the logit:

    logit = bias + sum over nodes of effect

with ``bias`` the logit of the replacement model with every node set to zero (the
attention, transcoder, normalisation and unembedding biases), so completeness is exact.
An MLP without a transcoder is one error node per position. Edges between nodes, the pruned
graph and its checks against the real model are `mechscope.circuits.tracing`.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens.hook_points import HookPoint

from mechscope.core.errors import MechscopeError
from mechscope.core.results import Provenance, Result
from mechscope.core.sites import Component, hook_name
from mechscope.features.transcoders import mlp_hooks
from mechscope.models.adapter import adapt, model_spec
from mechscope.models.base import Decoder, Model
from mechscope.models.run import keyed_hooks
from mechscope.models.tokens import str_tokens

if TYPE_CHECKING:
    from sae_lens import Transcoder


def _frozen_hooks(model: Decoder) -> list[str]:
    """Every attention pattern and normalisation scale of the model."""
    names = [hook_name(Component.PATTERN, layer) for layer in range(model.cfg.n_layers)]
    every = model.hook_dict
    for layer in range(model.cfg.n_layers):
        for component in (Component.LN1_SCALE, Component.LN2_SCALE):
            name = hook_name(component, layer)
            if name in every:
                names.append(name)
    if hook_name(Component.LN_FINAL_SCALE) in every:
        names.append(hook_name(Component.LN_FINAL_SCALE))
    return names


@dataclass
class Replacement:
    """One prompt's replacement model: the frozen values and the nodes (module docstring)."""

    model: Decoder
    tokens: Int[Tensor, " pos"]
    frozen: dict[str, Tensor]
    embeddings: Float[Tensor, "pos d_model"]
    features: dict[int, Float[Tensor, "pos feature"]]
    errors: dict[int, Float[Tensor, "pos d_model"]]
    transcoders: Mapping[int, "Transcoder"]
    logits: Float[Tensor, "pos d_vocab"]
    """The real model's logits on the prompt."""
    bos_zeroed: bool = False
    """The first position's features were zeroed (into its error nodes): a BOS token."""

    @classmethod
    @torch.no_grad()
    def of(cls, model: Model, transcoders: Mapping[int, "Transcoder"], tokens: Tensor, *,
           skip_bos: bool = True) -> "Replacement":  # fmt: skip
        """Run ``tokens`` (one prompt) through the real model and read every node.

        ``skip_bos``: when the model puts a BOS token first, its features are set to zero and
        the whole MLP output there is its error node, as circuit-tracer does (transcoders are
        trained without that position, whose activations are outliers every prompt shares).

        Raises:
            MechscopeError: an encoder, a model without MLPs, a transcoder of another width or
                layer out of range, or a prompt longer than the context.
        """
        decoder = adapt(model).decoder("attribution graphs (they read a decoder's logits)")
        if decoder.cfg.attn_only:
            raise MechscopeError("attribution graphs read MLPs through transcoders, and this "
                                 "model is attention-only.")  # fmt: skip
        if tokens.ndim != 1 or len(tokens) > decoder.cfg.n_ctx:
            raise MechscopeError(f"give one prompt of at most {decoder.cfg.n_ctx} tokens.")
        for layer, transcoder in transcoders.items():
            mlp_hooks(decoder, layer)  # the layer is in range
            if transcoder.cfg.d_in != decoder.cfg.d_model:
                raise MechscopeError(f"the transcoder of layer {layer} reads width "
                                     f"{transcoder.cfg.d_in}, the model's stream is "
                                     f"{decoder.cfg.d_model}: another model's.")  # fmt: skip
        reads = {layer: mlp_hooks(decoder, layer) for layer in range(decoder.cfg.n_layers)}
        bos_zeroed = skip_bos and bool(decoder.cfg.default_prepend_bos)
        names = [*_frozen_hooks(decoder), hook_name(Component.RESID_PRE, 0),
                 *(name for pair in reads.values() for name in pair)]  # fmt: skip
        logits, cache = decoder.run_with_cache(tokens[None], names_filter=names)
        frozen = {name: cache[name] for name in _frozen_hooks(decoder)}
        features, errors = {}, {}
        for layer, (read, write) in reads.items():
            transcoder = transcoders.get(layer)
            out = cache[write][0]
            if transcoder is None:
                errors[layer] = out.clone()
                continue
            acts = transcoder.encode(cache[read][0].to(transcoder.dtype))
            if bos_zeroed:
                acts[0] = 0.0
            features[layer] = acts.float()
            errors[layer] = out - transcoder.decode(acts).to(out.dtype)
        return cls(decoder, tokens, frozen, cache[hook_name(Component.RESID_PRE, 0)][0],
                   features, errors, dict(transcoders), logits[0], bos_zeroed)  # fmt: skip

    def forward(
        self,
        embeddings: Tensor,
        features: Mapping[int, Tensor],
        errors: Mapping[int, Tensor],
    ) -> Float[Tensor, "pos d_vocab"]:
        """The replacement model's logits with the given node values (linear in them)."""
        return self.run(embeddings[None], {k: v[None] for k, v in features.items()},
                        {k: v[None] for k, v in errors.items()})[0][0]  # fmt: skip

    def run(
        self,
        embeddings: Float[Tensor, "batch pos d_model"],
        features: Mapping[int, Tensor],
        errors: Mapping[int, Tensor],
        capture: Sequence[str] = (),
    ) -> tuple[Float[Tensor, "batch pos d_vocab"], dict[str, Tensor]]:
        """A batch of replacement runs of the prompt, each with its own node values.

        ``features[layer]`` is ``[batch, pos, feature]`` and ``errors[layer]`` ``[batch, pos,
        d_model]``; the activations at ``capture`` (hook names) come back by name, as the
        batched backward passes of the attribution graph read them.
        """
        return self.run_with(embeddings, errors, lambda layer, _: features.get(layer), capture)

    def run_with(
        self,
        embeddings: Float[Tensor, "batch pos d_model"],
        errors: Mapping[int, Tensor],
        features_at: Callable[[int, dict[str, Tensor]], Tensor | None],
        capture: Sequence[str] = (),
    ) -> tuple[Float[Tensor, "batch pos d_vocab"], dict[str, Tensor]]:
        """`run` with each layer's features given when its MLP writes.

        ``features_at(layer, seen)``: the features its transcoder decodes (None: the error
        nodes alone), from the activations captured so far in this run (``seen``, by hook
        name; what ``capture`` names), so that features can be recomputed from the stream.
        """
        batch = embeddings.shape[0]
        seen: dict[str, Tensor] = {}

        def frozen(act: Tensor, name: str) -> Tensor:  # noqa: ARG001
            value = self.frozen[name].detach()
            return value.expand(batch, *value.shape[1:])

        def embed(act: Tensor, hook: HookPoint) -> Tensor:  # noqa: ARG001
            return embeddings

        def read(act: Tensor, name: str) -> Tensor:
            seen[name] = act
            return act  # the pass goes on from it (on the Bridge too)

        def mlp_out(layer: int) -> Any:  # noqa: ANN401
            def hook(act: Tensor, hook: HookPoint) -> Tensor:  # noqa: ARG001
                out = errors[layer]
                features = features_at(layer, seen) if layer in self.transcoders else None
                if features is not None:
                    transcoder = self.transcoders[layer]
                    decoded = transcoder.decode(features.to(transcoder.dtype))
                    out = out + decoded.to(act.dtype)
                return out

            return hook

        hooks = keyed_hooks(list(self.frozen), frozen)
        hooks.append((hook_name(Component.RESID_PRE, 0), embed))
        hooks += keyed_hooks(capture, read)
        hooks += [(hook_name(Component.MLP_OUT, layer), mlp_out(layer))
                  for layer in range(self.model.cfg.n_layers)]  # fmt: skip
        with self.model.hooks(fwd_hooks=hooks):  # pyright: ignore[reportArgumentType]
            logits = self.model(self.tokens[None].expand(batch, -1))
        return logits, seen

    def logit_effects(self, target: int, position: int = -1) -> "LogitAttribution":
        """Every node's direct effect on logit ``target`` at ``position`` (module docstring)."""
        # The target's row of the attribution graph (`tracing`: one backward pass), in the
        # order embeddings, features, error nodes.
        from mechscope.circuits.tracing import Target, _nodes, _Rows

        nodes = _nodes(self)
        rows_of = _Rows(self, nodes, Target(target, position=position))
        row, logit = rows_of([nodes.target])
        bias = float(rows_of.bias([nodes.target])[0])
        order = [*range(nodes.embedding(0), nodes.target), *range(nodes.embedding(0))]
        names = [nodes.name(i) for i in order]
        effects, values = row[0, order], nodes.values[order]
        labels = str_tokens(self.model, self.tokens.tolist())
        return LogitAttribution(
            labels, str_tokens(self.model, [target])[0], float(logit[0]), bias, names, effects,
            values,
            provenance=Provenance(config={"target": target, "position": position,
                                          "transcoders": sorted(self.transcoders)},
                                  model=model_spec(self.model)),
        )  # fmt: skip


@dataclass(frozen=True)
class LogitAttribution(Result):
    """Every node's exact direct effect on one logit in a prompt's replacement model."""

    kind: ClassVar[str] = "logit-attribution"
    tokens: list[str]
    target: str
    logit: float
    bias: float
    """The logit with every node at zero (the biases' share)."""
    nodes: list[str]
    """``emb@POS``, ``fLAYER.FEATURE@POS`` (active features only), ``errLAYER@POS``."""
    effects: Float[Tensor, " node"]
    values: Float[Tensor, " node"]
    """A feature's activation; an embedding's or error node's norm."""

    def _summary(self) -> dict[str, Any]:
        return {
            "logit": self.logit,
            "completeness_gap": self.completeness_gap(),
            "error_share": self.error_share(),
            "top": self.top(8),
        }

    def completeness_gap(self) -> float:
        """|bias + sum of effects - logit| (float rounding only)."""
        return abs(self.bias + float(self.effects.double().sum()) - self.logit)

    def error_share(self) -> float:
        """The error nodes' share of the absolute effects (how much the transcoders miss)."""
        errors = torch.tensor([n.startswith("err") for n in self.nodes])
        total = float(self.effects.abs().sum())
        return float(self.effects[errors].abs().sum()) / total if total else float("nan")

    def top(self, n: int) -> list[tuple[str, float]]:
        """The ``n`` nodes with the largest absolute effects."""
        order = self.effects.abs().argsort(descending=True)[:n]
        return [(self.nodes[int(i)], float(self.effects[i])) for i in order]

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per node: name, value, effect."""
        import pandas as pd

        return pd.DataFrame({"node": self.nodes, "value": self.values.tolist(),
                             "effect": self.effects.tolist()})  # fmt: skip
