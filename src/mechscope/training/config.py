"""The training recipe: every knob of a run, with its default and why.

Natural text alone needs billions of tokens before induction heads form. The default recipe
therefore mixes, in every batch, windows of real text (the corpus) with rows of random byte
spans that each repeat once (``repeat_fraction`` of the rows). The spans' lengths vary, so
only content, not position, predicts the repeat: the task induction heads solve.

Measured on 2 CPU cores (d_model 128, 4 heads, context 128, batch 32, lr 1e-3): with half of
each batch repeated spans of 8-48 bytes, no induction head had formed after 4000 steps; with
three quarters repeated spans of 16-64 bytes (the default) the phase change came at about
step 1550, after about 2.5 minutes.
"""

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal


def json_differences(
    mine: dict[str, Any], theirs: dict[str, Any], ignore: tuple[str, ...] = ()
) -> list[str]:
    """``field: mine -> theirs`` for every field of two recipes' JSON that differs."""
    return [f"{k}: {mine[k]!r} -> {theirs[k]!r}"
            for k in mine if k not in ignore and mine[k] != theirs[k]]  # fmt: skip


MAX_LAYERS = 12
"""The deepest model the trainer builds (the diagnostics reproductions use 6-12 blocks)."""


@dataclass(frozen=True, kw_only=True)
class RemedyOptions:
    """The remedies for what the diagnostics find, shared by the text and ViT recipes.

    Each is off by default, so a recipe without them trains exactly as before. How each works
    and what it does to the saved model: `mechscope.training.remedies`.
    """

    attn_temperature: float = 1.0
    """Softmax temperature of every head's attention logits (logits / T; 1: off)."""
    learned_temperature: bool = False
    """Learn one temperature per head (starting at attn_temperature); folded into W_Q and b_Q
    when saved."""
    entropy_floor: float = 0.0
    """Attention entropy (nats) below which a head's mean entropy is penalised."""
    entropy_weight: float = 0.0
    """Weight of the entropy regulariser: weight x mean over heads of max(0, floor - H)."""
    qk_norm: bool = False
    """RMS-normalise each head's queries and keys before the dot product (QK-norm, Dehghani et
    al. 2023, in TransformerLens's RMSNorm form with a learned gain)."""
    sigma_reparam: bool = False
    """sigma-reparam of W_Q and W_K (Zhai et al. 2023): W -> gamma / sigma_max(W) x W, one
    learned gamma per matrix (starting at 1); folded into the weights when saved."""
    init_scale: float = 1.0
    """Every weight matrix's initial values multiplied by this (1: TransformerLens's init)."""
    depth_scaled_init: bool = False
    """Also scale W_O and W_out at init by 1 / sqrt(2 x n_layers) (GPT-2's residual init)."""
    schedule: Literal["constant", "cosine"] = "constant"
    """Learning rate after warm-up: constant, or a cosine decay to min_lr_fraction x lr at the
    last step (a resume with more --steps stretches the rest of the cosine to the new end)."""
    min_lr_fraction: float = 0.1
    """The cosine schedule's final learning rate, as a share of lr."""
    attn_dropout: float = 0.0
    """Dropout on the attention pattern while training (0: off)."""
    resid_dropout: float = 0.0
    """Dropout on each attention and MLP output before it joins the residual stream."""
    redundancy_weight: float = 0.0
    """Weight of a Barlow-Twins-style redundancy regulariser: the mean squared off-diagonal
    correlation of one block's output features over the batch's tokens (0: off)."""
    redundancy_layer: int = -1
    """The block whose output the redundancy regulariser decorrelates (-1: the last)."""

    def remedy_problems(self, n_layers: int) -> list[str]:
        """What is wrong with these options for a model of ``n_layers`` blocks."""
        problems = []
        if not 0 < self.attn_temperature < math.inf:
            problems.append(f"attn_temperature must be positive, got {self.attn_temperature}")
        if self.entropy_weight < 0 or self.entropy_floor < 0:
            problems.append("entropy_weight and entropy_floor must be 0 or positive")
        if self.entropy_weight > 0 and self.entropy_floor == 0:
            problems.append("entropy_weight needs an entropy_floor above 0 (in nats)")
        if self.qk_norm and (self.sigma_reparam or self.learned_temperature
                             or self.attn_temperature != 1.0):  # fmt: skip
            problems.append(
                "qk_norm normalises the queries, undoing a temperature or sigma-reparam on "
                "them (its RMSNorm gain already learns the logit scale); use one of them"
            )
        if not 0 < self.init_scale < math.inf:
            problems.append(f"init_scale must be positive, got {self.init_scale}")
        if not 0.0 <= self.min_lr_fraction <= 1.0:
            problems.append(f"min_lr_fraction must be in [0, 1], got {self.min_lr_fraction}")
        for name in ("attn_dropout", "resid_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                problems.append(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.redundancy_weight < 0:
            problems.append("redundancy_weight must be 0 or positive")
        if not -n_layers <= self.redundancy_layer < n_layers:
            problems.append(
                f"redundancy_layer {self.redundancy_layer} is not a block of {n_layers} "
                f"(0 to {n_layers - 1}, or -1 for the last)"
            )
        return problems


@dataclass(frozen=True, kw_only=True)
class _TextRecipe:
    """The text recipe's own fields (listed first in `TrainConfig` and on the command line)."""

    n_layers: int = 2
    """Transformer blocks (1 to 12)."""
    n_heads: int = 4
    """Attention heads per layer."""
    d_model: int = 128
    """Residual stream width (divisible by n_heads)."""
    n_ctx: int = 128
    """Context length in tokens (bytes), BOS included."""
    attn_only: bool = True
    """Attention-only blocks (no MLPs), as in Elhage et al. 2021."""
    layer_norm: bool = True
    """Pre-LN LayerNorm before each attention, MLP and the unembedding; off: no normalisation
    at all (the broken case of the gradient-health reproduction)."""
    batch_size: int = 32
    """Rows per step."""
    lr: float = 1e-3
    """AdamW learning rate after warm-up."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    warmup_steps: int = 100
    """Linear learning-rate warm-up."""
    grad_clip: float = 1.0
    """Global gradient-norm clipping before each step (0: off)."""
    steps: int = 3000
    """Optimiser steps in all."""
    repeat_fraction: float = 0.75
    """Share of each batch made of repeated random byte spans (the rest is corpus text)."""
    span_min: int = 16
    """Shortest repeated span, in tokens."""
    span_max: int = 64
    """Longest repeated span, in tokens."""
    eval_every: int = 50
    """Steps between metric evaluations (logged to metrics.jsonl)."""
    checkpoint_every: int = 500
    """Steps between checkpoints (a multiple of eval_every); the last step is always saved."""
    eval_prompts: int = 32
    """Rows in each evaluation batch (held-out text and repeated random tokens)."""
    icl_windows: int = 1024
    """Held-out windows the ICL score is averaged over at each evaluation (with its error)."""
    seed: int = 0
    """Seed for the initial weights and for every batch (batch s uses seed and s)."""
    corpus: tuple[str, ...] = ()
    """Text files or directories to train on; empty: the Python standard library's sources."""
    early_stop_patience: int = 0
    """Stop (and checkpoint) once held-out loss has risen at this many evaluations in a row
    while training loss fell: over-fitting (0: off)."""


@dataclass(frozen=True, kw_only=True)
class TrainConfig(RemedyOptions, _TextRecipe):
    """A training run's full recipe (saved as ``config.json`` in the run directory)."""

    positions: Literal["learned", "alibi"] = "learned"
    """Position information: learned absolute embeddings, or ALiBi's linear biases on the
    attention logits (Press et al. 2022; no position embedding)."""
    attn_window: int = 0
    """Local attention: each query sees only the last attn_window tokens, itself included
    (0: the whole context)."""
    token_noise: float = 0.0
    """Augmentation: the share of input tokens replaced by random bytes while training (the
    targets stay the original text)."""

    def __post_init__(self) -> None:
        problems = self.remedy_problems(self.n_layers)
        if self.attn_window < 0:
            problems.append(f"attn_window must be 0 (off) or positive, got {self.attn_window}")
        if not 0.0 <= self.token_noise < 1.0:
            problems.append(f"token_noise must be in [0, 1), got {self.token_noise}")
        if not 1 <= self.n_layers <= MAX_LAYERS:
            problems.append(f"n_layers must be 1 to {MAX_LAYERS}, got {self.n_layers}")
        if not 0 < self.lr < math.inf:
            problems.append(f"lr must be positive and finite, got {self.lr}")
        if not self.grad_clip >= 0:
            problems.append(f"grad_clip must be 0 (off) or positive, got {self.grad_clip}")
        if self.d_model % self.n_heads:
            problems.append(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")
        if not 0.0 <= self.repeat_fraction <= 1.0:
            problems.append(f"repeat_fraction must be in [0, 1], got {self.repeat_fraction}")
        if not 1 <= self.span_min <= self.span_max:
            problems.append(f"need 1 <= span_min <= span_max, got {self.span_min}, {self.span_max}")
        if self.n_ctx < 16:
            problems.append(f"n_ctx must be at least 16, got {self.n_ctx}")
        if self.eval_every < 1 or self.checkpoint_every % self.eval_every:
            problems.append("checkpoint_every must be a positive multiple of eval_every")
        if self.icl_windows < 2:
            problems.append(f"icl_windows must be at least 2, got {self.icl_windows}")
        if self.steps < 1 or self.batch_size < 1:
            problems.append("steps and batch_size must be positive")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def repeat_half_length(self) -> int:
        """Half length of the BOS + r + r evaluation sequences (fills the context)."""
        return (self.n_ctx - 1) // 2

    @property
    def icl_bands(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """(early, late) prediction bands of the ICL score (`core.metrics.icl_per_window`).

        Early: predictions n_ctx/8 .. n_ctx/4, past the local context; late: the last quarter.
        For n_ctx 128: (16, 32) and (96, 127). Olsson et al. compare tokens 50 and 500 of 512.
        """
        return (self.n_ctx // 8, self.n_ctx // 4), (3 * self.n_ctx // 4, self.n_ctx - 1)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "TrainConfig":
        """Inverse of `to_json`."""
        fields: dict[str, Any] = dict(data)
        fields["corpus"] = tuple(fields.get("corpus", ()))
        return cls(**fields)

    def differences(self, other: "TrainConfig", ignore: tuple[str, ...] = ()) -> list[str]:
        """``field: self -> other`` for every field that differs, except ``ignore``."""
        return json_differences(self.to_json(), other.to_json(), ignore)


VIT_DEFAULT_PATCH = {"digits": 2, "shapes": 4}
"""Patch size per image set when a recipe leaves it at 0: an 8x8 grid of patches for both."""


@dataclass(frozen=True, kw_only=True)
class _VitRecipe:
    """The ViT recipe's own fields (listed first in `VitTrainConfig` and on the command line)."""

    dataset: Literal["digits", "shapes"] = "digits"
    """The image set (`mechscope.data.images`): scikit-learn's digits or generated shapes."""
    patch_size: int = 0
    """Side of each square patch in pixels (0: 2 for digits, 4 for shapes: an 8x8 grid)."""
    n_layers: int = 4
    """Transformer blocks (1 to 12)."""
    n_heads: int = 4
    """Attention heads per layer."""
    d_model: int = 64
    """Residual stream width (divisible by n_heads)."""
    d_mlp: int = 128
    """MLP hidden width."""
    batch_size: int = 64
    """Images per step."""
    lr: float = 1e-3
    """AdamW learning rate after warm-up."""
    weight_decay: float = 0.05
    """AdamW weight decay."""
    warmup_steps: int = 100
    """Linear learning-rate warm-up."""
    grad_clip: float = 1.0
    """Global gradient-norm clipping before each step (0: off)."""
    steps: int = 2000
    """Optimiser steps in all."""
    train_images: int = 0
    """Train on this many training images only, drawn at random with the seed (0: all); a
    small subset over-fits."""
    shift: int = 1
    """Augmentation: each training image is moved by up to this many pixels each way (0: off)."""
    crop: int = 0
    """Augmentation: each training image is cropped to a random square up to this many pixels
    smaller than the image, at a random place, and resized back (bilinear; 0: off)."""
    cutmix: float = 0.0
    """Augmentation: the share of training images that get a random rectangle of another
    image pasted in, their targets mixed by area (CutMix, Yun et al. 2019; 0: off)."""
    eval_every: int = 100
    """Steps between evaluations (logged to metrics.jsonl)."""
    checkpoint_every: int = 500
    """Steps between checkpoints (a multiple of eval_every); the last step is always saved."""
    seed: int = 0
    """Seed for the initial weights, the generated shapes and every batch."""


@dataclass(frozen=True, kw_only=True)
class VitTrainConfig(RemedyOptions, _VitRecipe):
    """A ViT training run's full recipe (saved as ``config.json`` in the run directory).

    Defaults, measured on 2 CPU cores: 4 blocks of width 64 train on digits (16x16, 2-pixel
    patches) or shapes (32x32, 4-pixel patches) in a few minutes.
    """

    def __post_init__(self) -> None:
        problems = self.remedy_problems(self.n_layers)
        if not 1 <= self.n_layers <= MAX_LAYERS:
            problems.append(f"n_layers must be 1 to {MAX_LAYERS}, got {self.n_layers}")
        if self.d_model % self.n_heads:
            problems.append(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")
        side = {"digits": 16, "shapes": 32}[self.dataset]
        if self.patch_size < 0 or (self.patch_size and side % self.patch_size):
            problems.append(
                f"patch_size {self.patch_size} does not divide the {side}-pixel {self.dataset} "
                "images; choose a divisor of the side (or 0 for the default)"
            )
        if not 0 < self.lr < math.inf or not self.grad_clip >= 0 or self.shift < 0:
            problems.append("lr must be positive and finite, grad_clip and shift 0 or positive")
        if not 0.0 <= self.cutmix <= 1.0:
            problems.append(f"cutmix must be in [0, 1], got {self.cutmix}")
        if not 0 <= self.crop < side // 2:
            problems.append(f"crop must be 0 (off) to {side // 2 - 1} pixels, got {self.crop}")
        if self.train_images < 0:
            problems.append(f"train_images must be 0 (all) or positive, got {self.train_images}")
        if self.eval_every < 1 or self.checkpoint_every % self.eval_every:
            problems.append("checkpoint_every must be a positive multiple of eval_every")
        if self.steps < 1 or self.batch_size < 1:
            problems.append("steps and batch_size must be positive")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def patch(self) -> int:
        """The patch size in use (the set's default when ``patch_size`` is 0)."""
        return self.patch_size or VIT_DEFAULT_PATCH[self.dataset]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "VitTrainConfig":
        """Inverse of `to_json` (recipes saved before ``cutmix`` existed had none)."""
        fields: dict[str, Any] = {"cutmix": 0.0}
        return cls(**fields | data)

    def differences(self, other: "VitTrainConfig", ignore: tuple[str, ...] = ()) -> list[str]:
        """``field: self -> other`` for every field that differs, except ``ignore``."""
        return json_differences(self.to_json(), other.to_json(), ignore)
