"""Cache once, pass it on: a job's clean and corrupted runs, each run once.

`RunCache` is one batch run through the model: its logits (the baseline every front-end
needs) and the activations cached so far, run on first use. Asking for hook points it lacks
runs the batch once more for exactly those (``names_filter``), so a job that names the union
of what it needs up front (`PairedRuns.run(..., names=...)`) runs each side once. `PairedRuns` holds
the clean and corrupted `RunCache` of one task with its metric; activation, attribution and
path patching all take it. A batch is token ids (`TokenBatch`) or images (`ImageBatch`): the
model's adapter says how to run either.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from mechscope.core.batch import ImageBatch, ImageError, TokenBatch
from mechscope.core.errors import MechscopeError, PromptError
from mechscope.core.metrics import LogitsFn, Metric, as_metric, scalar
from mechscope.models.adapter import adapt
from mechscope.models.base import Model
from mechscope.models.tokens import str_tokens


@dataclass
class RunCache:
    """One batch run through the model: logits and the activations cached so far.

    Nothing runs until something is asked for: ``logits`` or `get` runs the batch once (the
    logits and the asked-for activations together); a later `get` of hook points not cached
    yet runs it once more for exactly those.
    """

    model: Model
    batch: TokenBatch | ImageBatch
    cached_logits: Tensor | None = None
    activations: dict[str, Tensor] = field(default_factory=dict)
    passes: int = 0
    """Forward passes made for this batch so far (1 when everything was named up front)."""

    @classmethod
    @torch.no_grad()
    def run(
        cls, model: Model, batch: TokenBatch | ImageBatch, names: Iterable[str] = ()
    ) -> "RunCache":
        """Run ``batch`` once, caching the hook points ``names`` (none: run on first use).

        Raises:
            MechscopeError: a name that is no hook point of this model.
        """
        names = sorted(set(names))
        check_hook_names(model, names)
        runs = cls(model, batch)
        if names:
            runs.get(names)
        return runs

    @property
    def logits(self) -> Tensor:
        """The batch's logits (the first use runs the batch)."""
        if self.cached_logits is None:
            self.get([])
        assert self.cached_logits is not None
        return self.cached_logits

    @property
    def has_run(self) -> bool:
        """Whether the batch has been run (its logits exist)."""
        return self.cached_logits is not None

    @torch.no_grad()
    def get(self, names: Iterable[str]) -> dict[str, Tensor]:
        """The activations at ``names``; what is missing costs one pass (for all of it).

        The batch's first pass also keeps its logits.
        """
        names = sorted(set(names))
        missing = [name for name in names if name not in self.activations]
        want_logits = self.cached_logits is None
        if missing or want_logits:
            out, cache = self.model.run_with_cache(
                self.batch.inputs,
                names_filter=missing,
                return_type="logits" if want_logits else None,
                **adapt(self.model).forward_kwargs(self.batch),
            )
            if want_logits:
                self.cached_logits = out
            self.activations.update({name: cache[name] for name in missing})
            self.passes += 1
        return {name: self.activations[name] for name in names}


def check_hook_names(model: Model, names: Iterable[str]) -> None:
    """Raise `MechscopeError` for the first name that is not a hook point of ``model``."""
    for name in names:
        if name not in model.hook_dict:
            kind = name.rsplit(".", 1)[-1].removeprefix("hook_")
            why = (
                " (attention-only models have no resid_mid, mlp_in or mlp_out)"
                if model.cfg.attn_only else ""
            )  # fmt: skip
            raise MechscopeError(
                f"this model has no {kind} at {name}{why}; drop that site and run again."
            )


@dataclass
class PairedRuns:
    """The clean and corrupted runs of a task, its metric, and their baselines."""

    clean: RunCache
    corrupted: RunCache
    metric: Metric

    @classmethod
    def run(
        cls,
        model: Model,
        clean: TokenBatch | ImageBatch,
        corrupted: TokenBatch | ImageBatch,
        metric: Metric | LogitsFn,
        names: Iterable[str] = (),
    ) -> "PairedRuns":
        """Both batches, each to run once, caching ``names`` (the union a job will patch from).

        Raises:
            PromptError: token batches that differ in count, width, or any pair's length.
            ImageError: image batches of different shapes.
        """
        check_same_lengths(model, clean, corrupted)
        names = sorted(set(names))
        return cls(
            RunCache.run(model, clean, names),
            RunCache.run(model, corrupted, names),
            as_metric(metric),
        )

    @property
    def model(self) -> Model:
        """The model both runs went through."""
        return self.clean.model

    @property
    def clean_value(self) -> float:
        """The metric on the clean run."""
        return scalar(self.metric(self.clean.logits))

    @property
    def corrupted_value(self) -> float:
        """The metric on the corrupted run."""
        return scalar(self.metric(self.corrupted.logits))

    def clean_tokens(self) -> list[str]:
        """Labels for positions: the first clean prompt's tokens, or an image's positions."""
        batch = self.clean.batch
        if isinstance(batch, ImageBatch):
            return batch.position_labels()
        return str_tokens(self.model, batch.unpadded(0).tolist())


def check_same_lengths(
    model: Model, clean: TokenBatch | ImageBatch, corrupted: TokenBatch | ImageBatch
) -> None:
    """Raise `PromptError` unless every clean/corrupted pair has the same token length.

    Images: `ImageError` unless both batches have the same shape.
    """
    if isinstance(clean, ImageBatch) or isinstance(corrupted, ImageBatch):
        if not (isinstance(clean, ImageBatch) and isinstance(corrupted, ImageBatch)):
            raise ImageError("pair images with images and prompts with prompts.")
        if clean.pixels.shape != corrupted.pixels.shape or clean.patch_size != corrupted.patch_size:
            raise ImageError(
                f"clean {tuple(clean.pixels.shape)} and corrupted "
                f"{tuple(corrupted.pixels.shape)} images differ in shape; give one corrupted "
                "image per clean one."
            )
        return
    if clean.tokens.shape[0] != corrupted.tokens.shape[0]:
        raise PromptError("clean and corrupted batches hold different numbers of prompts.")
    for i, (a, b) in enumerate(
        zip(clean.lengths.tolist(), corrupted.lengths.tolist(), strict=True)
    ):
        if a != b:
            shown = [str_tokens(model, batch.unpadded(i).tolist()) for batch in (clean, corrupted)]
            raise PromptError(
                f"pair {i}: the clean prompt has {a} tokens {shown[0]} but the corrupted one "
                f"has {b} {shown[1]}; positions must line up, so reword one of them."
            )
    if clean.tokens.shape != corrupted.tokens.shape:
        raise PromptError("clean and corrupted batches are padded to different widths.")
