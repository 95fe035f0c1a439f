"""The second backend: any Hugging Face decoder through TransformerLens's ``TransformerBridge``.

``load_model(spec, backend="bridge")`` boots the Hugging Face model itself (its own modules,
its own forward) through ``TransformerBridge.boot_transformers`` and turns on compatibility
mode, so hook names (``blocks.L.attn.hook_z``, ``hook_resid_pre``...) and weight views
(``W_Q``, ``W_U``...) are TransformerLens's. Every analysis then runs through the same adapter
(`mechscope.models.adapter`) and gives the numbers the HookedTransformer backend gives on the
same weights (tested over GPT-2, GPT-NeoX and Llama with grouped-query attention, and SmolLM2).

Why a second backend: TransformerLens 3.9 deprecates ``HookedTransformer`` and 4.x removes it;
the Bridge reaches every architecture Hugging Face has (ours converts four families) and
Hugging Face's ``device_map`` (a model split over devices). This module imports no
``HookedTransformer``, so the path runs under transformer-lens 4 as well.

Weights are left unprocessed by default, as with the hooked backend (activations equal the
Hugging Face model's); ``process_weights=True`` folds the norms and centres the weights as
TransformerLens's ``from_pretrained`` does.

Where the Bridge differs:

- it cannot start a forward pass at a later block (the Hugging Face model owns the layer
  loop), so patching runs every pass from the embeddings: the same values, slower (the
  adapter's ``can_start_at_layer`` says so and the engine plans for it);
- TransformerLens's NeoX Bridge has no ``hook_rot_q``/``hook_rot_k`` (Llama's has them); the
  neuron view, which reads them, refuses with a line saying so;
- under grouped-query attention its ``W_K``/``W_V`` have one head per key/value head (the
  adapter's ``head_weight`` repeats them), and a hook may see a tensor that also flows on
  elsewhere (`mechscope.models.keep_for_gradient`);
- ``device_map`` splits are Hugging Face's (accelerate); TransformerLens 3.9's Bridge refuses
  disk and meta offload and maps that mix CPU and CUDA (its wrapped components read raw
  parameters and would bypass accelerate's offload hooks), so mechscope refuses them first,
  in one line.
- encoders (BERT) are not offered on this backend yet: load them with the default one.
"""

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from typing_extensions import TypeIs

from mechscope.core.errors import ModelSpecError

if TYPE_CHECKING:
    from transformer_lens.model_bridge import TransformerBridge

DeviceMap = str | dict[str, str | int]
"""Hugging Face's ``device_map``: ``"auto"``, ``"balanced"``, ``"sequential"``, or
``{module path: device}``."""

ENCODER_TYPES = frozenset({"bert", "roberta", "distilbert", "albert", "electra", "deberta"})
"""``model_type`` values of encoders, which this backend does not take yet."""

BRIDGE_HF_CACHE = "smollm2-135m-instruct-q4_1-hf"
"""SmolLM2's dequantised weights as a Hugging Face directory (beside the hooked cache)."""


def is_bridge(model: object) -> TypeIs["TransformerBridge"]:
    """Whether ``model`` is a ``TransformerBridge`` (without importing the Bridge otherwise)."""
    return any(cls.__name__ == "TransformerBridge" for cls in type(model).__mro__)


def load_bridge(
    spec: str | Path,
    device: torch.device,
    dtype: torch.dtype,
    process_weights: bool = False,
    device_map: DeviceMap | None = None,
) -> "TransformerBridge":
    """Boot ``spec`` (a Hugging Face directory, hub name, or ``smollm2-135m``) as a Bridge.

    Raises:
        ModelSpecError: a mechscope checkpoint or bundled model the Bridge cannot take, an
            encoder, a directory without a tokenizer, or a device map TransformerLens refuses.
    """
    from transformer_lens.model_bridge import TransformerBridge

    from mechscope.models.base import quiet_transformer_lens

    source, tokenizer = _source(spec)
    if device_map is not None:
        check_device_map(device_map)
    place: dict[str, Any] = {"device_map": device_map} if device_map is not None else {}
    if device_map is None:
        place["device"] = str(device)
    with quiet_transformer_lens():
        try:
            bridge = TransformerBridge.boot_transformers(
                source, dtype=dtype, tokenizer=tokenizer, **place
            )
        except ValueError as error:  # TransformerLens's refusals (device maps, configs)
            first = str(error).strip().splitlines()[0]
            raise ModelSpecError(f"the Bridge could not boot {spec}: {first}") from None
        bridge.enable_compatibility_mode(disable_warnings=True, no_processing=not process_weights)
    # Prompts get BOS as on the hooked backend (`hf_dir.tl_config_dict`; SmolLM2's tokenizer
    # adds none), so token ids, positions and every score match it.
    bridge.cfg.default_prepend_bos = _prepends_bos(spec, source)
    return bridge.eval()


NO_BOS_TYPES = frozenset({"gpt_neox"})
"""``model_type`` values whose prompts get no BOS on the hooked backend (Pythia's)."""


def _prepends_bos(spec: str | Path, source: str) -> bool:
    if str(spec) == "smollm2-135m":
        return False
    config = Path(source) / "config.json"
    if not config.is_file():
        return True  # a hub name: TransformerLens's default
    return json.loads(config.read_text()).get("model_type") not in NO_BOS_TYPES


def check_device_map(device_map: DeviceMap) -> None:
    """Refuse, in one line, the maps TransformerLens 3.9's Bridge cannot run.

    Raises:
        ModelSpecError: disk or meta targets, or a map that mixes CPU and CUDA.
    """
    if isinstance(device_map, str):
        if device_map not in ("auto", "balanced", "balanced_low_0", "sequential"):
            raise ModelSpecError(
                f"device_map {device_map!r} is neither a strategy (auto, balanced, sequential) "
                "nor a {module: device} map."
            )
        return
    targets = {str(v).split(":")[0] if isinstance(v, str) else "cuda" for v in device_map.values()}
    offload = sorted(targets & {"disk", "meta"})
    if offload:
        raise ModelSpecError(
            f"device_map sends modules to {', '.join(offload)}: TransformerLens's Bridge reads "
            "raw weights that accelerate's offload would not have loaded; map every module to "
            "a CPU or CUDA device."
        )
    if {"cpu", "cuda"} <= targets:
        raise ModelSpecError(
            "device_map mixes CPU and CUDA, which accelerate runs as CPU offload and "
            "TransformerLens's Bridge refuses; map every module to CUDA devices (or all to cpu)."
        )


def _source(spec: str | Path) -> tuple[str, Any]:
    """What to boot (a directory or hub name) and the tokenizer to give it (or None)."""
    from mechscope.models.bundled import BUNDLED
    from mechscope.models.checkpoint import CHECKPOINT_CONFIG

    text = str(spec)
    if text == "smollm2-135m":
        return str(smollm_hf_dir()), None
    path = Path(BUNDLED[text]() if text in BUNDLED else text).expanduser()
    if not path.is_dir():
        return text, None  # a hub name: TransformerLens resolves it (network or HF cache)
    if (path / CHECKPOINT_CONFIG).is_file():
        raise ModelSpecError(
            f"{text} is a mechscope checkpoint, which the Bridge (Hugging Face models only) "
            "cannot boot; load it with the default backend (--backend hooked)."
        )
    config = path / "config.json"
    if not config.is_file():
        raise ModelSpecError(f"{path} has no config.json, so it is not a Hugging Face model.")
    model_type = json.loads(config.read_text()).get("model_type", "")
    if model_type in ENCODER_TYPES:
        raise ModelSpecError(
            f"{text} is an encoder ({model_type}); the Bridge backend takes decoders here, so "
            "load it with the default backend (--backend hooked)."
        )
    if not any((path / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json")):
        raise ModelSpecError(
            f"{path} has no tokenizer, which the Bridge needs; save one beside the weights "
            "(tokenizer.save_pretrained(DIR)) or load it with --backend hooked."
        )
    from transformers import AutoTokenizer

    return str(path), AutoTokenizer.from_pretrained(path, local_files_only=True)


def smollm_hf_dir() -> Path:
    """SmolLM2's dequantised weights as a Hugging Face directory, written once (cached).

    Written from the hooked backend's cached checkpoint (`llama_dir_from_checkpoint`: the
    same tensors, read in a second) when it exists, else from the GGUF as the hooked backend
    reads it (`mechscope.models.smollm`, about 20 s). A write in progress goes to a temporary
    directory, renamed when complete.
    """
    import os
    import shutil

    from mechscope.models.smollm import cache_dir, cache_root, check_cache_writable

    final = cache_root() / BRIDGE_HF_CACHE
    if (final / "config.json").is_file():
        return final
    check_cache_writable(final.parent)
    tmp = final.with_name(f"{final.name}.tmp-{os.getpid()}")
    try:
        if (cache_dir() / "model.safetensors").is_file():
            llama_dir_from_checkpoint(cache_dir(), tmp)
        else:
            from mechscope.models.smollm import load_hf_smollm

            hf_model, tokenizer = load_hf_smollm()
            hf_model.save_pretrained(tmp)  # pyright: ignore[reportCallIssue]
            tokenizer.save_pretrained(tmp)  # pyright: ignore
        if not final.exists():
            tmp.rename(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def llama_dir_from_checkpoint(checkpoint: Path, out: Path) -> None:
    """Write a mechscope checkpoint of a Llama-family decoder as a Hugging Face directory.

    The inverse of TransformerLens's ``convert_llama_weights`` (which the hooked backend
    loads Llama directories with): heads are flattened back into ``q_proj``... rows, the
    gated MLP and unembedding are Hugging Face's layout already in the checkpoint (stored
    transposed, `mechscope.models.checkpoint`). Tested by the two backends' equal logits.

    Raises:
        ModelSpecError: not a Llama-style checkpoint (RMS norms, gated MLP, rotary, no biases).
    """
    import shutil

    import einops
    from transformers import LlamaConfig, LlamaForCausalLM

    from mechscope.core.results import read_tensors

    record = json.loads((checkpoint / "mechscope_model.json").read_text())
    cfg = record["config"]
    llama = (
        cfg.get("normalization_type"),
        cfg.get("gated_mlp"),
        cfg.get("positional_embedding_type"),
    )
    if llama != ("RMS", True, "rotary"):
        raise ModelSpecError(f"{checkpoint} is not a Llama-style decoder; it cannot be re-saved.")
    stored = read_tensors(checkpoint / "model.safetensors", "re-convert the checkpoint")
    transposed = set(record.get("transposed", []))

    def hf_layout(key: str) -> torch.Tensor:  # [out, in], as nn.Linear holds it
        return stored[key] if key in transposed else stored[key].T

    biases = [k for k in stored if k.rsplit(".", 1)[-1].startswith(("b_", "_b_"))]
    if any(bool(stored[k].any()) for k in biases):
        raise ModelSpecError(f"{checkpoint} has nonzero biases, which Llama has not.")
    heads = "n m h -> (n h) m"
    state = {"model.embed_tokens.weight": stored["embed.W_E"],
             "model.norm.weight": stored["ln_final.w"],
             "lm_head.weight": hf_layout("unembed.W_U")}  # fmt: skip
    kv = "_W_{}" if "blocks.0.attn._W_K" in stored else "W_{}"
    for layer in range(cfg["n_layers"]):
        b, hf = f"blocks.{layer}.", f"model.layers.{layer}."
        state |= {
            hf + "input_layernorm.weight": stored[b + "ln1.w"],
            hf + "post_attention_layernorm.weight": stored[b + "ln2.w"],
            hf + "self_attn.q_proj.weight": einops.rearrange(stored[b + "attn.W_Q"], heads),
            hf + "self_attn.k_proj.weight": einops.rearrange(
                stored[b + "attn." + kv.format("K")], heads
            ),
            hf + "self_attn.v_proj.weight": einops.rearrange(
                stored[b + "attn." + kv.format("V")], heads
            ),
            hf + "self_attn.o_proj.weight": einops.rearrange(
                stored[b + "attn.W_O"], "n h m -> m (n h)"
            ),
            hf + "mlp.gate_proj.weight": hf_layout(b + "mlp.W_gate"),
            hf + "mlp.up_proj.weight": hf_layout(b + "mlp.W_in"),
            hf + "mlp.down_proj.weight": hf_layout(b + "mlp.W_out"),
        }
    config = LlamaConfig(
        vocab_size=cfg["d_vocab"], hidden_size=cfg["d_model"], intermediate_size=cfg["d_mlp"],
        num_hidden_layers=cfg["n_layers"], num_attention_heads=cfg["n_heads"],
        num_key_value_heads=cfg.get("n_key_value_heads") or cfg["n_heads"],
        head_dim=cfg["d_head"], rms_norm_eps=cfg["eps"], max_position_embeddings=cfg["n_ctx"],
        rope_parameters={"rope_type": "default", "rope_theta": cfg["rotary_base"]},
        hidden_act=cfg["act_fn"], tie_word_embeddings=False,
        attention_bias=False, mlp_bias=False,
    )  # fmt: skip
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    model.load_state_dict({k: v.contiguous() for k, v in state.items()}, strict=True, assign=True)
    model.save_pretrained(out)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (checkpoint / name).is_file():
            shutil.copy(checkpoint / name, out / name)
