"""The shared datasets' one guard: skip a test when a file is absent, fail under CI."""

import os
from pathlib import Path

import pytest

from mechscope.data import DATA_ENV, dataset_dir

UD_EWT = dataset_dir("ud_english_ewt")
"""UD English EWT (`mechscope.data.dataset_dir`: ``$MECHSCOPE_DATA`` or a shared/data nearby)."""


def require_data(*paths: Path) -> None:
    """Skip the calling test unless every path exists; under ``CI=true`` fail instead.

    CI lays ``../shared/data`` beside the checkout, so a missing file there is a fault.
    """
    missing = [str(path) for path in paths if not path.exists()]
    if not missing:
        return
    message = f"missing {', '.join(missing)} (set {DATA_ENV}; see the docs' data section)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)
