"""What every command shares: the model argument, the output directory, the device."""

from pathlib import Path
from typing import Annotated

import tyro

MODEL_HELP = (
    "model spec: 'induction-2l' / 'induction-1l' (shipped), 'minilm' (bundled "
    "all-MiniLM-L6-v2), a mechscope checkpoint directory, a local Hugging Face model directory "
    "(GPT-2, GPT-NeoX/Pythia, Llama, BERT), or a TransformerLens name such as 'gpt2-small' "
    "(needs network access or the HF cache)"
)

ModelArg = Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="MODEL", help=MODEL_HELP)]
"""The model, given first on the command line."""

OutArg = Annotated[Path, tyro.conf.arg(metavar="DIR")]
"""An output directory."""

DeviceArg = Annotated[str | None, tyro.conf.arg(metavar="DEVICE")]
"""A torch device; None: CUDA when available, else CPU."""


def say(text: str) -> None:
    """Print a line of a command's output (the only place commands print)."""
    print(text)  # noqa: T201
