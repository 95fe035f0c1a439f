"""Small random-init Hugging Face models of every family mechscope converts, saved to disk."""

from pathlib import Path

import torch
from transformers import (
    BertConfig,
    BertForMaskedLM,
    BertModel,
    GPT2Config,
    GPT2LMHeadModel,
    GPTNeoXConfig,
    GPTNeoXForCausalLM,
    LlamaConfig,
    LlamaForCausalLM,
)

VOCAB = 97
CTX = 64
BRIDGE_FAMILIES = ("gpt2", "neox", "llama-gqa")
"""The decoder families the Bridge backend is tested on."""


def build_hf_model(family: str, seed: int = 0) -> torch.nn.Module:
    """A random 2-layer model of ``family`` (gpt2, neox, llama, llama-gqa, bert, bert-base)."""
    torch.manual_seed(seed)
    if family == "gpt2":
        model = GPT2LMHeadModel(
            GPT2Config(vocab_size=VOCAB, n_positions=CTX, n_embd=64, n_layer=2, n_head=4)
        )
    elif family == "neox":
        model = GPTNeoXForCausalLM(
            GPTNeoXConfig(
                vocab_size=VOCAB,
                hidden_size=64,
                num_hidden_layers=2,
                num_attention_heads=4,
                intermediate_size=128,
                max_position_embeddings=CTX,
                rotary_pct=0.25,
                use_parallel_residual=True,
            )
        )
    elif family in ("llama", "llama-gqa"):
        model = LlamaForCausalLM(
            LlamaConfig(
                vocab_size=VOCAB,
                hidden_size=64,
                num_hidden_layers=2,
                num_attention_heads=4,
                num_key_value_heads=2 if family == "llama-gqa" else 4,
                intermediate_size=128,
                max_position_embeddings=CTX,
            )
        )
    elif family in ("bert", "bert-base"):
        config = BertConfig(
            vocab_size=VOCAB,
            hidden_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=128,
            max_position_embeddings=CTX,
        )
        model = BertForMaskedLM(config) if family == "bert" else BertModel(config)
    else:
        raise ValueError(family)
    # Random init leaves LayerNorms at identity; perturb every parameter so a swapped or
    # dropped weight cannot hide behind a 1 or a 0.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.eval()


def save_hf_model(family: str, directory: Path, seed: int = 0) -> torch.nn.Module:
    """Build and ``save_pretrained`` a random model; returns the HF model."""
    model = build_hf_model(family, seed)
    model.save_pretrained(directory)
    return model


def word_tokenizer(directory: Path, words: list[str], unk_token: str, **special: str):  # noqa: ANN201
    """A fast whitespace word-level tokenizer over ``words`` (ids in order), saved and reloaded.

    ``special``: bos_token, pad_token... as `PreTrainedTokenizerFast` takes them (each must be
    one of ``words``). TransformerLens wants a tokenizer that knows where it was loaded from.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token=unk_token))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=core, unk_token=unk_token,
                            **special).save_pretrained(directory)  # fmt: skip
    return AutoTokenizer.from_pretrained(directory)


def save_with_tokenizer(family: str, directory: Path, seed: int = 0) -> Path:
    """`save_hf_model` plus a word-level tokenizer (``w0``..., BOS ``w1``), as the Bridge wants."""
    save_hf_model(family, directory, seed)
    words = [f"w{i}" for i in range(VOCAB)]
    word_tokenizer(directory, words, unk_token="w0", bos_token="w1", eos_token="w2",
                   pad_token="w3")  # fmt: skip
    return directory
