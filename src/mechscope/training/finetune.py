"""Fine-tuning a sentence classifier with the lowest blocks frozen: which layers must change?

A copy of the model gets a linear classifier on its mean-pooled last layer (the real tokens'
mean, as sentence embedders pool) and is trained with AdamW on labelled sentences
(cross-entropy) for a fixed number of epochs. ``frozen = k`` freezes the embeddings and
blocks ``0..k-1``; ``k = 0`` trains everything, ``k = n_layers`` only the classifier (a
linear head on the frozen model). The sweep (`frozen_sweep`) runs every ``k`` with several
seeds (seed = classifier initialisation and minibatch order), scores each on held-out
sentences (accuracy; a bootstrap interval over the seeds' mean is left to the caller,
`FrozenSweep.interval`), and measures how much each layer's sentence representation moved:
linear CKA (unbiased, `mechscope.representations.linear_cka`) between the original model's
and the fine-tuned model's mean-pooled stream at every boundary on the held-out sentences
(1 = unchanged up to rotation and scale).

Encoders only (a decoder's mean pool is possible, but fine-tuning SmolLM2 on CPU is not
sensible); the original model is never modified.
"""

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from mechscope.core.batch import TokenBatch, pad_token_lists
from mechscope.core.errors import MechscopeError
from mechscope.core.metrics import group_bootstrap_interval
from mechscope.core.results import Provenance, Result
from mechscope.data.conllu import Sentence
from mechscope.models.adapter import adapt, model_spec
from mechscope.models.base import Model
from mechscope.models.run import boundary_labels, boundary_stream
from mechscope.models.tokens import pad_id, token_lists_of
from mechscope.representations.similarities import linear_cka


@dataclass(frozen=True)
class FinetuneSettings:
    """How each fine-tuning run trains."""

    epochs: int = 1
    batch_size: int = 32
    lr: float = 5e-5
    """AdamW learning rate of the model's weights."""
    head_lr: float = 1e-3
    """AdamW learning rate of the classifier."""
    weight_decay: float = 0.01


def _batches(model: Model, sentences: Sequence[Sentence]) -> list[list[int]]:
    return token_lists_of(model, [" ".join(s.words) for s in sentences])


def _pooled(model: Model, batch: TokenBatch) -> Float[Tensor, "batch d_model"]:
    """The last layer's mean over each sentence's real tokens."""
    stream = model.encoder_output(batch.tokens, one_zero_attention_mask=batch.attention_mask)  # pyright: ignore[reportCallIssue, reportAttributeAccessIssue]
    mask = batch.attention_mask.unsqueeze(-1).to(stream.dtype)
    return (stream * mask).sum(1) / mask.sum(1)


def finetune_classifier(
    model: Model,
    train: Sequence[Sentence],
    labels: Int[Tensor, " train"],
    n_classes: int,
    *,
    frozen: int,
    settings: FinetuneSettings = FinetuneSettings(),  # noqa: B008 - frozen
    seed: int = 0,
    progress: bool = False,
) -> tuple[Model, torch.nn.Linear]:
    """A fine-tuned copy of ``model`` and its classifier (module docstring).

    Raises:
        MechscopeError: a decoder, ``frozen`` outside ``0..n_layers``, or labels that do not
            match the sentences.
    """
    if adapt(model).causal or not hasattr(model, "encoder_output"):
        raise MechscopeError("fine-tuning with frozen blocks takes an encoder (e.g. minilm).")
    n_layers = model.cfg.n_layers
    if not 0 <= frozen <= n_layers:
        raise MechscopeError(f"frozen must be 0..{n_layers} blocks; got {frozen}.")
    if len(labels) != len(train):
        raise MechscopeError(f"{len(labels)} labels for {len(train)} sentences.")
    torch.manual_seed(seed)
    tuned = copy.deepcopy(model).train()
    for name, parameter in tuned.named_parameters():
        block = name.split(".")[1] if name.startswith("blocks.") else None
        is_embedding = name.startswith("embed")
        below = is_embedding or (block is not None and int(block) < frozen)
        parameter.requires_grad_(not (frozen and below))
    head = torch.nn.Linear(model.cfg.d_model, n_classes)
    weights = [p for p in tuned.parameters() if p.requires_grad]
    groups = [{"params": head.parameters(), "lr": settings.head_lr}]
    if weights:
        groups.append({"params": weights, "lr": settings.lr})
    optimiser = torch.optim.AdamW(groups, weight_decay=settings.weight_decay)  # pyright: ignore[reportArgumentType]
    rows = _batches(model, train)
    generator = torch.Generator().manual_seed(seed)
    device = model.cfg.device or "cpu"
    head.to(device)
    steps = [(epoch, order[i : i + settings.batch_size])
             for epoch in range(settings.epochs)
             for order in [torch.randperm(len(rows), generator=generator).tolist()]
             for i in range(0, len(rows), settings.batch_size)]  # fmt: skip
    for _, chunk in tqdm(steps, desc=f"fine-tune frozen={frozen}", disable=not progress):
        batch = pad_token_lists([rows[i] for i in chunk], pad_id(model)).to(device)
        logits = head(_pooled(tuned, batch))
        loss = torch.nn.functional.cross_entropy(logits, labels[chunk].to(device))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return tuned.eval(), head.eval()


@torch.no_grad()
def classify(
    model: Model, head: torch.nn.Linear, sentences: Sequence[Sentence], batch_size: int = 64
) -> Int[Tensor, " unit"]:
    """The classifier's prediction for each sentence."""
    rows = _batches(model, sentences)
    device = model.cfg.device or "cpu"
    out = []
    for start in range(0, len(rows), batch_size):
        batch = pad_token_lists(rows[start : start + batch_size], pad_id(model)).to(device)
        out.append(head(_pooled(model, batch)).argmax(-1).cpu())
    return torch.cat(out)


@torch.no_grad()
def pooled_boundaries(
    model: Model, sentences: Sequence[Sentence], batch_size: int = 64
) -> Float[Tensor, "boundary unit d_model"]:
    """Each boundary's mean over each sentence's real tokens."""
    rows = _batches(model, sentences)
    device = model.cfg.device or "cpu"
    out = []
    for start in range(0, len(rows), batch_size):
        batch = pad_token_lists(rows[start : start + batch_size], pad_id(model)).to(device)
        stream = boundary_stream(model, batch)  # [boundary, batch, pos, d]
        mask = batch.attention_mask.unsqueeze(-1).to(stream.dtype)
        out.append(((stream * mask).sum(2) / mask.sum(1)).cpu())
    return torch.cat(out, 1)


@dataclass(frozen=True)
class FrozenSweep(Result):
    """Held-out accuracy per number of frozen blocks and seed, and CKA of each layer."""

    kind: ClassVar[str] = "frozen-sweep"
    frozen: tuple[int, ...]
    seeds: tuple[int, ...]
    correct: Float[Tensor, "condition seed unit"]
    """1 where a run classified a held-out sentence right."""
    cka: Float[Tensor, "condition boundary"]
    """Linear CKA between the original and the fine-tuned stream (mean over seeds)."""
    boundaries: tuple[str, ...]
    majority: float
    """Accuracy of always answering the train split's commonest class."""
    n_train: int
    n_eval: int

    @property
    def accuracy(self) -> Float[Tensor, "condition seed"]:
        """Each run's held-out accuracy."""
        return self.correct.mean(-1)

    def interval(self, row: int, n_boot: int = 1000, seed: int = 0) -> tuple[float, float]:
        """A 95 % interval of one condition's accuracy (mean over seeds), by sentences.

        A bootstrap over the held-out sentences; the seeds' spread is `table`'s min and max.
        """
        per_sentence = self.correct[row].mean(0)
        return group_bootstrap_interval(per_sentence, torch.arange(len(per_sentence)),
                                        n_resamples=n_boot, seed=seed)  # fmt: skip

    def table(self) -> list[dict[str, Any]]:
        """One row per condition: frozen blocks, mean accuracy, its interval, min and max."""
        rows = []
        for i, k in enumerate(self.frozen):
            low, high = self.interval(i)
            values = self.accuracy[i]
            rows.append({"frozen": k, "accuracy": float(values.mean()), "ci_low": low,
                         "ci_high": high, "min": float(values.min()), "max": float(values.max()),
                         **{f"cka {b}": float(self.cka[i, j])
                            for j, b in enumerate(self.boundaries)}})  # fmt: skip
        return rows

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """`table` as a DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.table())

    def _summary(self) -> dict[str, Any]:
        return {"frozen": list(self.frozen),
                "accuracy": [float(v) for v in self.accuracy.mean(1)],
                "majority": self.majority}  # fmt: skip


def frozen_sweep(
    model: Model,
    train: Sequence[Sentence],
    eval_: Sequence[Sentence],
    *,
    frozen: Sequence[int] | None = None,
    seeds: Sequence[int] = (0, 1, 2),
    settings: FinetuneSettings = FinetuneSettings(),  # noqa: B008 - frozen
    progress: bool = True,
) -> FrozenSweep:
    """Fine-tune with ``k`` frozen blocks for every ``k`` (default ``0..n_layers``) and seed.

    Labels are the sentences' `Sentence.label` (e.g. `mechscope.data.reviews_as_sentences`).

    Raises:
        MechscopeError: fewer than two classes, an eval label unseen in training, a decoder.
    """
    classes = sorted({s.label for s in train})
    if len(classes) < 2 or "" in classes:
        raise MechscopeError("fine-tuning needs labelled sentences of at least two classes.")
    if unseen := {s.label for s in eval_} - set(classes):
        raise MechscopeError(f"eval labels {sorted(unseen)} never occur in training.")
    y_train = torch.tensor([classes.index(s.label) for s in train])
    y_eval = torch.tensor([classes.index(s.label) for s in eval_])
    ks = list(range(model.cfg.n_layers + 1)) if frozen is None else list(frozen)
    before = pooled_boundaries(model, eval_)
    correct = torch.zeros(len(ks), len(seeds), len(eval_))
    cka = torch.zeros(len(ks), before.shape[0])
    runs = [(i, k, j, seed) for i, k in enumerate(ks) for j, seed in enumerate(seeds)]
    for i, k, j, seed in tqdm(runs, desc="frozen sweep", disable=not progress):
        tuned, head = finetune_classifier(model, train, y_train, len(classes), frozen=k,
                                          settings=settings, seed=seed)  # fmt: skip
        correct[i, j] = (classify(tuned, head, eval_) == y_eval).float()
        after = pooled_boundaries(tuned, eval_)
        for b in range(before.shape[0]):
            cka[i, b] += linear_cka(before[b].double(), after[b].double()) / len(seeds)
    majority = float((y_eval == torch.bincount(y_train).argmax()).float().mean())
    return FrozenSweep(
        tuple(ks), tuple(seeds), correct, cka, boundary_labels(model.cfg.n_layers), majority,
        len(train), len(eval_),
        provenance=Provenance(config={"epochs": settings.epochs, "lr": settings.lr,
                                      "batch_size": settings.batch_size},
                              model=model_spec(model)),
    )  # fmt: skip
