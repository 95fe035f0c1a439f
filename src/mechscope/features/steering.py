"""Steering: add features' decoder directions at a layer and see what the model then says.

`steer` runs a prompt with the SAE spliced in and a `FeatureEdit` applied (adding to a
feature steers along its decoder direction, with the SAE's error term kept so nothing else
changes), and reports the next-token distribution before and after (probabilities, the
tokens that gained and lost most) and a greedy continuation of each.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from mechscope.features.splicing import FeatureEdit, splice
from mechscope.models.adapter import adapt
from mechscope.models.base import Decoder, Model
from mechscope.models.tokens import str_tokens

if TYPE_CHECKING:
    from sae_lens import SAE


@dataclass(frozen=True)
class Steering:
    """A prompt's next token and greedy continuation, clean and steered."""

    prompt: str
    clean_probs: Tensor
    """Next-token probabilities without the edit, ``[d_vocab]``."""
    steered_probs: Tensor
    clean_continuation: str
    steered_continuation: str
    gained: list[tuple[str, float]]
    """The tokens whose probability rose most, with the rise."""
    lost: list[tuple[str, float]]

    def kl(self) -> float:
        """KL(steered || clean) of the next-token distributions, in nats."""
        steered, clean = self.steered_probs.clamp_min(1e-12), self.clean_probs.clamp_min(1e-12)
        return float((steered * (steered.log() - clean.log())).sum())


@torch.no_grad()
def _greedy(model: Decoder, tokens: Tensor, n_tokens: int) -> Tensor:
    for _ in range(n_tokens):
        next_id = model(tokens)[:, -1].argmax(-1, keepdim=True)
        tokens = torch.cat([tokens, next_id], dim=1)
    return tokens


@torch.no_grad()
def steer(
    model: Model,
    sae: "SAE[Any]",
    hook: str,
    prompt: str,
    edits: Sequence[FeatureEdit],
    *,
    n_tokens: int = 10,
    top: int = 5,
) -> Steering:
    """The next-token distribution and a greedy continuation, clean and with ``edits``."""
    decoder = adapt(model).decoder("steering")
    tokens = decoder.to_tokens(prompt)
    length = tokens.shape[1]
    clean = decoder(tokens)[0, -1].softmax(-1)
    clean_out = _greedy(decoder, tokens, n_tokens)
    with splice(model, sae, hook, edits):
        steered = decoder(tokens)[0, -1].softmax(-1)
        steered_out = _greedy(decoder, tokens, n_tokens)
    change = steered - clean

    def named(values: Tensor, ids: Tensor) -> list[tuple[str, float]]:
        texts = str_tokens(model, ids.tolist())
        return [(t, float(v)) for t, v in zip(texts, values.tolist(), strict=True)]

    up, lost = change.topk(top), (-change).topk(top)
    return Steering(
        prompt=prompt, clean_probs=clean.cpu(), steered_probs=steered.cpu(),
        clean_continuation="".join(str_tokens(model, clean_out[0, length:].tolist())),
        steered_continuation="".join(str_tokens(model, steered_out[0, length:].tolist())),
        gained=named(up.values, up.indices), lost=named(-lost.values, lost.indices),
    )  # fmt: skip
