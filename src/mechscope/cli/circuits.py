"""``mechscope circuits``: every head's QK and OV circuits, read from the weights."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mechscope.cli.common import Loading, LoadingArg, ModelArg, OutArg
from mechscope.core.jobs import Outcome

if TYPE_CHECKING:
    from mechscope.circuits.weights import WeightCircuits
    from mechscope.viz.report import Report


@dataclass(frozen=True, kw_only=True)
class Config:
    """QK/OV circuits from the weights: copying scores, spectra, positional QK, composition.

    For every head (LayerNorm folded in): the eigenvalue copying score of W_E W_OV W_U, the
    singular values of W_OV and W_QK, the positional QK preference (learned positions only)
    and Q/K/V composition with every later head. Prints the chosen heads (default: the 8 with
    the highest copying scores) and writes result.json + tensors + report.html. Example:
    mechscope circuits induction-2l --heads 0.0,1.1
    """

    model: ModelArg
    heads: str | None = None
    """Heads to detail, as 'L.H,L.H' (default: the 8 highest copying scores)."""
    n_positions: int = 32
    """Positions read for the positional QK pattern."""
    composition: bool = True
    """Compute Q/K/V composition scores between every pair of heads."""
    out: OutArg = Path("results/circuits")
    """Where result.json, tensors.safetensors and report.html go."""
    overwrite: bool = False
    """Replace results already in --out (the old ones stay until the new ones are complete)."""
    loading: LoadingArg = field(default_factory=Loading)
    """How the model is loaded: --device, --backend, --device-map."""


def run(cfg: Config) -> Outcome:
    """The weight circuits, and the heads to show (given, or the 8 best copiers)."""
    from mechscope.circuits.weights import weight_circuits
    from mechscope.cli.common import load_text_model
    from mechscope.core.axes import HeadId
    from mechscope.core.errors import MechscopeError

    model = load_text_model(cfg.model, cfg.loading, "circuits")
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    if cfg.heads:
        try:
            heads = [HeadId.parse(text.strip()) for text in cfg.heads.split(",")]
        except ValueError as error:
            raise MechscopeError(f"--heads: {error}; write heads as 'L.H,L.H'.") from None
        outside = [h for h in heads if not (h.layer < n_layers and h.head < n_heads)]
        if outside:
            raise MechscopeError(
                f"--heads: {outside[0].layer}.{outside[0].head} is not a head of this model "
                f"({n_layers} layers x {n_heads} heads)."
            )
    else:
        heads = []
    result = weight_circuits(model, cfg.n_positions, composition=cfg.composition)
    result = result.with_provenance(cfg, cfg.model)
    if not cfg.heads:
        order = result.copying.flatten().argsort(descending=True)[:8].tolist()
        heads = [HeadId(*divmod(int(i), n_heads)) for i in order]
    return Outcome({"": result}, {"heads": heads})


def summary(outcome: Outcome, cfg: Config) -> Iterator[str]:
    """Copying score, leading singular values and preferred offset of the chosen heads."""
    result: WeightCircuits = outcome.main  # pyright: ignore[reportAssignmentType]
    offsets = result.preferred_offset()
    yield f"{'head':<8} {'copying':>8} {'OV sv1':>9} {'QK sv1':>9} {'offset back':>12}"
    for h in outcome.context["heads"]:
        offset = "-" if offsets is None else str(int(offsets[h]))
        yield (f"{h.layer}.{h.head:<6} {float(result.copying[h]):>8.3f} "
               f"{float(result.ov_singular[h][0]):>9.3g} {float(result.qk_singular[h][0]):>9.3g} "
               f"{offset:>12}")  # fmt: skip
    yield f"report: {cfg.out / 'report.html'}"


def report(outcome: Outcome, cfg: Config) -> "Report":
    """Every head's circuits, the chosen ones in detail."""
    from mechscope.viz.circuits import render_circuits

    title = f"QK/OV circuits: {cfg.model}"
    return render_circuits(outcome.main, outcome.context["heads"], title)  # pyright: ignore[reportArgumentType]
