"""Where the shared datasets are: ``$MECHSCOPE_DATA``, else a ``shared/data`` found nearby.

The treebanks and SST-2 are never copied into the repository. `data_root` is, in order:
``$MECHSCOPE_DATA``; the first ``shared/data`` in the working directory or one of its
parents; the ``shared/data`` beside this checkout. `dataset_dir` names one dataset in it;
commands and experiments take a flag for the same place, and their errors name both.
"""

import os
from pathlib import Path

DATA_ENV = "MECHSCOPE_DATA"
"""The environment variable naming the directory that holds the datasets."""


def data_root() -> Path:
    """The datasets' directory (see the module docstring); it may not exist."""
    configured = os.environ.get(DATA_ENV)
    if configured:
        return Path(configured).expanduser()
    here = Path.cwd()
    for directory in (here, *here.parents):
        if (directory / "shared" / "data").is_dir():
            return directory / "shared" / "data"
    return Path(__file__).resolve().parents[4] / "shared" / "data"


def dataset_dir(name: str) -> Path:
    """One dataset's directory, e.g. ``dataset_dir("ud_english_ewt")``."""
    return data_root() / name
