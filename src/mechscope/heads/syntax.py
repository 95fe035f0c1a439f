"""Syntactic heads (Clark et al. 2019, "What Does BERT Look At?", §4.2) on CoNLL-U input.

For each dependency relation, how often a head's most-attended-to word is the gold head
word, in two directions:

- dependent -> head: word ``i`` predicts as its head the word it attends to most;
- head -> dependent: word ``i`` predicts as its head the word that attends to ``i`` most
  (Clark et al.'s "transpose" mode).

Attention is first converted to words: attention *to* a word is the sum over its tokens,
attention *from* a word the mean over its tokens; special tokens ([CLS], [SEP], BOS) and
attention to the word itself are ignored, as in Clark et al.'s code. Each relation's best
head is compared with the best fixed-offset baseline ("the head is the word ``k`` to the
right") over offsets -5..5. Root words are not scored. Relations are UD labels with their
subtypes (``nmod:poss`` is Clark et al.'s ``poss`` under Stanford Dependencies, ``obj``
their ``dobj``); their ``poss``/``'s`` special case does not apply to UD and is not used.

Sentences come from `mechscope.data.conllu` (multiword-token ranges and empty nodes are
skipped). A sentence whose words cannot be aligned with the
model's tokens, or that is longer than n_ctx, is skipped and counted by reason.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar

import einops
import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm
from transformer_lens.hook_points import HookPoint

from mechscope.core.axes import HeadId
from mechscope.core.batch import budget_chunks, pad_token_lists
from mechscope.core.errors import MechscopeError
from mechscope.core.results import Provenance, Result
from mechscope.core.sites import Component, Site
from mechscope.data.conllu import Sentence, tree_problem
from mechscope.heads.detect import row_bytes
from mechscope.models.adapter import model_spec
from mechscope.models.base import Model
from mechscope.models.tokens import forward_kwargs, pad_id
from mechscope.models.words import align_words

OFFSETS = tuple(k for k in range(-5, 6) if k != 0)


class Direction(Enum):
    """Which way a head's attention predicts the dependency."""

    DEPENDENT_TO_HEAD = "dependent->head"
    HEAD_TO_DEPENDENT = "head->dependent"


@dataclass(frozen=True)
class Aligned:
    """A sentence's token ids and, for each token, the word it belongs to (-1: none)."""

    sentence: Sentence
    tokens: tuple[int, ...]
    word_of_token: tuple[int, ...]


def align(model: Model, sentence: Sentence) -> Aligned | str:
    """A well-formed sentence's tokens and the word of each (`mechscope.models.align_words`).

    Returns the alignment, or the reason the sentence cannot be used (a malformed tree, or
    why its words do not align).
    """
    if sentence.words and (problem := tree_problem(sentence)):
        return problem
    aligned = align_words(model, sentence.words)
    if isinstance(aligned, str):
        return aligned
    return Aligned(sentence, aligned.tokens, aligned.word_of_token)


@dataclass(frozen=True)
class SyntaxScores(Result):
    """Per relation: accuracy of every head in both directions, and the offset baselines."""

    kind: ClassVar[str] = "syntax-scores"
    relations: tuple[str, ...]
    counts: Int[Tensor, " relation"]
    accuracy: Float[Tensor, "direction relation layer head"]
    baseline: Float[Tensor, "relation offset"]
    n_sentences: int
    skipped: dict[str, int] = field(default_factory=dict)
    offsets: tuple[int, ...] = OFFSETS

    def _summary(self) -> dict[str, Any]:
        return {"table": self.table()}

    def _validate(self) -> None:
        n = len(self.relations)
        if self.accuracy.shape[:2] != (len(Direction), n) or self.baseline.shape != (
            n,
            len(self.offsets),
        ):
            raise ValueError("accuracy/baseline shapes do not match the relations and offsets")

    def best(self, relation: str) -> tuple[HeadId, Direction, float]:
        """The best head and direction for ``relation``, with its accuracy."""
        values = self.accuracy[:, self.relations.index(relation)]
        flat = int(values.flatten().argmax())
        direction, rest = divmod(flat, values.shape[1] * values.shape[2])
        layer, head = divmod(rest, values.shape[2])
        return HeadId(layer, head), list(Direction)[direction], float(values.flatten()[flat])

    def best_baseline(self, relation: str) -> tuple[int, float]:
        """The best fixed offset for ``relation`` and its accuracy."""
        row = self.baseline[self.relations.index(relation)]
        k = int(row.argmax())
        return self.offsets[k], float(row[k])

    def table(self, min_count: int = 1) -> list[dict[str, Any]]:
        """One row per relation with at least ``min_count`` instances, most frequent first."""
        rows = []
        for i, relation in enumerate(self.relations):
            if int(self.counts[i]) < min_count:
                continue
            head, direction, accuracy = self.best(relation)
            offset, base = self.best_baseline(relation)
            rows.append(
                {
                    "relation": relation,
                    "count": int(self.counts[i]),
                    "head": str(head),
                    "direction": direction.value,
                    "accuracy": accuracy,
                    "baseline_offset": offset,
                    "baseline": base,
                    "beats_baseline": accuracy > base,
                }
            )
        return sorted(rows, key=lambda r: -r["count"])

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """`table` as a DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.table())


def word_maps(
    aligned: Sequence[Aligned], n_pos: int
) -> tuple[Float[Tensor, "batch word pos"], Float[Tensor, "batch word pos"], Int[Tensor, " batch"]]:
    """Averaging (from a word) and summing (to a word) maps, and the word counts."""
    n_words = max(len(a.sentence.words) for a in aligned)
    to_word = torch.zeros(len(aligned), n_words, n_pos)
    for b, a in enumerate(aligned):
        for t, w in enumerate(a.word_of_token):
            if w >= 0:
                to_word[b, w, t] = 1.0
    from_word = to_word / to_word.sum(-1, keepdim=True).clamp(min=1)
    counts = torch.tensor([len(a.sentence.words) for a in aligned])
    return from_word, to_word, counts


def word_predictions(
    pattern: Float[Tensor, "batch head dest_pos src_pos"], aligned: Sequence[Aligned]
) -> Int[Tensor, "direction batch head word"]:
    """Each word's predicted head word from one layer's patterns, in both directions."""
    from_word, to_word, n_words = word_maps(aligned, pattern.shape[-1])
    n_w = from_word.shape[1]
    word_real = torch.arange(n_w)[None] < n_words[:, None]
    allowed = word_real[:, :, None] & word_real[:, None, :] & ~torch.eye(n_w, dtype=torch.bool)
    words = einops.einsum(
        from_word.to(pattern), pattern, to_word.to(pattern), "b i d, b h d s, b j s -> b h i j"
    )
    words = words.float().cpu().masked_fill(~allowed[:, None], float("-inf"))
    # The word i attends to most; the word attending to i most.
    return torch.stack([words.argmax(-1), words.argmax(-2)])


def align_all(model: Model, sentences: Sequence[Sentence]) -> tuple[list[Aligned], Counter[str]]:
    """The sentences that align with the model's tokens, and why the others do not.

    Raises:
        MechscopeError: no sentences, or none could be aligned.
    """
    if not sentences:
        raise MechscopeError("no sentences given; pass a CoNLL-U file with at least one sentence.")
    skipped: Counter[str] = Counter()
    usable: list[Aligned] = []
    for sentence in sentences:
        result = align(model, sentence)
        if isinstance(result, str):
            skipped[result] += 1
        else:
            usable.append(result)
    if not usable:
        reasons = "; ".join(f"{n} x {why}" for why, n in skipped.items())
        raise MechscopeError(f"none of the {len(sentences)} sentences could be used ({reasons}).")
    return usable, skipped


class DependencyAccumulator:
    """Accumulates relation accuracies from attention patterns, one layer and chunk at a time.

    ``consume(layer, pattern, rows)`` takes the patterns of one chunk whose batch row ``b``
    is aligned sentence ``rows[b]`` (rows past the sentences are ignored), so it can ride
    along any forward pass over the aligned sentences' tokens, in any order and chunking: its
    own (`dependency_scores`) or `detect_heads`'s (``consumers=``), which then scores every
    kind and syntax in a single pass. Each chunk's relation instances are counted once.
    """

    def __init__(self, model: Model, aligned: Sequence[Aligned], skipped: Counter[str]) -> None:
        self.aligned = list(aligned)
        self.skipped = dict(skipped)
        self.model_spec = model_spec(model)
        self.relations = sorted(
            {
                r
                for a in self.aligned
                for r, h in zip(a.sentence.relations, a.sentence.heads, strict=True)
                if h >= 0
            }
        )
        self._rel_index = {r: i for i, r in enumerate(self.relations)}
        n = len(self.relations)
        self.correct = torch.zeros(n, len(Direction), model.cfg.n_layers, model.cfg.n_heads)
        self.baseline = torch.zeros(n, len(OFFSETS))
        self.counts = torch.zeros(n, dtype=torch.long)
        self._chunk: tuple[tuple[int, ...], tuple[Tensor, ...]] | None = None

    @property
    def tokens(self) -> list[list[int]]:
        """The token ids of every aligned sentence, in order (the rows to run)."""
        return [list(a.tokens) for a in self.aligned]

    def _chunk_instances(self, chosen: tuple[int, ...]) -> tuple[Tensor, ...]:
        """Relation instances of sentences ``chosen`` (and their baselines, counted once)."""
        if self._chunk is None or self._chunk[0] != chosen:
            rows, words, heads, rels = [], [], [], []
            for b, a in enumerate(self.aligned[i] for i in chosen):
                for i, (h, r) in enumerate(
                    zip(a.sentence.heads, a.sentence.relations, strict=True)
                ):
                    if h >= 0:
                        rows.append(b)
                        words.append(i)
                        heads.append(h)
                        rels.append(self._rel_index[r])
            instance = tuple(torch.tensor(x, dtype=torch.long) for x in (rows, words, heads, rels))
            _, words_t, heads_t, rels_t = instance
            self.counts += torch.bincount(rels_t, minlength=len(self.relations))
            hit = words_t[:, None] + torch.tensor(OFFSETS)[None] == heads_t[:, None]
            self.baseline.index_add_(0, rels_t, hit.float())
            self._chunk = (chosen, instance)
        return self._chunk[1]

    def consume(
        self, layer: int, pattern: Float[Tensor, "batch head dest_pos src_pos"], rows: Tensor
    ) -> None:
        """Add one layer's hits for the chunk of sentences ``rows`` (rows past them ignored)."""
        keep = rows < len(self.aligned)
        if not bool(keep.any()):
            return
        chosen = tuple(int(i) for i in rows[keep])
        rows_t, words_t, heads_t, rels_t = self._chunk_instances(chosen)
        kept = pattern[keep.to(pattern.device)]
        preds = word_predictions(kept, [self.aligned[i] for i in chosen])
        predicted = einops.rearrange(preds, "direction b h w -> b w direction h")[rows_t, words_t]
        hits = (predicted == heads_t[:, None, None]).float()  # [instance, direction, head]
        self.correct[:, :, layer].index_add_(0, rels_t, hits)

    def result(self) -> SyntaxScores:
        """The accumulated `SyntaxScores`."""
        denominator = self.counts.clamp(min=1).float()
        accuracy = self.correct / denominator[:, None, None, None]
        return SyntaxScores(
            relations=tuple(self.relations),
            counts=self.counts.clone(),
            accuracy=einops.rearrange(accuracy, "r d l h -> d r l h"),
            baseline=self.baseline / denominator[:, None],
            n_sentences=len(self.aligned),
            skipped=self.skipped,
            provenance=Provenance(model=self.model_spec),
        )


def _feeder(accumulator: DependencyAccumulator, layer: int, rows: Tensor):  # noqa: ANN202
    """A hook passing one layer's patterns of the chunk of ``rows`` to ``accumulator``."""

    def hook(pattern: Float[Tensor, "batch head dest_pos src_pos"], hook: HookPoint) -> None:  # noqa: ARG001
        accumulator.consume(layer, pattern, rows)

    return hook


def dependency_scores(
    model: Model,
    sentences: Sequence[Sentence],
    *,
    batch_size: int = 32,
    memory_budget_mb: int | None = 512,
    progress: bool = True,
) -> SyntaxScores:
    """Accuracy of every head at every relation of ``sentences``, with offset baselines.

    Sentences that cannot be aligned or do not fit are skipped and counted in ``skipped``.
    They run in chunks of at most ``batch_size``, grouped by length, each chunk's estimated
    activation memory within ``memory_budget_mb`` (as in `detect_heads`).

    Raises:
        MechscopeError: no sentences, or none could be aligned with the model's tokens.
    """
    usable, skipped = align_all(model, sentences)
    accumulator = DependencyAccumulator(model, usable, skipped)
    tokens = accumulator.tokens
    chunks = budget_chunks(
        [len(row) for row in tokens],
        batch_size,
        lambda length: row_bytes(model, (), length),
        None if memory_budget_mb is None else memory_budget_mb * 2**20,
    )
    for chunk in tqdm(chunks, desc="dependency heads", disable=not progress):
        batch = pad_token_lists([tokens[i] for i in chunk], pad_id(model))
        batch = batch.to(model.cfg.device or "cpu")
        rows = torch.tensor(chunk)
        hooks = [
            (Site(Component.PATTERN, layer).hook_name, _feeder(accumulator, layer, rows))
            for layer in range(model.cfg.n_layers)
        ]
        with torch.no_grad(), model.hooks(fwd_hooks=hooks):  # pyright: ignore[reportArgumentType]
            model(batch.tokens, return_type=None, **forward_kwargs(model, batch))
    return accumulator.result()
