"""``mechscope info``: a model's shape, parameter count and hook points."""

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mechscope.cli.common import Loading, LoadingArg, ModelArg, OutArg


@dataclass(frozen=True, kw_only=True)
class Config:
    """Print a model's shape, parameter count and hook points.

    Load a model and print its layers, heads, widths, vocabulary, context, parameter count
    and every hook point (grouped by layer). Example: mechscope info minilm
    """

    model: ModelArg
    out: OutArg | None = None
    """Also write the table as DIR/info.json."""
    loading: LoadingArg = field(default_factory=Loading)
    """How the model is loaded: --device, --backend, --device-map."""


@dataclass(frozen=True)
class ModelFacts:
    """What `mechscope info` prints: (name, value) rows and the grouped hook points."""

    rows: list[tuple[str, object]]
    hooks: list[str]
    n_hooks: int
    n_layers: int


def run(cfg: Config) -> ModelFacts:
    """The model's facts (also written as DIR/info.json with --out)."""
    from mechscope.cli.common import parse_device_map
    from mechscope.models import adapt, count_parameters, load_model

    model = load_model(
        cfg.model,
        device=cfg.loading.device,
        backend=cfg.loading.backend,
        device_map=parse_device_map(cfg.loading.device_map),
    )
    mcfg, adapter = model.cfg, adapt(model)
    rows = [
        ("model", cfg.model),
        ("class", type(model).__name__),
        ("backend", "bridge (TransformerBridge)" if adapter.bridge else "hooked"),
        ("architecture", _architecture(model)),
        ("layers", mcfg.n_layers),
        ("heads per layer", mcfg.n_heads),
        ("key/value heads per layer", adapter.n_key_value_heads),
        ("d_model", mcfg.d_model),
        ("d_head", mcfg.d_head),
        ("d_mlp", mcfg.d_mlp if not mcfg.attn_only else "none (attention-only)"),
        ("vocab (d_vocab)", mcfg.d_vocab),
        ("context (n_ctx)", mcfg.n_ctx),
        ("parameters", f"{count_parameters(model):,}"),
        ("attention", "causal" if adapter.causal else "bidirectional (encoder)"),
        ("LM head", "yes" if adapter.has_unembedding else "no (logits are NaN by design)"),
        ("tokenizer", type(model.tokenizer).__name__ if model.tokenizer else "none"),
    ]
    hooks = grouped_hook_names(list(model.hook_dict))
    if cfg.out is not None:
        Path(cfg.out).mkdir(parents=True, exist_ok=True)
        table = {key: value for key, value in rows} | {"hook_points": hooks}
        (Path(cfg.out) / "info.json").write_text(json.dumps(table, indent=2, default=str))
    return ModelFacts(list(rows), hooks, len(model.hook_dict), mcfg.n_layers)


def summary(facts: ModelFacts, cfg: Config) -> Iterator[str]:  # noqa: ARG001 - Job contract
    """The table, then the hook points grouped by layer."""
    width = max(len(k) for k, _ in facts.rows)
    for key, value in facts.rows:
        yield f"{key:<{width}}  {value}"
    yield f"\nhook points ({facts.n_hooks}; L = layer 0..{facts.n_layers - 1}):"
    for name in facts.hooks:
        yield f"  {name}"


def report(facts: ModelFacts, cfg: Config) -> None:  # noqa: ARG001 - Job contract
    """No page: the table is the output."""


def grouped_hook_names(names: Sequence[str]) -> list[str]:
    """Hook names with the layer index replaced by ``L``, each pattern once, in model order."""
    seen: dict[str, None] = {}
    for name in names:
        seen.setdefault(re.sub(r"^blocks\.\d+\.", "blocks.L.", name))
    return list(seen)


def _architecture(model: Any) -> str:  # noqa: ANN401 - a Model
    """The Hugging Face architecture the weights came from (the Bridge's own model's class)."""
    cfg = model.cfg
    named = getattr(cfg, "original_architecture", None) or getattr(cfg, "architecture", None)
    return named or "none (built in TransformerLens)"
