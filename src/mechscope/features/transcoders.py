"""Transcoders: a sparse dictionary from what an MLP reads to what it writes.

A transcoder (Dunefsky et al. 2024) encodes the MLP's input (``ln2.hook_normalized``) into
sparse features and decodes them into the MLP's output (``hook_mlp_out``), so it replaces
the MLP by an interpretable, sparse layer. mechscope trains SAELens's ``Transcoder`` class
(ReLU, saved in SAELens format with ``d_out``) with an L1 penalty on the feature activations
weighted by their decoder norms, and splices it in place of the MLP: with the error term
(``mlp_out - transcoder(mlp_in)``) untouched features leave the model exactly as it was.
"""

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from mechscope.core.errors import MechscopeError
from mechscope.core.results import Result
from mechscope.core.sites import Component, hook_name
from mechscope.data.corpus import Corpus
from mechscope.features.activations import SiteReader, read_sites
from mechscope.features.config import Architecture, SaeRecipe
from mechscope.features.evaluate import SplicedLosses, window_losses
from mechscope.features.sites import mlp_input_hook
from mechscope.features.splicing import FeatureEdit
from mechscope.features.train import corpus_windows_for, prepare_out, save_evaluation
from mechscope.models.adapter import model_spec
from mechscope.models.base import Model

if TYPE_CHECKING:
    from sae_lens import Transcoder


def mlp_hooks(model: Model, layer: int) -> tuple[str, str]:
    """The MLP's input and output hook points at ``layer``.

    Raises:
        MechscopeError: a layer out of range, or a model without MLPs.
    """
    if not 0 <= layer < model.cfg.n_layers:
        raise MechscopeError(
            f"layer {layer} is out of range: the model has layers 0-{model.cfg.n_layers - 1}."
        )
    if model.cfg.attn_only:
        raise MechscopeError("a transcoder replaces an MLP, and this model is attention-only.")
    return mlp_input_hook(model, layer), hook_name(Component.MLP_OUT, layer)


def mlp_activations(
    model: Model,
    windows: Int[Tensor, "batch pos"],
    layer: int,
    *,
    batch_size: int = 8,
    skip_bos: bool = True,
    progress: bool = True,
) -> tuple[Float[Tensor, "token d_in"], Float[Tensor, "token d_in"]]:
    """The MLP's input and output at ``layer`` for every real token of ``windows``."""
    inputs, outputs = read_sites(model, windows, mlp_hooks(model, layer), batch_size=batch_size,
                                 skip_bos=skip_bos, progress=progress,
                                 desc=f"MLP {layer} activations")  # fmt: skip
    return inputs, outputs


def fit_transcoder(
    inputs: Float[Tensor, "token d_in"],
    targets: Float[Tensor, "token d_in"],
    recipe: SaeRecipe,
    *,
    device: str = "cpu",
    progress: bool = True,
) -> "Transcoder":
    """Train a ReLU transcoder from ``inputs`` to ``targets`` (Adam, L1 x decoder norm).

    ``recipe``: its width (or expansion), ``sparsity_coefficient`` (the L1 weight), tokens,
    batch size, learning rate (linear warm-up over the first 5 % of steps) and seed.
    """
    import sae_lens

    d_in, d_out = inputs.shape[-1], targets.shape[-1]
    width = replace(recipe, architecture=Architecture.RELU).width_for(d_in)  # a ReLU dictionary
    torch.manual_seed(recipe.seed)
    config = sae_lens.TranscoderConfig(
        d_in=d_in, d_sae=width, d_out=d_out, apply_b_dec_to_input=False, device=device
    )
    transcoder = sae_lens.Transcoder(config)
    with torch.no_grad():
        transcoder.W_dec.mul_(0.1 / transcoder.W_dec.norm(dim=1, keepdim=True))
        transcoder.W_enc.copy_(transcoder.W_dec.T * (d_out / d_in) ** 0.5)
        transcoder.b_dec.copy_(targets.mean(0))
    optimizer = torch.optim.Adam(transcoder.parameters(), lr=recipe.lr)
    steps = max(1, recipe.tokens // recipe.batch_size)
    warmup = max(1, steps // 20)
    generator = torch.Generator().manual_seed(recipe.seed)
    order = torch.randperm(len(inputs), generator=generator)
    position = 0
    scale = float(targets.var(0).sum())  # the loss is in units of the target's variance
    for step in tqdm(range(steps), desc="training the transcoder", disable=not progress):
        if position + recipe.batch_size > len(order):
            order, position = torch.randperm(len(inputs), generator=generator), 0
        index = order[position : position + recipe.batch_size]
        position += recipe.batch_size
        x, y = inputs[index].to(device), targets[index].to(device)
        features = transcoder.encode(x)
        error = ((transcoder.decode(features) - y) ** 2).sum(-1).mean() / scale
        sparsity = (features * transcoder.W_dec.norm(dim=1)).sum(-1).mean()
        loss = error + recipe.sparsity_coefficient * sparsity / scale**0.5
        for group in optimizer.param_groups:
            group["lr"] = recipe.lr * min(1.0, (step + 1) / warmup)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(transcoder.parameters(), 1.0)
        optimizer.step()
    transcoder.eval()
    return transcoder


@contextmanager
def splice_transcoder(
    model: Model,
    transcoder: "Transcoder",
    layer: int,
    edits: Sequence[FeatureEdit] = (),
    *,
    error_term: bool = True,
) -> Iterator[Model]:
    """Within the block, the MLP at ``layer`` writes what the (edited) transcoder predicts.

    With ``error_term`` its output becomes ``mlp_out + (decode(edited) - decode(features))``
    (exactly ``mlp_out`` without edits); without, the transcoder's output alone.

    Raises:
        MechscopeError: a layer out of range, a model without MLPs, or a transcoder of another
            width.
    """
    read, write = mlp_hooks(model, layer)
    if transcoder.cfg.d_in != model.cfg.d_model:
        raise MechscopeError(
            f"the transcoder reads activations of width {transcoder.cfg.d_in}, but the MLP "
            f"input has width {model.cfg.d_model}: it was trained on another model."
        )
    seen: dict[str, Tensor] = {}

    def remember(act: Tensor, hook: Any) -> None:  # noqa: ANN401, ARG001 - a hook
        seen["features"] = transcoder.encode(act.to(transcoder.dtype))

    def replace(act: Tensor, hook: Any) -> Tensor:  # noqa: ANN401, ARG001 - a hook
        features = seen.pop("features")
        edited = features
        for edit in edits:
            edited = edit.apply(edited)
        if not error_term:
            return transcoder.decode(edited).to(act.dtype)
        return (act + (transcoder.decode(edited) - transcoder.decode(features))).to(act.dtype)

    with model.hooks(fwd_hooks=[(read, remember), (write, replace)]):  # pyright: ignore[reportArgumentType]
        yield model


@dataclass(frozen=True)
class TranscoderEvaluation(SplicedLosses, Result):
    """A transcoder measured in place of its MLP on held-out windows."""

    kind: ClassVar[str] = "transcoder-evaluation"
    layer: int
    n_tokens: int
    explained_variance: float
    """Of the MLP's output: 1 - sum |y - y_hat|^2 / sum |y - mean y|^2."""
    l0: float
    density: Float[Tensor, " feature"]
    losses: Float[Tensor, "run window"] | None
    """Mean next-token loss per window: clean, transcoder in place of the MLP, MLP
    zero-ablated, MLP mean-ablated, transcoder with its error term (None for an encoder)."""

    def metrics(self) -> dict[str, float]:
        """Every number as a flat dict (``metrics.json``)."""
        out = {"explained_variance": self.explained_variance, "l0": self.l0,
               "dead_fraction": float((self.density == 0).float().mean()),
               "n_tokens": float(self.n_tokens)}  # fmt: skip
        return out | self.loss_metrics()

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row: every metric."""
        import pandas as pd

        return pd.DataFrame([self.metrics()])


@torch.no_grad()
def evaluate_transcoder(
    model: Model,
    transcoder: "Transcoder",
    layer: int,
    windows: Int[Tensor, "batch pos"],
    *,
    batch_size: int = 8,
    progress: bool = True,
) -> TranscoderEvaluation:
    """Measure ``transcoder`` in place of the MLP at ``layer`` on held-out ``windows``."""
    inputs, outputs = mlp_activations(model, windows, layer, batch_size=batch_size,
                                      progress=progress)  # fmt: skip
    features = transcoder.encode(inputs.to(transcoder.dtype))
    predicted = transcoder.decode(features).float()
    variance = float(((outputs - outputs.mean(0)) ** 2).sum())
    explained = 1 - float(((outputs - predicted) ** 2).sum()) / variance
    _, write = mlp_hooks(model, layer)
    mean_out = outputs.mean(0)

    def replaced(fn: Any) -> Any:  # noqa: ANN401 - a hook function -> a context manager
        return model.hooks(fwd_hooks=[(write, fn)])  # pyright: ignore[reportArgumentType]

    runs = [  # in `LOSSES` order
        nullcontext,
        lambda: splice_transcoder(model, transcoder, layer, error_term=False),
        lambda: replaced(lambda act, hook: torch.zeros_like(act)),  # noqa: ARG005
        lambda: replaced(lambda act, hook: mean_out.to(act.device, act.dtype).expand_as(act)),  # noqa: ARG005
        lambda: splice_transcoder(model, transcoder, layer, error_term=True),
    ]
    batches = [windows[i : i + batch_size] for i in range(0, windows.shape[0], batch_size)]
    table = window_losses(model, batches, runs)
    return TranscoderEvaluation(
        layer=layer, n_tokens=int(inputs.shape[0]), explained_variance=explained,
        l0=float((features > 0).float().sum(-1).mean()),
        density=(features > 0).float().mean(0).cpu(), losses=table,
    )  # fmt: skip


def load_transcoders(directory: str | Path, *, device: str = "cpu") -> dict[int, "Transcoder"]:
    """Every transcoder in ``directory``, by layer.

    ``directory`` holds ``transcoder-LAYER/`` subdirectories (as `mechscope sae train
    --transcoder` writes them), or is one transcoder's directory.

    Raises:
        MechscopeError: a directory holding no transcoder, or an SAE that is no transcoder.
    """
    from mechscope.features.sae import load_sae

    path = Path(directory).expanduser()
    found = sorted(path.glob("transcoder-*/cfg.json")) or sorted(path.glob("cfg.json"))
    if not found:
        raise MechscopeError(
            f"{path} holds no transcoders (no transcoder-LAYER/cfg.json); train them with "
            "`mechscope sae train MODEL --transcoder`."
        )
    transcoders = {}
    for cfg in found:
        transcoder = load_sae(cfg.parent, device=device)
        hook = str(transcoder.cfg.metadata.hook_name or "")
        if getattr(transcoder.cfg, "d_out", None) is None:
            raise MechscopeError(f"{cfg.parent} holds an SAE, not a transcoder.")
        try:
            layer = int(hook.split(".")[1])
        except (IndexError, ValueError):
            raise MechscopeError(f"{cfg.parent}: its hook {hook!r} names no layer.") from None
        transcoders[layer] = transcoder
    return transcoders


@dataclass(frozen=True)
class TrainedTranscoder:
    """A trained transcoder, where it was saved, and how it measured on held-out text."""

    transcoder: "Transcoder"
    directory: Path
    evaluation: TranscoderEvaluation


def train_transcoder(
    model: Model,
    layer: int,
    corpus: Corpus,
    recipe: SaeRecipe,
    out: str | Path,
    *,
    device: str = "cpu",
    progress: bool = True,
) -> TrainedTranscoder:
    """Train a transcoder for the MLP at ``layer``; save it (SAELens format) and measure it.

    ``OUT/recipe.json``, ``OUT/cfg.json`` + ``sae_weights.safetensors``, ``OUT/metrics.json``
    and ``OUT/evaluation/``. Transcoder runs write no checkpoints (they train in minutes).

    Raises:
        MechscopeError: a model without MLPs, a layer out of range, or an ``out`` that holds
            something else.
    """
    trained = train_transcoders(model, [layer], corpus, recipe, {layer: out}, device=device,
                                progress=progress)  # fmt: skip
    return trained[layer]


def train_transcoders(
    model: Model,
    layers: Sequence[int],
    corpus: Corpus,
    recipe: SaeRecipe,
    outs: Mapping[int, str | Path],
    *,
    device: str = "cpu",
    progress: bool = True,
    reader: SiteReader | None = None,
) -> dict[int, TrainedTranscoder]:
    """One transcoder per layer of ``layers``, saved into ``outs[layer]`` as it finishes.

    ``reader``: how the training activations are read (default: `read_sites`, in this
    process; `mechscope.executors.sharded_read_sites` reads them on workers).

    Every layer's MLP input and output are read in one pass over the training windows (the
    model runs once, as far as the last layer, not once per layer), then each transcoder is
    fitted and measured as `train_transcoder` describes.

    Raises:
        MechscopeError: a model without MLPs, a layer out of range, or an ``out`` that holds
            something else (all checked before anything is read).
    """
    hooks = {layer: mlp_hooks(model, layer) for layer in layers}
    for layer, (read, write) in hooks.items():
        record = {"recipe": recipe.to_json(), "model": model_spec(model), "hook": read,
                  "output": write, "transcoder": True}  # fmt: skip
        prepare_out(Path(outs[layer]), record)
    windows = corpus_windows_for(model, corpus.train.tobytes(), recipe.read_tokens, recipe)
    names = [name for pair in hooks.values() for name in pair]
    values = (
        reader(model, windows, names)
        if reader is not None
        else read_sites(model, windows, names, progress=progress, desc="MLP activations")
    )
    acts = dict(zip(names, values, strict=True))
    held_out = corpus_windows_for(model, corpus.held_out.tobytes(), recipe.eval_tokens, recipe,
                                  seed=recipe.seed + 1)  # fmt: skip
    trained = {}
    for layer, (read, write) in hooks.items():
        inputs, outputs = acts.pop(read), acts.pop(write)
        transcoder = fit_transcoder(inputs[: recipe.read_tokens], outputs[: recipe.read_tokens],
                                    recipe, device=device, progress=progress)  # fmt: skip
        del inputs, outputs
        transcoder.cfg.metadata.hook_name = read
        transcoder.cfg.metadata.hook_name_out = write
        transcoder.cfg.metadata.model_name = model_spec(model)
        out = Path(outs[layer])
        transcoder.save_model(out)
        evaluation = evaluate_transcoder(model, transcoder, layer, held_out, progress=progress)
        evaluation = save_evaluation(out, evaluation.with_provenance(recipe, model_spec(model)))
        trained[layer] = TrainedTranscoder(transcoder, out, evaluation)
    return trained
