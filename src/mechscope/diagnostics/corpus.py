"""`diagnose`: every diagnostic of a model on a corpus, from parts that add up.

Each diagnostic is computed from sums over prompts (`DiagnosisParts`): the attention
statistics' weighted sums and the heads' Gram matrices (`AttentionSums`), each prompt's
rank measures (`RankStats`, concatenated), the anisotropy's sums of unit vectors
(`AnisotropySums`), the default loss's token-weighted gradients (`GradientSum`), and the
labelled words' representations for the class geometry (`LabelledPoints`). The corpus runs
``batch_size`` prompts at a time and the parts add up to what one batch of every prompt
gives, to float rounding; the same parts from shards on workers
(`mechscope.executors.sharded_diagnose`) merge into the same results.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
from tqdm.auto import tqdm

from mechscope.core.batch import pad_token_lists
from mechscope.core.errors import MechscopeError
from mechscope.core.results import Provenance, Result
from mechscope.data.conllu import Sentence
from mechscope.diagnostics.anisotropy import (
    AnisotropySums,
    LabelledPoints,
    anisotropy_sums,
    labelled_points,
)
from mechscope.diagnostics.attention import AttentionSums, pattern_sums
from mechscope.diagnostics.gradients import GradientSum, summed_gradients
from mechscope.diagnostics.rank import RankStats, rank_of_representations
from mechscope.models.adapter import adapt, model_spec
from mechscope.models.base import Model
from mechscope.models.run import stream_and_patterns
from mechscope.models.tokens import pad_id, tokenize
from mechscope.models.words import align_words

BATCH_SIZE = 64
"""Prompts a pass by default (the whole of ``mechscope diagnose``'s default 64)."""


@dataclass(frozen=True)
class DiagnosisParts:
    """Every diagnostic of some prompts, as parts that add up (``+``) over a corpus."""

    model: str
    attention: AttentionSums
    rank: RankStats
    anisotropy: AnisotropySums
    gradients: GradientSum | None
    """None for models without a next-token loss (encoders, no unembedding)."""
    geometry: LabelledPoints | None
    """None when no sentences were given (or none of a part's aligned)."""

    def __add__(self, other: "DiagnosisParts") -> "DiagnosisParts":
        gradients = None
        if self.gradients is not None and other.gradients is not None:
            gradients = GradientSum.combined([self.gradients, other.gradients])
        return DiagnosisParts(
            self.model, self.attention + other.attention,
            RankStats.concatenated([self.rank, other.rank]),
            self.anisotropy + other.anisotropy, gradients,
            _either(self.geometry, other.geometry),
        )  # fmt: skip

    def results(self, classes: Sequence[str] = ()) -> dict[str, Result]:
        """``attention``, ``rank``, ``anisotropy``, ``gradients``, ``class-geometry``.

        ``classes``: the names of the geometry's labels (`word_class_rows`); none: no
        class geometry.

        Raises:
            MechscopeError: fewer than two prompts with tokens, fewer than two classes among
                the words, or classes without any word (no sentence aligned).
        """
        provenance = Provenance(model=self.model)
        results: dict[str, Result] = {
            "attention": self.attention.stats(provenance),
            "rank": replace(self.rank, provenance=provenance),
            "anisotropy": self.anisotropy.result(provenance),
        }
        if self.gradients is not None:
            results["gradients"] = self.gradients.norms(provenance)
        if classes:
            if self.geometry is None:
                raise MechscopeError(
                    "none of the sentences aligns with the model's tokens (a fast tokenizer "
                    "is needed, and sentences within its context); give other sentences."
                )
            results["class-geometry"] = self.geometry.geometry(list(classes), provenance)
        return results


def _either(a: LabelledPoints | None, b: LabelledPoints | None) -> LabelledPoints | None:
    if a is None or b is None:
        return a if b is None else b
    return a + b


def upos_classes(sentences: Sequence[Sentence]) -> list[str]:
    """The UPOS tags the sentences use, sorted: the class geometry's classes.

    Raises:
        MechscopeError: fewer than two tags (the sentences carry no UPOS column).
    """
    classes = sorted({tag for sentence in sentences for tag in sentence.upos})
    if len(classes) < 2:
        raise MechscopeError(
            f"class geometry needs words of two parts of speech or more; the sentences have "
            f"{len(classes)} UPOS tags (give a CoNLL-U file with its UPOS column)."
        )
    return classes


def word_class_rows(
    model: Model, sentences: Sequence[Sentence], classes: Sequence[str]
) -> tuple[list[tuple[int, ...]], list[list[int]]]:
    """Each aligning sentence's tokens and, per token, its word's class (-1 but at words' ends).

    A word is read at its last token (`mechscope.models.align_words`); the class is the index
    of its UPOS tag in ``classes``. Sentences that do not align, or have no UPOS tags, are
    left out.
    """
    rows, labels = [], []
    for sentence in sentences:
        if len(sentence.upos) != len(sentence.words):
            continue
        aligned = align_words(model, sentence.words)
        if isinstance(aligned, str):
            continue
        row = [-1] * len(aligned.tokens)
        last = {word: t for t, word in enumerate(aligned.word_of_token) if word >= 0}
        for word, t in last.items():
            row[t] = classes.index(sentence.upos[word])
        rows.append(aligned.tokens)
        labels.append(row)
    return rows, labels


def _batch_parts(
    model: Model, prompts: Sequence[str], gradients: bool
) -> tuple[AttentionSums, RankStats, AnisotropySums, GradientSum | None]:
    """One batch's parts: the stream and the patterns from one pass, then the gradients."""
    batch = tokenize(model, list(prompts))
    stream, patterns = stream_and_patterns(model, batch)
    attention = pattern_sums(patterns, batch.attention_mask, adapt(model).causal)
    del patterns
    stream, mask = stream.cpu(), batch.attention_mask.cpu()
    rank = rank_of_representations(stream, mask)
    spread = anisotropy_sums(stream, batch.tokens.cpu(), mask, skip_first=True)
    del stream
    grads = summed_gradients(model, batch) if gradients else None
    return attention, rank, spread, grads


def diagnosis_parts(
    model: Model,
    prompts: Sequence[str],
    *,
    sentences: Sequence[Sentence] = (),
    classes: Sequence[str] = (),
    gradients: bool | None = None,
    batch_size: int = BATCH_SIZE,
    progress: bool = False,
) -> DiagnosisParts:
    """The `DiagnosisParts` of ``prompts`` (and of ``sentences``' words by ``classes``).

    ``gradients``: whether to take the next-token loss's gradients (None: when the model is a
    decoder with an unembedding). Runs ``batch_size`` prompts (and sentences) a pass.
    """
    if batch_size < 1:
        raise MechscopeError(f"batch_size must be at least 1; got {batch_size}.")
    if not prompts:
        raise MechscopeError("no prompts to diagnose; give at least two.")
    adapter = adapt(model)
    if gradients is None:
        gradients = adapter.causal and adapter.has_unembedding
    total: DiagnosisParts | None = None
    starts = range(0, len(prompts), batch_size)
    for start in tqdm(starts, desc="diagnose", disable=not progress or len(starts) < 2):
        attention, rank, spread, grads = _batch_parts(
            model, prompts[start : start + batch_size], gradients
        )
        part = DiagnosisParts(model_spec(model), attention, rank, spread, grads, None)
        total = part if total is None else total + part
    assert total is not None
    if sentences:
        rows, labels = word_class_rows(model, sentences, classes)
        for start in range(0, len(rows), batch_size):
            batch = pad_token_lists(rows[start : start + batch_size], pad_id(model))
            width = batch.tokens.shape[1]
            label = torch.tensor([row + [-1] * (width - len(row))
                                  for row in labels[start : start + batch_size]])  # fmt: skip
            points = labelled_points(model, batch.to(model.cfg.device or "cpu"), label)
            total = replace(total, geometry=_either(total.geometry, points))
    return total


def diagnose(
    model: Model,
    prompts: Sequence[str],
    *,
    sentences: Sequence[Sentence] = (),
    gradients: bool | None = None,
    batch_size: int = BATCH_SIZE,
    progress: bool = True,
) -> dict[str, Result]:
    """Every diagnostic of ``model`` on ``prompts``: what ``mechscope diagnose`` writes.

    ``attention`` (`AttentionStats`), ``rank`` (`RankStats`), ``anisotropy`` (`Anisotropy`,
    each prompt's first token left out), ``gradients`` (`GradientNorms`, decoders with an
    unembedding, unless ``gradients`` says otherwise) and, given ``sentences``,
    ``class-geometry`` (`ClassGeometry` of their words by UPOS, each read at its last token).

    Raises:
        MechscopeError: fewer than two prompts with tokens, sentences with fewer than two
            UPOS tags, or a ``batch_size`` below 1.
    """
    classes = upos_classes(sentences) if sentences else []
    parts = diagnosis_parts(model, prompts, sentences=sentences, classes=classes,
                            gradients=gradients, batch_size=batch_size,
                            progress=progress)  # fmt: skip
    return parts.results(classes)
