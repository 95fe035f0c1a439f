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

``backend="bridge"`` runs a Hugging Face decoder (a directory, a hub name, or
``smollm2-135m``) through TransformerLens's ``TransformerBridge`` instead, with the same hook
names and numbers, and takes Hugging Face's ``device_map`` (`mechscope.models.bridge`).

Weights are loaded unprocessed by default, so activations equal the Hugging Face model's.
``process_weights=True`` applies TransformerLens's fold_ln / center_writing_weights /
center_unembed / fold_value_biases (log-probs unchanged, logits shifted by a constant).
"""

from typing import TYPE_CHECKING

from mechscope.core.lazy import lazy_exports

if TYPE_CHECKING:
    from mechscope.models.adapter import ModelAdapter, adapt, model_spec
    from mechscope.models.base import (
        Backend,
        DType,
        Model,
        count_parameters,
        has_lm_head,
        quiet_transformer_lens,
    )
    from mechscope.models.bridge import DeviceMap, is_bridge
    from mechscope.models.bundled import BUNDLED, INDUCTION_1L, INDUCTION_2L, shipped_dir
    from mechscope.models.checkpoint import load_checkpoint, save_checkpoint
    from mechscope.models.hf_dir import load_hf_reference
    from mechscope.models.loader import SpecKind, classify_spec, load_model
    from mechscope.models.random_init import random_like
    from mechscope.models.run import (
        attention_patterns,
        boundary_labels,
        boundary_stream,
        keep_for_gradient,
        keyed_hooks,
        readout,
        readout_groups,
        run_until,
        stream_and_patterns,
    )
    from mechscope.models.tiny import TinyConfig, tiny_model
    from mechscope.models.tokens import (
        corpus_windows,
        forward_kwargs,
        str_tokens,
        target_ids,
        tokenize,
    )
    from mechscope.models.vit import HookedViT, ViTConfig
    from mechscope.models.words import WordTokens, align_words

_EXPORTS = {
    "align_words": "mechscope.models.words",
    "WordTokens": "mechscope.models.words",
    "adapt": "mechscope.models.adapter",
    "attention_patterns": "mechscope.models.run",
    "boundary_labels": "mechscope.models.run",
    "boundary_stream": "mechscope.models.run",
    "BUNDLED": "mechscope.models.bundled",
    "classify_spec": "mechscope.models.loader",
    "count_parameters": "mechscope.models.base",
    "Backend": "mechscope.models.base",
    "DeviceMap": "mechscope.models.bridge",
    "is_bridge": "mechscope.models.bridge",
    "DType": "mechscope.models.base",
    "forward_kwargs": "mechscope.models.tokens",
    "has_lm_head": "mechscope.models.base",
    "HookedViT": "mechscope.models.vit",
    "INDUCTION_1L": "mechscope.models.bundled",
    "INDUCTION_2L": "mechscope.models.bundled",
    "keep_for_gradient": "mechscope.models.run",
    "keyed_hooks": "mechscope.models.run",
    "load_checkpoint": "mechscope.models.checkpoint",
    "load_hf_reference": "mechscope.models.hf_dir",
    "load_model": "mechscope.models.loader",
    "Model": "mechscope.models.base",
    "model_spec": "mechscope.models.adapter",
    "ModelAdapter": "mechscope.models.adapter",
    "quiet_transformer_lens": "mechscope.models.base",
    "random_like": "mechscope.models.random_init",
    "readout": "mechscope.models.run",
    "readout_groups": "mechscope.models.run",
    "stream_and_patterns": "mechscope.models.run",
    "run_until": "mechscope.models.run",
    "save_checkpoint": "mechscope.models.checkpoint",
    "shipped_dir": "mechscope.models.bundled",
    "SpecKind": "mechscope.models.loader",
    "str_tokens": "mechscope.models.tokens",
    "target_ids": "mechscope.models.tokens",
    "tiny_model": "mechscope.models.tiny",
    "TinyConfig": "mechscope.models.tiny",
    "tokenize": "mechscope.models.tokens",
    "corpus_windows": "mechscope.models.tokens",
    "ViTConfig": "mechscope.models.vit",
}
"""Each public name and the module that defines it (imported on first use)."""
__all__ = [
    "BUNDLED",
    "Backend",
    "DeviceMap",
    "DType",
    "HookedViT",
    "INDUCTION_1L",
    "INDUCTION_2L",
    "Model",
    "ModelAdapter",
    "SpecKind",
    "TinyConfig",
    "ViTConfig",
    "WordTokens",
    "adapt",
    "align_words",
    "attention_patterns",
    "boundary_labels",
    "boundary_stream",
    "classify_spec",
    "count_parameters",
    "forward_kwargs",
    "has_lm_head",
    "is_bridge",
    "keep_for_gradient",
    "keyed_hooks",
    "load_checkpoint",
    "load_hf_reference",
    "load_model",
    "model_spec",
    "quiet_transformer_lens",
    "random_like",
    "readout",
    "readout_groups",
    "stream_and_patterns",
    "run_until",
    "save_checkpoint",
    "shipped_dir",
    "str_tokens",
    "target_ids",
    "tiny_model",
    "tokenize",
    "corpus_windows",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
