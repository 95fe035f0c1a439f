"""What every experiment's Config shares (importable without torch)."""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, kw_only=True)
class ExperimentConfig:
    """The output directory, as a Path whatever it was given as.

    ``Config(out="results/x")`` works from Python as from the command line (a string used
    to crash at the end, after all the work, when the results were written).
    """

    out: Path = Path("results")
    """Where result.json, tensors.safetensors and report.html go."""
    overwrite: bool = False
    """Replace results already in --out (the old ones stay until the new ones are complete;
    training runs kept in --out/runs are read back, not retrained)."""

    def __post_init__(self) -> None:
        if not isinstance(self.out, str | Path):
            raise ValueError(f"out must be a path, got {type(self.out).__name__}")
        object.__setattr__(self, "out", Path(self.out))
