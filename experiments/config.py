"""What every experiment's Config shares (importable without torch)."""

from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar


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


@dataclass(frozen=True, kw_only=True)
class TrainingExperimentConfig(ExperimentConfig):
    """An experiment that trains its own runs: where they train, and its preset for a GPU."""

    device: str = "cpu"
    """Where each run trains (``cuda`` on a GPU): batches are drawn on the CPU and moved, so a
    recipe sees the same data anywhere; finished runs are read back wherever they trained."""
    full: bool = False
    """The preset for a lent GPU (with --device cuda): each field of the experiment's `FULL`
    that was left at its default takes the preset's value (more seeds for tighter standard
    errors, and longer or deeper runs where the experiment says); runs already trained are
    read back."""

    FULL: ClassVar[dict[str, Any]] = {}
    """The ``--full`` preset: field name to value."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.full:
            defaults = {f.name: f.default for f in fields(self) if f.default is not MISSING}
            for name, value in self.FULL.items():
                if getattr(self, name) == defaults.get(name):
                    object.__setattr__(self, name, value)
