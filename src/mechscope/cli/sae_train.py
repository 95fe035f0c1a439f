"""``mechscope sae train``: train sparse autoencoders at a site of some layers, and measure them."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import tyro

from mechscope.cli.common import Loading, LoadingArg, ModelArg, OutArg, Sharding, ShardingArg
from mechscope.core.errors import MechscopeError
from mechscope.features.config import SaeRecipe, SaeSite

if TYPE_CHECKING:
    from mechscope.features.evaluate import SaeEvaluation
    from mechscope.features.transcoders import TranscoderEvaluation
    from mechscope.viz.report import Report


@dataclass(frozen=True, kw_only=True)
class Config:
    """Train sparse autoencoders (SAELens) at one site of some layers, and measure them.

    One SAE per layer, on activations read from a text corpus (default: the Python standard
    library's sources; UD CoNLL-U files give their sentences), each saved in SAELens format
    in OUT/SITE-LAYER/ (cfg.json, sae_weights.safetensors; checkpoints resumable with
    --resume) with metrics.json measured on the corpus's held-out text: explained variance,
    L0, dead and dense features, and the loss with the SAE spliced in against the clean and
    ablated model. Example: mechscope sae train induction-2l --layers 0 1 --out runs/saes
    --k 16 --width 512
    """

    model: ModelArg
    out: OutArg
    """Where the SAEs go, one directory per layer (SITE-LAYER), and report.html."""
    site: SaeSite = SaeSite.RESID_POST
    """Activations the SAEs read: the residual stream before, between or after a block's
    parts, attention's or the MLP's output, or the MLP's input."""
    layers: tuple[int, ...] = ()
    """Layers to train an SAE at (default: every layer)."""
    corpus: tuple[Path, ...] = ()
    """Text files or directories (default: the standard library); the last 5 % is held out."""
    held_out: tuple[Path, ...] = ()
    """Files to hold out instead (then every --corpus file trains)."""
    resume: bool = False
    """Continue each layer's run in --out from its last checkpoint (same options)."""
    transcoder: bool = False
    """Train transcoders instead (the MLP's input -> its output, ReLU + L1 with
    --sparsity-coefficient; --site is ignored); into OUT/transcoder-LAYER/."""
    recipe: Annotated[SaeRecipe, tyro.conf.OmitArgPrefixes] = field(default_factory=SaeRecipe)
    """The SAE and its training."""
    loading: LoadingArg = field(default_factory=Loading)
    """How the model is loaded: --device, --backend, --device-map."""
    sharding: ShardingArg = field(default_factory=Sharding)
    """Where the training activations are read: --workers, --executor, --address."""


def run(cfg: Config) -> dict[str, "SaeEvaluation | TranscoderEvaluation"]:
    """Train and evaluate one SAE (or transcoder) per layer (each saved as it finishes)."""
    from mechscope.cli.common import load_text_model, sharding
    from mechscope.data import load_corpus
    from mechscope.executors import site_reader
    from mechscope.features import mlp_hooks, site_hook, train_sae, train_transcoders

    shards = sharding(cfg.model, cfg.loading, cfg.sharding)
    reader = site_reader(*shards) if shards is not None else None  # --workers: windows in shards
    model = load_text_model(cfg.model, cfg.loading, "sae train")
    layers = cfg.layers or tuple(range(model.cfg.n_layers))
    if cfg.transcoder:
        if cfg.resume:
            raise MechscopeError("transcoder runs write no checkpoints; start them again.")
        for layer in layers:
            mlp_hooks(model, layer)  # every layer checked first
        corpus = load_corpus(cfg.corpus or None, held_out=cfg.held_out or None)
        device = str(model.cfg.device or "cpu")
        outs = {layer: Path(cfg.out) / f"transcoder-{layer}" for layer in layers}
        trained = train_transcoders(model, layers, corpus, cfg.recipe, outs, device=device,
                                    reader=reader)  # fmt: skip
        return {f"transcoder-{layer}/evaluation": t.evaluation for layer, t in trained.items()}
    hooks = {layer: site_hook(model, cfg.site, layer) for layer in layers}  # all checked first
    corpus = load_corpus(cfg.corpus or None, held_out=cfg.held_out or None)
    device = str(model.cfg.device or "cpu")
    results = {}
    for layer, hook in hooks.items():
        name = f"{cfg.site.value}-{layer}"
        trained = train_sae(model, hook, corpus, cfg.recipe, Path(cfg.out) / name,
                            resume=cfg.resume, device=device, reader=reader)  # fmt: skip
        results[f"{name}/evaluation"] = trained.evaluation
    return results


def summary(
    results: dict[str, "SaeEvaluation | TranscoderEvaluation"], cfg: Config
) -> Iterator[str]:
    """One line per SAE: reconstruction, sparsity and loss recovered (± s.e. over windows)."""
    yield (f"{'SAE':<16} {'expl. var.':>10} {'per dim':>8} {'L0':>7} {'dead':>6} {'dense':>6} "
           f"{'loss clean':>11} {'spliced':>8} {'recovered (zero / mean abl.)':>30}")  # fmt: skip
    for name, result in results.items():
        m = result.metrics()
        recovered = (
            f"{_f(m, 'loss_recovered_zero', '.3f')} ± {_f(m, 'loss_recovered_zero_se', '.3f')} / "
            f"{_f(m, 'loss_recovered_mean', '.3f')} ± {_f(m, 'loss_recovered_mean_se', '.3f')}"
        )
        yield (
            f"{name.split('/')[0]:<16} {m['explained_variance']:>10.3f} "
            f"{_f(m, 'explained_variance_per_dim', '.3f'):>8} {m['l0']:>7.1f} "
            f"{m['dead_fraction']:>6.2f} {_f(m, 'dense_fraction', '.2f'):>6} "
            f"{_f(m, 'loss_clean', '.3f'):>11} {_f(m, 'loss_spliced', '.3f'):>8}  {recovered}"
        )
    what = "transcoder" if cfg.transcoder else cfg.site.value
    yield f"SAELens format and metrics.json: {cfg.out}/{what}-LAYER/"


def report(results: dict[str, "SaeEvaluation | TranscoderEvaluation"], cfg: Config) -> "Report":
    """The metrics table, the feature-density histograms and sparsity against reconstruction."""
    from mechscope.viz import Report, density_figure, sparsity_figure

    what = "transcoders" if cfg.transcoder else cfg.site.value
    page = Report(f"Sparse autoencoders on {cfg.model} ({what})")
    page.paragraph(
        "Measured on the corpus's held-out text. Loss recovered = (ablated - spliced) / "
        "(ablated - clean), with the site zero- or mean-ablated; ± standard errors over "
        "windows. Dead: never fired on the held-out tokens; dense: fired on more than 10 %.",
        note=True,
    )
    names = [name.split("/")[0] for name in results]
    rows = []
    for name, result in zip(names, results.values(), strict=True):
        m = result.metrics()
        rows.append([name, f"{m['explained_variance']:.3f}",
                     _f(m, "explained_variance_per_dim", ".3f"), f"{m['l0']:.1f}",
                     f"{m['dead_fraction']:.3f}", _f(m, "dense_fraction", ".3f"),
                     f"{_f(m, 'loss_clean', '.3f')} ± {_f(m, 'loss_clean_se', '.3f')}",
                     _f(m, "loss_spliced", ".3f"), _f(m, "loss_zero_ablated", ".3f"),
                     _f(m, "loss_mean_ablated", ".3f"), _f(m, "loss_with_error", ".3f"),
                     f"{_f(m, 'loss_recovered_zero', '.3f')} ± "
                     f"{_f(m, 'loss_recovered_zero_se', '.3f')}",
                     f"{_f(m, 'loss_recovered_mean', '.3f')} ± "
                     f"{_f(m, 'loss_recovered_mean_se', '.3f')}",
                     int(m["n_tokens"])])  # fmt: skip
    page.table(["SAE", "explained variance", "per dimension", "L0", "dead", "dense",
                "loss clean", "spliced", "zero-ablated", "mean-ablated", "with error term",
                "recovered (zero)", "recovered (mean)", "held-out tokens"], rows)  # fmt: skip
    page.figure(
        density_figure({n: r.density for n, r in zip(names, results.values(), strict=True)})
    )
    page.figure(
        sparsity_figure({n: r.metrics() for n, r in zip(names, results.values(), strict=True)})
    )
    return page


def _f(metrics: dict[str, float], key: str, fmt: str) -> str:
    """A metric formatted, or "-" when the model has none (an encoder has no loss)."""
    return format(metrics[key], fmt) if key in metrics else "-"
