"""One training loop (`fit`) for every model, with checkpoints, exact resume and metric logging.

Text and vision supply their data, loss and evaluation as a `TrainingCallbacks`; `train` trains
a small HookedTransformer on text with it (`mechscope.training.vision.train_vit`: a ViT on
images).
"""

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from jaxtyping import Int
from tqdm.auto import tqdm
from transformer_lens.utilities import lm_cross_entropy_loss

from mechscope.core.batch import TokenBatch
from mechscope.core.errors import Interrupted, MechscopeError
from mechscope.data.byte_tokenizer import VOCAB_SIZE, save_byte_tokenizer
from mechscope.data.corpus import Corpus, load_corpus
from mechscope.models.base import Model, quiet_transformer_lens, resolve_device
from mechscope.models.checkpoint import load_checkpoint, save_checkpoint
from mechscope.models.legacy import HookedTransformer, HookedTransformerConfig
from mechscope.training import run_dir as rd
from mechscope.training.batches import (
    EVAL_SEED,
    eval_icl_batch,
    eval_text_batch,
    step_generator,
    training_batch,
)
from mechscope.training.config import TrainConfig, VitTrainConfig
from mechscope.training.evaluation import TrainingRecord, eval_settings, evaluate
from mechscope.training.health import gradient_snapshot, health, should_stop
from mechscope.training.remedies import Remedies, scale_initial_weights


class TrainingInterrupted(Interrupted):
    """Ctrl-C during training; the last checkpoint is intact."""


class TrainingDiverged(MechscopeError):
    """The training loss became infinite or NaN; the last checkpoint is intact."""


@dataclass(frozen=True)
class TrainRun:
    """A finished (or resumed-to-completion) run."""

    run_dir: Path
    config: TrainConfig
    records: list[TrainingRecord]
    """Every logged evaluation (the lines of metrics.jsonl)."""
    final_checkpoint: Path
    stopped_early_at: int | None = None
    """The step early stopping ended the run at (None: it ran all its steps)."""


def model_config(cfg: TrainConfig) -> HookedTransformerConfig:
    """The TransformerLens config of the model a TrainConfig trains."""
    return HookedTransformerConfig(
        n_layers=cfg.n_layers,
        n_heads=cfg.n_heads,
        d_model=cfg.d_model,
        d_head=cfg.d_model // cfg.n_heads,
        d_mlp=None if cfg.attn_only else 4 * cfg.d_model,
        attn_only=cfg.attn_only,
        n_ctx=cfg.n_ctx,
        d_vocab=VOCAB_SIZE,
        act_fn="gelu",
        normalization_type="LN" if cfg.layer_norm else None,
        positional_embedding_type="standard" if cfg.positions == "learned" else "alibi",
        use_local_attn=bool(cfg.attn_window),
        attn_types=["local"] * cfg.n_layers if cfg.attn_window else None,
        window_size=cfg.attn_window or None,
        use_qk_norm=cfg.qk_norm,
        seed=cfg.seed,
        device="cpu",
        model_name=f"mechscope-{cfg.n_layers}l{'-attn-only' if cfg.attn_only else ''}"
        + ("" if cfg.layer_norm else "-no-ln"),
    )


def learning_rate(cfg: TrainConfig | VitTrainConfig, step: int) -> float:
    """Linear warm-up to ``lr``, then constant or (``schedule="cosine"``) a cosine decay.

    The cosine falls from ``lr`` at the end of warm-up to ``min_lr_fraction x lr`` at the
    last step.
    """
    warmup = max(1, cfg.warmup_steps)
    if step < warmup or cfg.schedule == "constant":
        return cfg.lr * min(1.0, (step + 1) / warmup)
    progress = min(1.0, (step - warmup) / max(1, cfg.steps - 1 - warmup))
    low = cfg.min_lr_fraction
    return cfg.lr * (low + (1 - low) * 0.5 * (1 + math.cos(math.pi * progress)))


def build_optimizer(
    model: torch.nn.Module, remedies: Remedies, cfg: TrainConfig | VitTrainConfig
) -> torch.optim.Optimizer:
    """AdamW on the model's parameters (with weight decay) and the remedies' (without)."""
    groups: list[dict[str, Any]] = [{"params": list(model.parameters())}]
    if extra := list(remedies.parameters()):
        groups.append({"params": extra, "weight_decay": 0.0})
    return torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)


def restore_optimizer(
    optimizer: torch.optim.Optimizer,
    checkpoint: Path | None,
    model: torch.nn.Module | None = None,
    remedies: Remedies | None = None,
) -> float:
    """Load the state saved with ``checkpoint``; the run's elapsed seconds (0: none).

    The optimiser's state, and (a recipe whose remedies fold into the saved weights) the
    model's raw parameters and the remedies' own, so training goes on bit-identically.
    """
    if checkpoint is None:
        return 0.0
    state = torch.load(checkpoint / rd.TRAINING_STATE, weights_only=True)
    optimizer.load_state_dict(state["optimizer"])
    if model is not None and "raw_model" in state:
        model.load_state_dict(state["raw_model"])
    if remedies is not None and "remedies" in state:
        remedies.load_state_dict(state["remedies"])
    return float(state["elapsed_s"])


def optimizer_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    cfg: TrainConfig | VitTrainConfig,
    loss: torch.Tensor,
    snapshot: bool,
) -> torch.Tensor | None:
    """Backward, (``snapshot``) the gradient norms before clipping, clip, step, zero."""
    loss.backward()
    grads = gradient_snapshot(model, cfg.n_layers) if snapshot else None
    if cfg.grad_clip > 0:
        params = [p for group in optimizer.param_groups for p in group["params"]]
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return grads


def _last_checkpoint(run_dir: Path) -> str:
    saved = rd.list_checkpoints(run_dir)
    return f"step {saved[-1][0]}" if saved else "none yet"


def interrupted(run_dir: Path) -> TrainingInterrupted:
    """The error for Ctrl-C: which checkpoint is the last complete one, and how to go on."""
    return TrainingInterrupted(
        f"interrupted; the last complete checkpoint is {_last_checkpoint(run_dir)}. Continue "
        "with --resume."
    )


@runtime_checkable
class TrainingCallbacks(Protocol):
    """What a kind of model brings to the one training loop (`fit`): data, loss, evaluation.

    Text (`train`) and vision (`mechscope.training.vision.train_vit`) each supply one; the
    loop owns the rest: the learning-rate schedule, the optimiser step with gradient
    snapshots and clipping, evaluation every ``eval_every`` steps, atomic checkpoints, early
    stopping, Ctrl-C and the progress bar.
    """

    def loss(self, model: Model, step: int) -> torch.Tensor:
        """The training loss of batch ``step`` (drawn reproducibly from the step)."""
        ...

    def evaluate(
        self,
        model: Model,
        step: int,
        train_loss: float | None,
        elapsed_s: float,
        grads: torch.Tensor | None,
    ) -> Any:  # noqa: ANN401 - the callbacks' record type (with to_json)
        """The record logged at ``step`` (``grads``: the gradient snapshot, None at step 0)."""
        ...

    def postfix(self, record: Any) -> dict[str, str]:  # noqa: ANN401
        """What the progress bar shows after an evaluation."""
        ...

    def stop(self, record: Any) -> bool:  # noqa: ANN401
        """Whether training ends after this evaluation (early stopping)."""
        ...


def fit(
    model: Model,
    optimizer: torch.optim.Optimizer,
    cfg: TrainConfig | VitTrainConfig,
    run_dir: Path,
    callbacks: TrainingCallbacks,
    *,
    start: int,
    elapsed: float,
    progress: bool,
    remedies: Remedies | None = None,
) -> int | None:
    """The one training loop: steps ``start..cfg.steps`` with ``callbacks``; the step it stopped at.

    Logs an evaluation at step 0 (a fresh run) and every ``eval_every`` steps into
    ``metrics.jsonl``, checkpoints every ``checkpoint_every`` steps, at the end and when the
    callbacks stop it early (then that step is returned; None: all steps ran). ``remedies``
    (`mechscope.training.remedies`) act on every training step (dropout, regularisers added
    to the loss) and evaluation (temperature, sigma-reparam); the logged training loss is the
    task's alone.

    Raises:
        TrainingInterrupted: Ctrl-C; the last checkpoint stays usable (resume from it).
    """
    if remedies is None:
        remedies = Remedies(cfg, cfg.n_layers, cfg.n_heads, cfg.seed)

    def log(step: int, train_loss: float | None, grads: torch.Tensor | None) -> Any:  # noqa: ANN401
        with remedies.applied(model, None):
            record = callbacks.evaluate(model, step, train_loss, round(elapsed, 2), grads)
        rd.append_metrics(run_dir, record.to_json())
        return record

    if start == 0:
        log(0, None, None)
    model.train()
    losses: list[float] = []
    bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, disable=not progress)
    stopped_at: int | None = None
    began = time.perf_counter() - elapsed
    try:
        for step in bar:
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(cfg, step)
            with remedies.applied(model, step) as captured:
                loss = callbacks.loss(model, step)
            if not math.isfinite(value := loss.item()):
                raise TrainingDiverged(
                    f"the training loss became {value} at step {step + 1}; the run stopped "
                    f"(last complete checkpoint: {_last_checkpoint(run_dir)}). Lower the "
                    "learning rate or clip gradients (--grad-clip)."
                )
            done = step + 1
            evaluating = done % cfg.eval_every == 0 or done == cfg.steps
            if remedies.active:
                loss = loss + remedies.penalty(captured)
            grads = optimizer_step(model, optimizer, cfg, loss, evaluating)
            losses.append(value)
            stop = False
            if evaluating:
                elapsed = time.perf_counter() - began
                record = log(done, sum(losses) / len(losses), grads)
                losses.clear()
                bar.set_postfix(callbacks.postfix(record))
                stop = callbacks.stop(record)
            if done % cfg.checkpoint_every == 0 or done == cfg.steps or stop:
                save_training_checkpoint(model, optimizer, cfg, run_dir, done, elapsed, remedies)
            if stop:
                stopped_at = done
                break
    except KeyboardInterrupt:
        raise interrupted(run_dir) from None
    finally:
        bar.close()
    return stopped_at


@dataclass
class TextCallbacks:
    """Next-byte prediction on a corpus, with the induction and ICL evaluations."""

    cfg: TrainConfig
    corpus: Corpus
    history: list[TrainingRecord]
    device: str | torch.device = "cpu"
    """Where the model trains: batches are drawn on the CPU (the same recipe sees the same
    bytes anywhere) and moved there."""
    text_eval: torch.Tensor = field(init=False)
    repeat_eval: Any = field(init=False)
    icl_eval: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        cfg = self.cfg
        self.text_eval = eval_text_batch(cfg, self.corpus.held_out).to(self.device)
        self.repeat_eval = eval_settings(cfg.eval_prompts, cfg.repeat_half_length, EVAL_SEED)
        self.icl_eval = eval_icl_batch(cfg, self.corpus.held_out).to(self.device)

    def loss(self, model: Model, step: int) -> torch.Tensor:
        """Next-byte loss on batch ``step`` (``token_noise``: on corrupted inputs)."""
        tokens = training_batch(self.cfg, self.corpus.train, step)
        if not self.cfg.token_noise:
            return model(tokens.to(self.device), return_type="loss")
        noisy = noisy_tokens(tokens, self.cfg.token_noise, self.cfg.seed, step)  # on the CPU
        return lm_cross_entropy_loss(model(noisy.to(self.device)), tokens.to(self.device))

    def evaluate(
        self,
        model: Model,
        step: int,
        train_loss: float | None,
        elapsed_s: float,
        grads: torch.Tensor | None,
    ) -> TrainingRecord:
        """Held-out loss, induction and ICL scores, and the health records."""
        cfg = self.cfg
        record = TrainingRecord(
            step=step,
            tokens_seen=step * cfg.batch_size * cfg.n_ctx,
            train_loss=train_loss,
            elapsed_s=elapsed_s,
            evaluation=evaluate(
                model, self.text_eval, self.repeat_eval, self.icl_eval, cfg.icl_bands
            ),  # fmt: skip
            health=health(model, TokenBatch.full(self.text_eval), grads),
        )
        self.history.append(record)
        return record

    def postfix(self, record: TrainingRecord) -> dict[str, str]:
        """Training loss and the best induction score."""
        best = record.evaluation.best_induction_score
        return {"loss": f"{record.train_loss:.3f}", "induction": f"{best:.2f}"}

    def stop(self, record: TrainingRecord) -> bool:  # noqa: ARG002 - reads the history
        """`should_stop` on the held-out and training losses so far."""
        held_out = [r.evaluation.held_out_loss for r in self.history]
        train_losses = [r.train_loss for r in self.history]
        return should_stop(held_out, train_losses, self.cfg.early_stop_patience)


def noisy_tokens(
    tokens: Int[torch.Tensor, "batch pos"], share: float, seed: int, step: int
) -> Int[torch.Tensor, "batch pos"]:
    """``tokens`` with ``share`` of them (never BOS at position 0) replaced by random bytes.

    The replacements are drawn from a generator seeded by the step, so resuming is exact.
    """
    generator = step_generator(seed, step + NOISE_SALT)
    hit = torch.rand(tokens.shape, generator=generator) < share
    hit[:, 0] = False
    random = torch.randint(0, 256, tokens.shape, generator=generator)
    return torch.where(hit, random, tokens)


NOISE_SALT = 104_729
"""Offsets the token-noise generator's seed from the batch and dropout generators'."""


def train(
    cfg: TrainConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    device: str | torch.device = "cpu",
) -> TrainRun:
    """Train a model with ``cfg``, writing checkpoints and metrics into ``run_dir``.

    ``device``: where the model trains (batches are drawn on the CPU, so the same recipe
    sees the same bytes anywhere; a run on a GPU is not bit-identical to one on the CPU).

    Raises:
        CorpusError: an empty, binary or too-small corpus.
        RunDirError: an unwritable directory, an existing run without ``resume``, or a resume
            whose config differs from the saved one.
        TrainingInterrupted: Ctrl-C; the last checkpoint stays usable (resume from it).
    """
    run_dir = Path(run_dir)
    device = resolve_device(device)  # a device this machine lacks: one line, before any work
    corpus = load_corpus(cfg.corpus or None)
    corpus.check_fits(cfg.n_ctx)
    if resume and (run_dir / rd.CONFIG_FILE).exists() and not rd.list_checkpoints(run_dir):
        resume = False  # the run never saved a checkpoint: resuming is starting it again
    if resume:
        start, latest = rd.check_resumable(run_dir, cfg)
        model = load_checkpoint(latest, device=device)
        if not isinstance(model, HookedTransformer):
            raise rd.RunDirError(f"{latest} holds an encoder, not a trained decoder.")
        rd.keep_metrics_up_to(run_dir, start)
    else:
        rd.start_run_dir(run_dir, cfg)
        tokenizer = save_byte_tokenizer(run_dir / "tokenizer")
        with quiet_transformer_lens():
            model = HookedTransformer(model_config(cfg), tokenizer=tokenizer, move_to_device=False)
        scale_initial_weights(model, cfg, cfg.n_layers)
        model.to(device, print_details=False)
        start, latest = 0, None
    remedies = Remedies(cfg, cfg.n_layers, cfg.n_heads, cfg.seed).to(device)
    optimizer = build_optimizer(model, remedies, cfg)
    elapsed = restore_optimizer(optimizer, latest, model, remedies)
    history = [TrainingRecord.from_json(r) for r in rd.read_metrics(run_dir)] if resume else []
    callbacks = TextCallbacks(cfg, corpus, history, device)
    stopped_at = fit(model, optimizer, cfg, run_dir, callbacks, start=start, elapsed=elapsed,
                     progress=progress, remedies=remedies)  # fmt: skip
    records = [TrainingRecord.from_json(r) for r in rd.read_metrics(run_dir)]
    final = stopped_at if stopped_at is not None else cfg.steps
    return TrainRun(run_dir, cfg, records, rd.checkpoint_dir(run_dir, final), stopped_at)


def save_training_checkpoint(
    model: Model,
    optimizer: torch.optim.Optimizer,
    cfg: TrainConfig | VitTrainConfig,
    run_dir: Path,
    step: int,
    elapsed_s: float,
    remedies: Remedies | None = None,
) -> Path:
    """Write the checkpoint of ``step`` atomically (temporary directory, then rename).

    With remedies that fold into the weights, the checkpoint holds the folded model (what
    analyses load) and the training state the raw parameters (what a resume continues from).
    """
    final = rd.checkpoint_dir(run_dir, step)
    tmp = final.with_name(final.name + ".tmp")
    metadata: dict[str, Any] = {"step": step, "train_config": cfg.to_json(),
                                "elapsed_s": elapsed_s}  # fmt: skip
    state: dict[str, Any] = {"optimizer": optimizer.state_dict(), "elapsed_s": elapsed_s}
    saved = model
    if remedies is not None and remedies.folds:
        saved = remedies.folded(model)
        metadata["remedies"] = remedies.summary()
        state |= {"raw_model": model.state_dict(), "remedies": remedies.state_dict()}
    save_checkpoint(saved, tmp, metadata=metadata)
    torch.save(state, tmp / rd.TRAINING_STATE)
    rd.publish(tmp, final)
    return final
