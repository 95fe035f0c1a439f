"""Loading models: one function, `load_model`, for every way a researcher has a model.

A spec is, in the order they are tried:

1. a bundled name: ``induction-2l``, ``induction-1l``, ``vit-digits`` and ``vit-shapes``
   (checkpoints shipped inside the package; the ViTs load as `HookedViT`), ``minilm`` (from
   the ``bert`` extra) or ``smollm2-135m`` (from the ``smollm`` extra);
2. a directory: a mechscope checkpoint (``mechscope_model.json``) or a Hugging Face model
   directory (``config.json``) of the GPT-2, GPT-NeoX/Pythia, Llama or BERT families;
3. a TransformerLens model name (``gpt2-small``, ``pythia-70m``...), through the real
   ``from_pretrained`` path, failing fast when the hub is unreachable and nothing is cached;
4. a `TinyConfig` (or a HookedTransformerConfig): a random-init model for tests.

Weights are loaded unprocessed by default, so activations equal the Hugging Face model's.
``process_weights=True`` applies TransformerLens's fold_ln / center_writing_weights /
center_unembed / fold_value_biases (log-probs unchanged, logits shifted by a constant).
"""

from typing import TYPE_CHECKING

from mechscope.core.lazy import lazy_exports

if TYPE_CHECKING:
    from mechscope.models.adapter import ModelAdapter, adapt, model_spec
    from mechscope.models.base import DType, Model, count_parameters, has_lm_head, is_encoder
    from mechscope.models.checkpoint import load_checkpoint, save_checkpoint
    from mechscope.models.hf_dir import load_hf_reference
    from mechscope.models.loader import SpecKind, classify_spec, load_model
    from mechscope.models.random_init import random_like
    from mechscope.models.run import run_until
    from mechscope.models.tiny import TinyConfig, tiny_model
    from mechscope.models.tokens import forward_kwargs, str_tokens, target_ids, tokenize
    from mechscope.models.vit import HookedViT, ViTConfig

_EXPORTS = {
    "ModelAdapter": "mechscope.models.adapter",
    "adapt": "mechscope.models.adapter",
    "model_spec": "mechscope.models.adapter",
    "run_until": "mechscope.models.run",
    "random_like": "mechscope.models.random_init",
    "forward_kwargs": "mechscope.models.tokens",
    "str_tokens": "mechscope.models.tokens",
    "target_ids": "mechscope.models.tokens",
    "tokenize": "mechscope.models.tokens",
    "DType": "mechscope.models.base",
    "Model": "mechscope.models.base",
    "count_parameters": "mechscope.models.base",
    "has_lm_head": "mechscope.models.base",
    "is_encoder": "mechscope.models.base",
    "load_checkpoint": "mechscope.models.checkpoint",
    "save_checkpoint": "mechscope.models.checkpoint",
    "load_hf_reference": "mechscope.models.hf_dir",
    "SpecKind": "mechscope.models.loader",
    "classify_spec": "mechscope.models.loader",
    "load_model": "mechscope.models.loader",
    "TinyConfig": "mechscope.models.tiny",
    "tiny_model": "mechscope.models.tiny",
    "HookedViT": "mechscope.models.vit",
    "ViTConfig": "mechscope.models.vit",
}
__all__ = [
    "DType",
    "HookedViT",
    "Model",
    "ModelAdapter",
    "SpecKind",
    "TinyConfig",
    "ViTConfig",
    "adapt",
    "classify_spec",
    "count_parameters",
    "forward_kwargs",
    "has_lm_head",
    "is_encoder",
    "load_checkpoint",
    "load_hf_reference",
    "load_model",
    "model_spec",
    "random_like",
    "run_until",
    "save_checkpoint",
    "str_tokens",
    "target_ids",
    "tiny_model",
    "tokenize",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
