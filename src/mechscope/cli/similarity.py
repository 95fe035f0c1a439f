"""``mechscope similarity``: layer x layer CKA, SVCCA or PWCCA, within or across models."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import tyro

from mechscope.cli.common import Loading, LoadingArg, ModelArg, OutArg
from mechscope.core.jobs import Outcome
from mechscope.representations.choices import Method, Pooling

if TYPE_CHECKING:
    from mechscope.representations.similarities import Similarity
    from mechscope.viz.report import Report

RBF_FULL_LIMIT = 5000
"""Units above which RBF CKA needs --minibatch (its kernels are units x units)."""


@dataclass(frozen=True, kw_only=True)
class Config:
    """Compare every layer with every other, within one model or between two.

    Collects the residual stream at every boundary on the same units (words of a CoNLL-U
    file, or the tokens of prompts) and writes the boundary x boundary matrix (result.json +
    tensors.safetensors) and its heatmap (report.html); with MODEL2, the matrix between the
    two models plus each model's own (in self-1/ and self-2/). Example:
    mechscope similarity minilm --conllu en_ewt-ud-dev.conllu --out results/similarity
    """

    model: ModelArg
    model2: Annotated[str | None, tyro.conf.Positional, tyro.conf.arg(metavar="[MODEL2]")] = None
    """A second model (or checkpoint) to compare with the first."""
    conllu: Path | None = None
    """CoNLL-U file whose sentences are the input."""
    prompts: Path | None = None
    """Text file, one prompt per line."""
    max_sentences: int | None = 500
    """Read at most this many sentences or prompts (all: pass a large number)."""
    method: Method = Method.CKA
    """cka (linear, unbiased HSIC), rbf-cka, svcca or pwcca."""
    pooling: Pooling | None = None
    """Units compared (default: word-mean for --conllu, token for --prompts)."""
    minibatch: int | None = None
    """Minibatch CKA (Nguyen et al. 2021) with this many units per batch."""
    max_units: int | None = None
    """Compare a seeded sample of at most this many units."""
    standardize: bool = False
    """Z-score every feature first (a decoder's few huge outlier features otherwise decide
    linear CKA alone)."""
    out: OutArg = Path("results/similarity")
    """Output directory."""
    overwrite: bool = False
    """Replace results already in --out (the old ones stay until the new ones are complete)."""
    seed: int = 0
    """Seed of sampling and minibatches."""
    loading: LoadingArg = field(default_factory=Loading)
    """How the model is loaded: --device, --backend, --device-map."""


def run(cfg: Config) -> Outcome:
    """Collect both sides and compute the matrices (cross-model first, then each model's)."""
    from mechscope.cli.common import load_text_model
    from mechscope.core.errors import MechscopeError
    from mechscope.data.conllu import read_conllu
    from mechscope.data.prompts import read_prompts
    from mechscope.representations import collect, similarity_matrix

    if (cfg.conllu is None) == (cfg.prompts is None):
        raise MechscopeError("give the input as --conllu FILE or --prompts FILE (one of them).")
    if cfg.max_sentences is not None and cfg.max_sentences < 1:
        raise MechscopeError(f"--max-sentences must be at least 1, got {cfg.max_sentences}.")
    if cfg.minibatch is not None and cfg.method in (Method.SVCCA, Method.PWCCA):
        raise MechscopeError("--minibatch applies to cka and rbf-cka; drop it for svcca/pwcca.")
    if cfg.conllu is not None:
        inputs = read_conllu(cfg.conllu, cfg.max_sentences)
    else:
        assert cfg.prompts is not None
        inputs = read_prompts(cfg.prompts)[: cfg.max_sentences]
    default = Pooling.WORD_MEAN if cfg.conllu is not None else Pooling.TOKEN
    pooling = cfg.pooling or default
    specs = [cfg.model] + ([cfg.model2] if cfg.model2 else [])
    collected = []
    for spec in specs:
        model = load_text_model(spec, cfg.loading, "similarity")
        collected.append(collect(model, inputs, pooling=pooling))
        del model
    n_units = min(len(c.units) for c in collected)
    if (cfg.method is Method.RBF_CKA and cfg.minibatch is None
            and min(n_units, cfg.max_units or n_units) > RBF_FULL_LIMIT):  # fmt: skip
        raise MechscopeError(
            f"RBF CKA on {n_units} units builds {n_units} x {n_units} kernels; pass "
            "--minibatch 1000 (minibatch CKA) or --max-units 5000."
        )
    method = cfg.method
    kwargs = {"method": method, "minibatch": cfg.minibatch, "max_units": cfg.max_units,
              "standardize": cfg.standardize, "seed": cfg.seed}  # fmt: skip
    results = [similarity_matrix(c, **kwargs).with_provenance(cfg, c.provenance.model)
               for c in collected]  # fmt: skip
    if len(collected) == 2:
        cross = similarity_matrix(collected[0], collected[1], **kwargs)
        results.insert(0, cross.with_provenance(cfg, cfg.model))
    names = ["", "self-1", "self-2"] if len(collected) == 2 else [""]
    return Outcome(dict(zip(names, results, strict=True)), {"pooling": pooling, "specs": specs})


def summary(outcome: Outcome, cfg: Config) -> Iterator[str]:
    """The matrix (or the cross-model one), row by row."""
    main: Similarity = outcome.main  # pyright: ignore[reportAssignmentType]
    specs, pooling = outcome.context["specs"], outcome.context["pooling"]
    yield f"{' vs '.join(specs)}: {main.n_units} units ({pooling.value}), {cfg.method.value}"
    for i, row in enumerate(main.rows):
        yield f"  {row:<11} " + " ".join(f"{float(v):.2f}" for v in main.matrix[i])
    yield f"matrix: {cfg.out / 'result.json'}; report: {cfg.out / 'report.html'}"


def report(outcome: Outcome, cfg: Config) -> "Report":
    """Every matrix as a heatmap."""
    from mechscope.viz.representations import render_similarity

    title = f"{cfg.method.value.upper()}: {' vs '.join(outcome.context['specs'])}"
    return render_similarity(list(outcome.results.values()), title)  # pyright: ignore[reportArgumentType]
