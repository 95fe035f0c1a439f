"""Parity with Hugging Face: does mechscope's conversion compute what the original computes?

Compares the TransformerLens model loaded by `load_model` with the Hugging Face model loaded
from the same directory, on the same tokens: logits for models with an LM head, the final
hidden states for encoders without one (sentence embedders such as all-MiniLM-L6-v2).
"""

from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import torch

from mechscope.core.batch import TokenBatch, pad_token_lists
from mechscope.models.base import Model, has_lm_head
from mechscope.models.hf_dir import load_hf_reference
from mechscope.models.legacy import HookedEncoder
from mechscope.models.tokens import tokenize

SAMPLE_TEXT = "Interpretability starts with a model we can trust, token by token."


class Quantity(Enum):
    """What a parity check compared."""

    LOGITS = "logits"
    HIDDEN_STATES = "final hidden states"


@dataclass(frozen=True)
class ParityReport:
    """Largest absolute difference between mechscope's and Hugging Face's outputs."""

    quantity: Quantity
    max_abs_diff: float
    n_tokens: int

    def passed(self, tolerance: float) -> bool:
        """Whether the difference is within ``tolerance`` (and not NaN)."""
        return self.max_abs_diff <= tolerance


@torch.no_grad()
def compare_with_hf(path: str | Path) -> ParityReport:
    """Load ``path`` both ways and compare outputs on a sample sentence (or random ids)."""
    from mechscope.models import load_model

    path = Path(path)
    model = load_model(path, device="cpu")
    reference = load_hf_reference(path)
    batch = sample_batch(model)
    if isinstance(model, HookedEncoder):
        ours_hidden = model.encoder_output(batch.tokens, None, batch.attention_mask)
        hf_out = reference(input_ids=batch.tokens, attention_mask=batch.attention_mask)
        if has_lm_head(model):
            ours = model.unembed(model.mlm_head(ours_hidden))
            return _report(Quantity.LOGITS, ours, hf_out.prediction_logits, batch)
        bert: Any = reference.bert
        hf_hidden = bert(input_ids=batch.tokens, attention_mask=batch.attention_mask)
        hf_hidden = hf_hidden.last_hidden_state
        return _report(Quantity.HIDDEN_STATES, ours_hidden, hf_hidden, batch)
    ours = model(batch.tokens, attention_mask=batch.attention_mask)
    theirs = reference(input_ids=batch.tokens, attention_mask=batch.attention_mask).logits
    return _report(Quantity.LOGITS, ours, theirs, batch)


@torch.no_grad()
def compare_smollm() -> ParityReport:
    """SmolLM2 loaded by mechscope (the cached conversion) vs Hugging Face from the GGUF."""
    from mechscope.models import load_model
    from mechscope.models.smollm import SMOLLM2, load_hf_smollm

    model = load_model(SMOLLM2, device="cpu")
    reference, _ = load_hf_smollm(tokenizer=False)
    batch = sample_batch(model)
    ours = model(batch.tokens, attention_mask=batch.attention_mask)
    theirs = reference(input_ids=batch.tokens, attention_mask=batch.attention_mask).logits
    return _report(Quantity.LOGITS, ours, theirs, batch)


def sample_batch(model: Model) -> TokenBatch:
    """The sample sentence through the model's tokenizer, or 32 seeded random ids without one."""
    if model.tokenizer is not None:
        return tokenize(model, SAMPLE_TEXT)
    generator = torch.Generator().manual_seed(0)
    length = min(32, model.cfg.n_ctx)
    ids = torch.randint(0, model.cfg.d_vocab, (length,), generator=generator)
    return pad_token_lists([ids.tolist()], pad_id=0)


def _report(
    quantity: Quantity, ours: torch.Tensor, theirs: torch.Tensor, batch: TokenBatch
) -> ParityReport:
    real = batch.attention_mask.bool()
    diff = (ours[real] - theirs[real]).abs().max().item()
    return ParityReport(quantity, float(diff), int(real.sum()))
