"""A 2-layer attention-only transformer whose weights are written by hand: known answers.

The residual stream is split into three one-hot blocks: the current token, the position,
and the previous token (written by layer 0). The heads:

- 0.0 previous-token head: the query of position ``d`` matches the key of ``d - 1``; it
  copies that token into the previous-token block (Elhage et al. 2021).
- 0.1 sink head: every query matches only the start token's key, whose value is zero, so
  the head rests on BOS and writes nothing there (a no-op, Clark et al. 2019). Elsewhere
  its value would copy the token, so the loss does depend on its attention off the sink.
- 1.0 induction head: the query (current token) matches keys whose previous-token block
  holds the same token (K-composition with 0.0) and copies the token after it, so on
  ``BOS r r`` it predicts the second copy.
- 1.1 idle head: all weights zero (uniform attention, no output).

Its tokenizer spells the ordinary tokens as the letters ``a``, ``b``, ... and BOS as
``<bos>`` (id ``n_tokens``), so prompts can be text: ``"abcdabcd"``. The unembedding reads
the current-token block.
"""

import string
import tempfile

import torch
from tokenizers import Tokenizer, models
from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from mechscope.core.axes import HeadId
from mechscope.models.base import quiet_transformer_lens
from mechscope.models.legacy import HookedTransformer, HookedTransformerConfig

PREVIOUS_TOKEN_HEAD = HeadId(0, 0)
SINK_HEAD = HeadId(0, 1)
INDUCTION_HEAD = HeadId(1, 0)
IDLE_HEAD = HeadId(1, 1)
SHARPNESS = 30.0
"""Attention logit of a matching key; others get 0, so a match takes ~all the mass."""


def letter_tokenizer(n_tokens: int, directory: str) -> PreTrainedTokenizerBase:
    """Letters ``a..`` as ids ``0..n_tokens-1`` and ``<bos>`` (also EOS and pad) as ``n_tokens``."""
    if not 1 <= n_tokens <= len(string.ascii_lowercase):
        raise ValueError(f"n_tokens must be 1..26 (one letter each), got {n_tokens}")
    vocab = {c: i for i, c in enumerate(string.ascii_lowercase[:n_tokens])} | {"<bos>": n_tokens}
    fast = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.BPE(vocab=vocab, merges=[])),
        bos_token="<bos>",
        eos_token="<bos>",
        pad_token="<bos>",
    )
    # TransformerLens re-loads a tokenizer from its directory, so it needs one on disk.
    fast.save_pretrained(directory)
    return AutoTokenizer.from_pretrained(directory, local_files_only=True)


def induction_circuit_model(n_tokens: int = 12, n_ctx: int = 32) -> HookedTransformer:
    """The hand-built model: ``n_tokens`` ordinary tokens plus BOS (id ``n_tokens``)."""
    vocab = n_tokens + 1
    tok, pos, prev = 0, vocab, vocab + n_ctx  # block offsets in the residual stream
    d_model = 2 * vocab + n_ctx
    d_head = max(n_ctx, vocab)
    cfg = HookedTransformerConfig(
        n_layers=2,
        n_heads=2,
        d_model=d_model,
        d_head=d_head,
        n_ctx=n_ctx,
        d_vocab=vocab,
        attn_only=True,
        normalization_type=None,
        act_fn="relu",
        default_prepend_bos=True,
        model_name="hand-built-induction",
    )
    with quiet_transformer_lens(), tempfile.TemporaryDirectory() as directory:
        model = HookedTransformer(cfg, tokenizer=letter_tokenizer(n_tokens, directory))
    scale = SHARPNESS * d_head**0.5  # TransformerLens divides scores by sqrt(d_head)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
        model.W_E[:, tok : tok + vocab] = torch.eye(vocab)
        model.W_pos[:, pos : pos + n_ctx] = torch.eye(n_ctx)
        tokens = torch.arange(n_tokens)
        # 0.0 previous-token: query(d) . key(s) = scale iff s + 1 = d; copies tok -> prev block.
        attn0 = model.blocks[0].attn
        positions = torch.arange(n_ctx - 1)
        attn0.W_Q[0, pos + positions + 1, positions + 1] = scale
        attn0.W_K[0, pos + positions, positions + 1] = 1.0
        attn0.W_V[0, tok + tokens, tokens] = 1.0
        attn0.W_O[0, tokens, prev + tokens] = 1.0
        # 0.1 sink: a constant query meets a key only BOS has; BOS's value is zero.
        attn0.b_Q[1, 0] = scale
        attn0.W_K[1, tok + n_tokens, 0] = 1.0
        attn0.W_V[1, tok + tokens, tokens] = 1.0
        attn0.W_O[1, tokens, tok + tokens] = 0.5
        # 1.0 induction: query(current token t) meets keys whose previous token is t.
        attn1 = model.blocks[1].attn
        attn1.W_Q[0, tok + tokens, tokens] = scale
        attn1.W_K[0, prev + tokens, tokens] = 1.0
        attn1.W_V[0, tok + tokens, tokens] = 1.0
        attn1.W_O[0, tokens, tok + tokens] = 4.0
        model.W_U[tok : tok + vocab, :] = torch.eye(vocab)
    return model
