"""Load a local Hugging Face model directory (config.json + weights + tokenizer), offline.

Supported families: GPT-2, GPT-NeoX (Pythia), Llama, and BERT (``BertModel``,
``BertForMaskedLM``, ``BertForPreTraining``). The Hugging Face model is loaded from the
directory with ``local_files_only=True``; its config is translated here and its weights with
TransformerLens's own per-family converters.

Why our own config translation: TransformerLens's ``convert_hf_model_config`` dispatches on
substrings of the model *name*, so a local path containing "llama" or "gemma" is misrouted,
and it does not accept ``BertModel`` checkpoints. The translation below follows its per-family
branches field for field.

BERT checkpoints without a masked-LM head (sentence embedders) load with NaN unembedding
weights, so logits are visibly meaningless (`mechscope.models.has_lm_head` says so) while
every activation before the head is exact.
"""

import json
from collections.abc import Iterable
from enum import Enum
from pathlib import Path
from typing import Any

import torch
from transformer_lens.utilities.hf_utils import get_rotary_pct_from_config

from mechscope.core.errors import ModelSpecError, UnsupportedArchitectureError
from mechscope.models.base import Model, quiet_transformer_lens
from mechscope.models.legacy import HookedEncoder, HookedTransformer, HookedTransformerConfig

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "vocab.txt")


class Family(Enum):
    """Architecture families a local directory can hold, keyed by HF ``model_type``."""

    GPT2 = "gpt2"
    NEOX = "gpt_neox"
    LLAMA = "llama"
    BERT = "bert"

    @property
    def is_encoder(self) -> bool:
        """Whether this family is a bidirectional encoder."""
        return self is Family.BERT


def read_family(path: Path) -> Family:
    """Read ``config.json`` in ``path`` and return its architecture family.

    Raises:
        ModelSpecError: no config.json, or one that is not JSON.
        UnsupportedArchitectureError: a ``model_type`` mechscope cannot convert.
    """
    config_file = path / "config.json"
    if not config_file.is_file():
        raise ModelSpecError(
            f"{path} has no config.json, so it is not a Hugging Face model directory. "
            "Save one with `model.save_pretrained(DIR)` (and `tokenizer.save_pretrained(DIR)`), "
            "or pass a TransformerLens model name such as 'gpt2-small'."
        )
    try:
        model_type = json.loads(config_file.read_text()).get("model_type")
    except json.JSONDecodeError as error:
        raise ModelSpecError(f"{config_file} is not valid JSON ({error}); re-save it.") from error
    try:
        return Family(model_type)
    except ValueError:
        supported = ", ".join(f.value for f in Family)
        raise UnsupportedArchitectureError(
            f"{path}: model_type {model_type!r} is not supported. mechscope converts local "
            f"directories of these families: {supported}. For other architectures load the model "
            "by its TransformerLens name (with network access) instead."
        ) from None


def tl_config_dict(hf_config: Any, family: Family) -> dict[str, Any]:
    """Translate a Hugging Face config into HookedTransformerConfig fields."""
    c = hf_config
    if family is Family.GPT2:
        d = {
            "d_model": c.n_embd,
            "d_head": c.n_embd // c.n_head,
            "n_heads": c.n_head,
            "d_mlp": c.n_inner or 4 * c.n_embd,
            "n_layers": c.n_layer,
            "n_ctx": c.n_positions,
            "eps": c.layer_norm_epsilon,
            "d_vocab": c.vocab_size,
            "act_fn": c.activation_function,
            "use_attn_scale": getattr(c, "scale_attn_weights", True),
            "scale_attn_by_inverse_layer_idx": c.scale_attn_by_inverse_layer_idx,
            "normalization_type": "LN",
            "original_architecture": "GPT2LMHeadModel",
        }
    elif family is Family.NEOX:
        d_head = c.hidden_size // c.num_attention_heads
        d = {
            "d_model": c.hidden_size,
            "d_head": d_head,
            "n_heads": c.num_attention_heads,
            "d_mlp": c.intermediate_size,
            "n_layers": c.num_hidden_layers,
            "n_ctx": c.max_position_embeddings,
            "eps": c.layer_norm_eps,
            "d_vocab": c.vocab_size,
            "act_fn": c.hidden_act,
            "parallel_attn_mlp": getattr(c, "use_parallel_residual", True),
            "positional_embedding_type": "rotary",
            "rotary_adjacent_pairs": False,
            "rotary_dim": round(get_rotary_pct_from_config(c) * d_head),
            "rotary_base": _rope_theta(c),
            "normalization_type": "LN",
            "default_prepend_bos": False,
            "original_architecture": "GPTNeoXForCausalLM",
        }
    elif family is Family.LLAMA:
        d_head = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
        n_kv = c.num_key_value_heads
        d = {
            "d_model": c.hidden_size,
            "d_head": d_head,
            "n_heads": c.num_attention_heads,
            "d_mlp": c.intermediate_size,
            "n_layers": c.num_hidden_layers,
            "n_ctx": c.max_position_embeddings,
            "eps": c.rms_norm_eps,
            "d_vocab": c.vocab_size,
            "act_fn": c.hidden_act,
            "n_key_value_heads": n_kv if n_kv != c.num_attention_heads else None,
            "normalization_type": "RMS",
            "positional_embedding_type": "rotary",
            "rotary_adjacent_pairs": False,
            "rotary_dim": d_head,
            "rotary_base": _rope_theta(c),
            "final_rms": True,
            "gated_mlp": True,
            "original_architecture": "LlamaForCausalLM",
        }
    else:
        d = {
            "d_model": c.hidden_size,
            "d_head": c.hidden_size // c.num_attention_heads,
            "n_heads": c.num_attention_heads,
            "d_mlp": c.intermediate_size,
            "n_layers": c.num_hidden_layers,
            "n_ctx": c.max_position_embeddings,
            "eps": c.layer_norm_eps,
            "d_vocab": c.vocab_size,
            "act_fn": "gelu",
            "attention_dir": "bidirectional",
            "original_architecture": "BertForMaskedLM",
        }
    return d


def _rope_theta(hf_config: Any) -> float:
    """rope_theta from either the transformers<5 attribute or the >=5 rope_parameters dict."""
    theta = getattr(hf_config, "rope_theta", None)
    if theta is None:
        theta = (getattr(hf_config, "rope_parameters", None) or {}).get("rope_theta", 10000.0)
    return float(theta)


def load_hf_reference(path: Path, dtype: torch.dtype = torch.float32) -> torch.nn.Module:
    """The Hugging Face model in ``path`` itself, eager attention, eval mode, no network.

    Causal families load as ``AutoModelForCausalLM``; BERT as ``BertForPreTraining`` so that
    TransformerLens's converter finds every submodule (missing heads are reported by
    `load_hf_dir` and filled with NaN).
    """
    from transformers import AutoModelForCausalLM, BertForPreTraining

    family = read_family(path)
    cls = BertForPreTraining if family.is_encoder else AutoModelForCausalLM
    with quiet_transformer_lens():
        model = cls.from_pretrained(
            path, local_files_only=True, dtype=dtype, attn_implementation="eager"
        )
    return model.eval()


def load_hf_dir(
    path: Path, device: torch.device, dtype: torch.dtype, process_weights: bool
) -> Model:
    """Load a local Hugging Face directory as a HookedTransformer or HookedEncoder.

    Called inside `load_model`, which silences TransformerLens's deprecation warning.
    """
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, BertForPreTraining

    family = read_family(path)
    hf_config = AutoConfig.from_pretrained(path, local_files_only=True)
    cfg_dict = tl_config_dict(hf_config, family)
    cfg_dict |= {
        "model_name": path.name,
        "init_weights": False,
        "device": str(device),
        "dtype": dtype,
    }
    tokenizer = None
    if any((path / name).is_file() for name in TOKENIZER_FILES):
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)

    if family.is_encoder:
        if process_weights:
            raise ModelSpecError(
                f"{path}: BERT is post-LayerNorm, so its LayerNorms cannot be folded; "
                "load it without process_weights."
            )
        hf_model, info = BertForPreTraining.from_pretrained(  # type: ignore[misc]
            path, local_files_only=True, dtype=dtype, output_loading_info=True
        )
        from transformer_lens.pretrained.weight_conversions import convert_bert_weights

        state_dict = convert_bert_weights(hf_model, HookedTransformerConfig(**cfg_dict))
        _poison_missing_heads(state_dict, info["missing_keys"])
        model: Model = HookedEncoder(cfg_dict, tokenizer=tokenizer, move_to_device=False)
        model.load_state_dict(state_dict, strict=False)
        return model

    hf_model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=dtype)
    return hooked_decoder(hf_model, family, cfg_dict, tokenizer, process_weights)


def hooked_decoder(
    hf_model: torch.nn.Module,
    family: Family,
    cfg_dict: dict[str, Any],
    tokenizer: Any,  # noqa: ANN401 - a Hugging Face tokenizer, or None
    process_weights: bool = False,
) -> HookedTransformer:
    """A HookedTransformer from a causal Hugging Face model, its weights converted as is.

    ``cfg_dict`` is the TransformerLens config (`tl_config_dict` plus overrides); with
    ``process_weights`` LayerNorm is folded and writing weights centred.
    """
    cfg_dict = dict(cfg_dict)
    if process_weights:
        cfg_dict["normalization_type"] += "Pre"
    cfg = HookedTransformerConfig(**cfg_dict)
    # imported here: transformer-lens 4 has no converters (and no HookedTransformer to fill)
    from transformer_lens.pretrained.weight_conversions import (
        convert_gpt2_weights,
        convert_llama_weights,
        convert_neox_weights,
    )

    converters = {
        Family.GPT2: convert_gpt2_weights,
        Family.NEOX: convert_neox_weights,
        Family.LLAMA: convert_llama_weights,
    }
    state_dict = converters[family](hf_model, cfg)
    model = HookedTransformer(cfg, tokenizer=tokenizer, move_to_device=False)
    model.load_and_process_state_dict(
        state_dict,
        fold_ln=process_weights,
        center_writing_weights=process_weights,
        center_unembed=process_weights,
        fold_value_biases=process_weights,
    )
    return model


def _poison_missing_heads(state_dict: dict[str, torch.Tensor], missing_keys: Iterable[str]) -> None:
    """NaN-fill the heads the checkpoint did not ship, so their outputs cannot pass as real."""
    missing = set(missing_keys)
    heads = {
        "cls.predictions.": ("mlm_head.", "unembed."),
        "cls.seq_relationship.": ("nsp_head.",),
        "bert.pooler.": ("pooler.",),
    }
    for hf_prefix, tl_prefixes in heads.items():
        if any(key.startswith(hf_prefix) for key in missing):
            for name in state_dict:
                if name.startswith(tl_prefixes):
                    state_dict[name] = torch.full_like(state_dict[name], torch.nan)
