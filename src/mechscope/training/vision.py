"""Training small ViTs on digits or shapes: the vision callbacks of the one training loop.

`VisionCallbacks` supplies the data (augmented image batches), the loss and the evaluation to
`mechscope.training.loop.fit`, which the text trainer uses too. The run directory is the text
trainer's (`mechscope.training.run_dir`): ``config.json`` (a `VitTrainConfig`), ``metrics.jsonl``
(one `VitRecord` per evaluation), ``checkpoints/step_N`` written atomically with the optimiser
state. Batch ``s`` is drawn from a generator seeded with ``(seed, s)``, so a resumed run is
bit-identical to an uninterrupted one. Each evaluation logs the held-out loss and accuracy (with its
standard error), the accuracy on a fixed sample of the training images, and the health records of
the text trainer (gradient norms, attention entropy, effective rank) on held-out images.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

from mechscope.core.batch import ImageBatch
from mechscope.core.errors import MechscopeError
from mechscope.data.images import ImageSet, load_image_set
from mechscope.models.base import Model
from mechscope.models.checkpoint import load_checkpoint
from mechscope.models.vit import HookedViT, ViTConfig
from mechscope.training import run_dir as rd
from mechscope.training.batches import step_generator
from mechscope.training.config import VitTrainConfig
from mechscope.training.health import TrainingHealth, health
from mechscope.training.loop import build_optimizer, fit, restore_optimizer
from mechscope.training.remedies import Remedies, scale_initial_weights

EVAL_CHUNK = 512
TRAIN_SAMPLE = 512
"""Training images (a fixed sample) whose accuracy each evaluation logs."""
HEALTH_IMAGES = 128
"""Held-out images the health records are measured on."""


RECORD_FIELDS = ("step", "train_loss", "held_out_loss", "held_out_accuracy",
                 "held_out_accuracy_se", "train_accuracy", "elapsed_s")  # fmt: skip


@dataclass(frozen=True)
class VitRecord:
    """One line of a ViT run's ``metrics.jsonl``."""

    step: int
    train_loss: float | None
    """Mean training loss since the previous record (None at step 0)."""
    held_out_loss: float
    held_out_accuracy: float
    held_out_accuracy_se: float
    """Binomial standard error of the held-out accuracy."""
    train_accuracy: float
    """On a fixed sample of training images (without augmentation)."""
    elapsed_s: float
    health: TrainingHealth | None = None

    def to_json(self) -> dict[str, Any]:
        """The flat JSON line."""
        line = {name: getattr(self, name) for name in RECORD_FIELDS}
        return line | (self.health.to_json() if self.health is not None else {})

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "VitRecord":
        """Inverse of `to_json`."""
        return cls(**{k: data[k] for k in RECORD_FIELDS}, health=TrainingHealth.from_json(data))


@dataclass(frozen=True)
class VitRun:
    """A finished (or resumed-to-completion) ViT run."""

    run_dir: Path
    config: VitTrainConfig
    records: list[VitRecord]
    final_checkpoint: Path


def vit_config(cfg: VitTrainConfig, images: ImageSet) -> ViTConfig:
    """The model a recipe trains, shaped for its image set."""
    return ViTConfig(
        image_size=images.image_size, patch_size=cfg.patch, channels=images.pixels.shape[1],
        n_classes=len(images.class_names), d_model=cfg.d_model, n_layers=cfg.n_layers,
        n_heads=cfg.n_heads, d_mlp=cfg.d_mlp, seed=cfg.seed, class_names=images.class_names,
        qk_norm=cfg.qk_norm,
    )  # fmt: skip


def training_images(
    cfg: VitTrainConfig, train: ImageSet, step: int
) -> tuple[Float[Tensor, "batch channel height width"], Float[Tensor, "batch d_vocab"]]:
    """Batch ``step``: images drawn with replacement, and their class probabilities.

    Each image is moved by up to ``shift`` pixels, (``crop``) cropped to a random smaller
    square and resized back, and (``cutmix``) gets a rectangle of
    another image of the batch pasted in; targets are one-hot, or mixed by area under CutMix
    (Yun et al. 2019).
    """
    generator = step_generator(cfg.seed, step)
    index = torch.randint(0, len(train), (cfg.batch_size,), generator=generator)
    pixels = train.pixels[index]
    if cfg.shift:
        moves = torch.randint(-cfg.shift, cfg.shift + 1, (cfg.batch_size, 2), generator=generator)
        pixels = torch.stack([torch.roll(image, (int(dy), int(dx)), dims=(-2, -1))
                              for image, (dy, dx) in zip(pixels, moves, strict=True)])  # fmt: skip
    if cfg.crop:
        pixels = _random_crops(pixels, cfg.crop, generator)
    targets = torch.nn.functional.one_hot(train.labels[index], len(train.class_names)).float()
    if cfg.cutmix:
        pixels, targets = _cutmix(pixels, targets, cfg.cutmix, generator)
    return pixels, targets


def _random_crops(pixels: Tensor, crop: int, generator: torch.Generator) -> Tensor:
    """Each image cropped to a random square ``0..crop`` pixels smaller, resized back."""
    side = pixels.shape[-1]
    sizes = side - torch.randint(0, crop + 1, (len(pixels),), generator=generator)
    out = []
    for image, size in zip(pixels, sizes.tolist(), strict=True):
        top, left = (int(v) for v in torch.randint(0, side - size + 1, (2,), generator=generator))
        window = image[None, :, top : top + size, left : left + size]
        out.append(torch.nn.functional.interpolate(window, size=(side, side), mode="bilinear",
                                                   align_corners=False)[0])  # fmt: skip
    return torch.stack(out)


def _cutmix(
    pixels: Tensor, targets: Tensor, probability: float, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Paste a random rectangle of a partner image (the batch rolled by one) into some images.

    Each chosen image's target becomes the mix of both targets by pasted area.
    """
    n, side = pixels.shape[0], pixels.shape[-1]
    chosen = torch.rand(n, generator=generator) < probability
    share = torch.rand(n, generator=generator)  # the partner's share, before rounding
    centre = torch.randint(0, side, (n, 2), generator=generator)
    partner_pixels, partner_targets = pixels.roll(1, 0), targets.roll(1, 0)
    out, mixed = pixels.clone(), targets.clone()
    for i in torch.nonzero(chosen).flatten().tolist():
        half = side * float(share[i]) ** 0.5 / 2
        top, left = (int(max(0, c - half)) for c in centre[i].tolist())
        bottom, right = (int(min(side, c + half)) for c in centre[i].tolist())
        out[i, :, top:bottom, left:right] = partner_pixels[i, :, top:bottom, left:right]
        area = (bottom - top) * (right - left) / side**2
        mixed[i] = (1 - area) * targets[i] + area * partner_targets[i]
    return out, mixed


@torch.no_grad()
def accuracy_and_loss(model: HookedViT, images: ImageSet) -> tuple[float, float, float]:
    """Mean loss, accuracy and the accuracy's binomial standard error on ``images``."""
    losses, hits = [], []
    for start in range(0, len(images), EVAL_CHUNK):
        part = images.subset(slice(start, start + EVAL_CHUNK))
        logits = model(part.pixels).cpu()
        losses.append(torch.nn.functional.cross_entropy(logits, part.labels, reduction="none"))
        hits.append((logits.argmax(-1) == part.labels).float())
    loss, hit = torch.cat(losses), torch.cat(hits)
    accuracy = float(hit.mean())
    return float(loss.mean()), accuracy, (accuracy * (1 - accuracy) / len(hit)) ** 0.5


@dataclass
class VisionCallbacks:
    """Image classification: augmented training batches, held-out and training accuracy."""

    cfg: VitTrainConfig
    train: ImageSet
    held_out: ImageSet
    train_sample: ImageSet
    health_batch: ImageBatch
    device: str | torch.device

    def loss(self, model: Model, step: int) -> Tensor:
        """Cross-entropy on batch ``step`` (`training_images`: shifted, CutMix-ed)."""
        pixels, targets = training_images(self.cfg, self.train, step)
        return model(pixels.to(self.device), return_type="loss", labels=targets.to(self.device))

    def evaluate(
        self,
        model: Model,
        step: int,
        train_loss: float | None,
        elapsed_s: float,
        grads: Tensor | None,
    ) -> VitRecord:
        """Held-out loss and accuracy, training-sample accuracy and the health records."""
        assert isinstance(model, HookedViT)
        was_training = model.training
        model.eval()
        loss, accuracy, se = accuracy_and_loss(model, self.held_out)
        _, train_accuracy, _ = accuracy_and_loss(model, self.train_sample)
        record = VitRecord(step, train_loss, loss, accuracy, se, train_accuracy, elapsed_s,
                           health(model, self.health_batch, grads))  # fmt: skip
        model.train(was_training)
        return record

    def postfix(self, record: VitRecord) -> dict[str, str]:
        """Training loss and held-out accuracy."""
        return {"loss": f"{record.train_loss:.3f}", "accuracy": f"{record.held_out_accuracy:.3f}"}

    def stop(self, record: VitRecord) -> bool:  # noqa: ARG002 - no early stopping for ViTs
        """Never: a ViT recipe runs all its steps."""
        return False


def train_vit(
    cfg: VitTrainConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    device: str | torch.device = "cpu",
) -> VitRun:
    """Train a ViT with ``cfg``, writing checkpoints and metrics into ``run_dir``.

    The loop is the text trainer's (`mechscope.training.loop.fit`) with `VisionCallbacks`.
    ``device``: where the model trains (batches are drawn on the CPU, so the same recipe
    sees the same images anywhere; a run on a GPU is not bit-identical to one on the CPU).

    Raises:
        RunDirError: an unwritable directory, an existing run without ``resume``, or a resume
            whose config differs from the saved one.
        TrainingInterrupted: Ctrl-C; the last checkpoint stays usable (resume from it).
    """
    run_dir = Path(run_dir)
    images = load_image_set(cfg.dataset, seed=cfg.seed)
    train, held_out = images.part(held_out=False), images.part(held_out=True)
    if cfg.train_images:
        if cfg.train_images > len(train):
            raise MechscopeError(
                f"train_images {cfg.train_images} is more than the {len(train)} training "
                f"images of {cfg.dataset}; choose at most {len(train)} (or 0 for all)."
            )
        chosen = torch.randperm(len(train), generator=step_generator(cfg.seed, -2))
        train = train.subset(chosen[: cfg.train_images])
    train_sample = train.subset(
        torch.randperm(len(train), generator=step_generator(cfg.seed, -1))[:TRAIN_SAMPLE]
    )
    if resume and (run_dir / rd.CONFIG_FILE).exists() and not rd.list_checkpoints(run_dir):
        resume = False  # the run never saved a checkpoint: resuming is starting it again
    latest = None
    if resume:
        start, latest = rd.check_resumable(run_dir, cfg)
        loaded = load_checkpoint(latest, device=device)
        if not isinstance(loaded, HookedViT):
            raise rd.RunDirError(f"{latest} holds a text model, not a trained ViT.")
        model = loaded
        rd.keep_metrics_up_to(run_dir, start)
    else:
        rd.start_run_dir(run_dir, cfg)
        model, start = HookedViT(vit_config(cfg, images)), 0
        scale_initial_weights(model, cfg, cfg.n_layers)
        model = model.to(device)
    remedies = Remedies(cfg, cfg.n_layers, cfg.n_heads, cfg.seed).to(device)
    optimizer = build_optimizer(model, remedies, cfg)
    elapsed = restore_optimizer(optimizer, latest, model, remedies)
    health_batch = ImageBatch(held_out.pixels[:HEALTH_IMAGES].to(device), cfg.patch)
    callbacks = VisionCallbacks(cfg, train, held_out, train_sample, health_batch, device)
    fit(model, optimizer, cfg, run_dir, callbacks, start=start, elapsed=elapsed,
        progress=progress, remedies=remedies)  # fmt: skip
    records = [VitRecord.from_json(r) for r in rd.read_metrics(run_dir)]
    return VitRun(run_dir, cfg, records, rd.checkpoint_dir(run_dir, cfg.steps))
