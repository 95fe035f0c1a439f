"""The Bridge path under another TransformerLens: every analysis of `test_bridge`, saved.

Run it with the checkout's environment (transformer-lens 3.9, where the Bridge equals the
hooked backend, as `tests/unit/models/test_bridge.py` asserts) and with a transformer-lens 4
environment (`docs/scale.md` gives the commands); then compare the two files:

    python -m tests.scale.tl4_check save OUT.pt
    python -m tests.scale.tl4_check compare A.pt B.pt
"""

import sys
import tempfile
from pathlib import Path

import torch

from mechscope.models import load_model
from tests.hf_factories import BRIDGE_FAMILIES, save_with_tokenizer
from tests.unit.models.test_bridge import ANALYSES


def save(out: str) -> None:
    """Every analysis on the Bridge of every family's random directory (seed 0), to ``out``."""
    import transformer_lens

    values = {}
    with tempfile.TemporaryDirectory() as root:
        for family in BRIDGE_FAMILIES:
            model = load_model(save_with_tokenizer(family, Path(root) / family), device="cpu",
                               backend="bridge")  # fmt: skip
            for name, analysis in ANALYSES.items():
                try:
                    values[f"{family}/{name}"] = analysis(model).detach()
                except ModuleNotFoundError as error:  # SAELens needs transformer-lens < 4
                    print(f"{family}/{name}: not run ({error})")  # noqa: T201
    version = getattr(transformer_lens, "__version__", "")
    torch.save({"values": values, "transformer_lens": version}, out)
    print(f"{len(values)} results saved to {out}")  # noqa: T201


def compare(a: str, b: str) -> None:
    """The largest difference of each analysis between two saved runs."""
    first, second = torch.load(a), torch.load(b)
    worst = 0.0
    for key, value in first["values"].items():
        if key not in second["values"]:
            print(f"{key:<45} not in {b}")  # noqa: T201
            continue
        other = second["values"][key]
        assert value.shape == other.shape and torch.equal(value.isnan(), other.isnan()), key
        diff = float((value - other).nan_to_num().abs().max())
        scale = max(1.0, float(value.nan_to_num().abs().max()))
        worst = max(worst, diff / scale)
        print(f"{key:<45} {diff:.2e}")  # noqa: T201
    n = len(first["values"])
    print(f"largest difference relative to max(1, |value|): {worst:.2e} over {n}")  # noqa: T201


if __name__ == "__main__":
    {"save": lambda: save(sys.argv[2]), "compare": lambda: compare(sys.argv[2], sys.argv[3])}[
        sys.argv[1]
    ]()
