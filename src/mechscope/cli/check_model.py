"""``mechscope check-model``: a local HF directory loaded by mechscope vs Hugging Face itself."""

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated

import tyro

from mechscope.cli.common import OutArg


@dataclass(frozen=True, kw_only=True)
class Config:
    """Compare a local Hugging Face directory loaded by mechscope with HF itself.

    Load MODEL_DIR with Hugging Face and with mechscope, run the same tokens through both,
    print the largest absolute difference of the logits (or of the final hidden states for
    encoders without an LM head) and exit 1 above the tolerance. Example: mechscope
    check-model ./pythia-dir --tolerance 1e-4
    """

    model_dir: Annotated[Path, tyro.conf.Positional, tyro.conf.arg(metavar="MODEL_DIR")]
    """A local Hugging Face model directory, or 'smollm2-135m' (or its cached directory) to
    compare the cached conversion with Hugging Face reading the same GGUF file."""
    tolerance: float = 1e-4
    """Largest allowed |mechscope - HF|."""
    out: OutArg | None = None
    """Also write the comparison as DIR/parity.json."""


def run(cfg: Config) -> str:
    """Compare; the verdict line (exit 1 on failure, through `CheckFailed`).

    Raises:
        CheckFailed: the difference is above the tolerance.
    """
    from mechscope.core.errors import CheckFailed, ModelSpecError
    from mechscope.models import SpecKind, classify_spec
    from mechscope.models.parity import compare_smollm, compare_with_hf
    from mechscope.models.smollm import SMOLLM2, cache_dir

    if str(cfg.model_dir) == SMOLLM2 or cfg.model_dir.resolve() == cache_dir().resolve():
        report = compare_smollm()
    elif classify_spec(cfg.model_dir) is not SpecKind.HF_DIR:
        raise ModelSpecError(
            f"{cfg.model_dir} is not a Hugging Face model directory; check-model compares one "
            "loaded by mechscope with the same one loaded by Hugging Face."
        )
    else:
        report = compare_with_hf(cfg.model_dir)
    passed = report.passed(cfg.tolerance)
    verdict = (
        f"{'PASS' if passed else 'FAIL'}: max |mechscope - HF| over {report.quantity.value} = "
        f"{report.max_abs_diff:.3g} on {report.n_tokens} tokens (tolerance {cfg.tolerance:g})"
    )
    if cfg.out is not None:
        Path(cfg.out).mkdir(parents=True, exist_ok=True)
        record = asdict(report) | {"quantity": report.quantity.value, "passed": passed}
        (Path(cfg.out) / "parity.json").write_text(json.dumps(record, indent=2, default=str))
    if not passed:
        raise CheckFailed(verdict)
    return verdict


def summary(verdict: str, cfg: Config) -> list[str]:  # noqa: ARG001 - Job contract
    """The verdict."""
    return [verdict]


def report(verdict: str, cfg: Config) -> None:  # noqa: ARG001 - Job contract
    """No page: the verdict is the output."""
