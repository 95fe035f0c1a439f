"""Coreference heads (Clark et al. 2019, "What Does BERT Look At?", §5).

Documents with gold mentions and chains (`mechscope.data.read_mentions`, UD English GUM) are
cut into windows of ``window`` consecutive sentences, each run as one input. For every mention
with an antecedent earlier in its window (a mention of the same chain that ends before it
starts), the candidates are the head words of every mention that ends before it; a head
predicts the candidate that the mention's head word attends to most, and is right when that
candidate's mention belongs to the mention's chain (antecedent selection accuracy). Attention
is first converted to words as for the syntactic heads: attention *from* a word is the mean
over its tokens, *to* a word the sum over its tokens. Decoders see only earlier tokens, which
is where every candidate lies, so the rule is the same for encoders and decoders.

The causal check (`verify_coreference`): the most accurate heads are ablated one at a
time on gendered-pronoun prediction (`pronoun_metric`), against control heads of the same
layers.

Baselines (Clark et al.'s): the nearest candidate, and the nearest candidate whose head word
is the same string (case-folded), else the nearest. Intervals: a bootstrap over documents.
Windows whose words do not align with the model's tokens, or that exceed its context, are
skipped and counted.
"""

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor
from tqdm.auto import tqdm
from transformer_lens.hook_points import HookPoint

from mechscope.core.axes import HeadId
from mechscope.core.batch import TokenBatch, last_real_positions, pad_token_lists
from mechscope.core.errors import MechscopeError
from mechscope.core.metrics import (
    Metric,
    at_columns,
    column_difference,
    group_bootstrap_interval,
)
from mechscope.core.results import Provenance, Result
from mechscope.core.sites import Component, Site
from mechscope.data.conllu import Coreference
from mechscope.data.prompts import pronoun_prompts
from mechscope.heads.kinds import HeadKind
from mechscope.heads.verification import Verification, draw_controls
from mechscope.interventions.ablation import AblationType, ablation_effects
from mechscope.models.adapter import adapt, model_spec
from mechscope.models.base import Model
from mechscope.models.tokens import forward_kwargs, pad_id, target_ids, tokenize
from mechscope.models.words import align_words


@dataclass(frozen=True)
class _Query:
    """One scored mention of a window: its head word, candidates and which are antecedents."""

    word: int
    candidates: tuple[int, ...]
    """Head words (window word indices) of the mentions that end before it, nearest last."""
    correct: tuple[bool, ...]
    pronoun: bool
    head_match: int
    """Index into ``candidates`` of the head-word-match baseline's pick."""


@dataclass(frozen=True)
class _Window:
    tokens: tuple[int, ...]
    word_of_token: tuple[int, ...]
    document: int
    queries: tuple[_Query, ...]


@dataclass(frozen=True)
class CoreferenceScores(Result):
    """Per mention scored: whether each head picked an antecedent, and the baselines did."""

    kind: ClassVar[str] = "coreference-scores"
    correct: Float[Tensor, "mention layer head"]
    """1 where the head's most-attended candidate is an antecedent."""
    nearest: Float[Tensor, " mention"]
    head_match: Float[Tensor, " mention"]
    pronoun: Bool[Tensor, " mention"]
    document: Int[Tensor, " mention"]
    window: int
    n_windows: int
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def n_mentions(self) -> int:
        """Mentions scored."""
        return int(self.correct.shape[0])

    def accuracy(self, pronouns: bool = False) -> Float[Tensor, "layer head"]:
        """Each head's antecedent selection accuracy (over pronoun mentions alone if asked)."""
        rows = self.correct[self.pronoun] if pronouns else self.correct
        return rows.mean(0) if rows.shape[0] else torch.full(self.correct.shape[1:], float("nan"))

    def best(self, pronouns: bool = False) -> tuple[HeadId, float]:
        """The most accurate head and its accuracy."""
        accuracy = self.accuracy(pronouns)
        flat = int(accuracy.nan_to_num(-1).flatten().argmax())
        layer, head = divmod(flat, accuracy.shape[1])
        return HeadId(layer, head), float(accuracy[layer, head])

    def interval(self, values: Float[Tensor, " mention"], n_boot: int = 1000,
                 seed: int = 0) -> tuple[float, float]:  # fmt: skip
        """A 95 % bootstrap interval of the mean of ``values`` over documents."""
        return group_bootstrap_interval(values.float(), self.document, n_resamples=n_boot,
                                        seed=seed)  # fmt: skip

    def table(self) -> list[dict[str, Any]]:
        """One row per head, then one per baseline (``coreference.csv``)."""
        all_acc, pron_acc = self.accuracy(), self.accuracy(pronouns=True)
        n_pron = int(self.pronoun.sum())
        n_layers, n_heads = all_acc.shape
        rows = [{"head": str(HeadId(layer, head)), "mentions": self.n_mentions,
                 "accuracy": float(all_acc[layer, head]),
                 "pronoun_accuracy": float(pron_acc[layer, head]), "pronoun_mentions": n_pron}
                for layer in range(n_layers) for head in range(n_heads)]  # fmt: skip
        for name, values in (("nearest", self.nearest), ("head-match", self.head_match)):
            pron = values[self.pronoun]
            rows.append({"head": f"baseline:{name}", "mentions": self.n_mentions,
                         "accuracy": float(values.mean()),
                         "pronoun_accuracy": float(pron.mean()) if len(pron) else float("nan"),
                         "pronoun_mentions": n_pron})  # fmt: skip
        return rows

    def _summary(self) -> dict[str, Any]:
        head, accuracy = self.best()
        return {"mentions": self.n_mentions, "best": str(head), "best_accuracy": accuracy,
                "nearest": float(self.nearest.mean()),
                "head_match": float(self.head_match.mean())}  # fmt: skip

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """`table` as a DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.table())

    def save(self, directory: str | Path) -> Path:
        """`Result.save`, plus `table` as ``coreference.csv``.

        One row per head, then the baselines ``baseline:nearest`` and ``baseline:head-match``.
        """
        out = super().save(directory)
        self.to_dataframe().to_csv(out / "coreference.csv", index=False)
        return out


def membership(window: _Window, n_pos: int) -> Float[Tensor, "word pos"]:
    """1 where a window's token (of ``n_pos``, padding included) belongs to a word."""
    words = torch.zeros(max(window.word_of_token) + 1, n_pos)
    for t, w in enumerate(window.word_of_token):
        if w >= 0:
            words[w, t] = 1.0
    return words


def coreference_windows(
    model: Model, coreference: Coreference, window: int = 4
) -> tuple[list[_Window], Counter[str]]:
    """The windows to run, each with its scored mentions; and why windows were skipped."""
    if window < 1:
        raise MechscopeError(f"the window must be at least 1 sentence; got {window}.")
    by_sentence: dict[int, list[Any]] = {}
    for mention in coreference.mentions:
        by_sentence.setdefault(mention.sentence, []).append(mention)
    documents = {name: i for i, name in enumerate(dict.fromkeys(coreference.documents))}
    starts = [i for i, name in enumerate(coreference.documents)
              if i == 0 or coreference.documents[i - 1] != name]  # fmt: skip
    bounds = [*starts[1:], len(coreference.sentences)]
    windows: list[_Window] = []
    skipped: Counter[str] = Counter()
    for first, stop in zip(starts, bounds, strict=True):
        for begin in range(first, stop, window):
            sentences = range(begin, min(begin + window, stop))
            words: list[str] = []
            spans = []  # (start, end, head, chain, pronoun, head text) in window words
            for index in sentences:
                offset = len(words)
                words += coreference.sentences[index].words
                for m in by_sentence.get(index, []):
                    spans.append((offset + m.start, offset + m.end, offset + m.head, m.chain,
                                  m.pronoun, words[offset + m.head].casefold()))  # fmt: skip
            queries = _queries(spans)
            if not queries:
                continue
            aligned = align_words(model, words)
            if isinstance(aligned, str):
                skipped[aligned] += 1
                continue
            document = documents[coreference.documents[begin]]
            windows.append(_Window(aligned.tokens, aligned.word_of_token, document,
                                   tuple(queries)))  # fmt: skip
    return windows, skipped


def _queries(spans: list[tuple[int, int, int, str, bool, str]]) -> list[_Query]:
    """The window's mentions that have an antecedent before them, with their candidates."""
    queries = []
    ordered = sorted(spans, key=lambda s: (s[0], -s[1]))
    for start, _, head, chain, pronoun, text in ordered:
        before = sorted((s for s in ordered if s[1] <= start), key=lambda s: s[2])
        correct = tuple(s[3] == chain for s in before)
        if not any(correct):
            continue
        matches = [i for i, s in enumerate(before) if s[5] == text]
        queries.append(_Query(head, tuple(s[2] for s in before), correct, pronoun,
                              matches[-1] if matches else len(before) - 1))  # fmt: skip
    return queries


def coreference_scores(
    model: Model,
    coreference: Coreference,
    *,
    window: int = 4,
    batch_size: int = 4,
    progress: bool = True,
) -> CoreferenceScores:
    """Antecedent selection accuracy of every head on ``coreference``'s mentions (module doc).

    Raises:
        MechscopeError: a window below one sentence, or no mention with an antecedent in any
            window that fits the model.
    """
    windows, skipped = coreference_windows(model, coreference, window)
    if not windows:
        why = "; ".join(f"{n} x {reason}" for reason, n in skipped.items()) or "none found"
        raise MechscopeError(
            f"no mention with an antecedent in a window of {window} sentences fits the model "
            f"({why}); try a smaller window (--coref-window)."
        )
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    correct: list[Tensor] = []
    device = model.cfg.device or "cpu"
    for start in tqdm(range(0, len(windows), batch_size), desc="coreference heads",
                      disable=not progress, leave=False):  # fmt: skip
        chunk = windows[start : start + batch_size]
        batch = pad_token_lists([list(w.tokens) for w in chunk], pad_id(model)).to(device)
        n_pos = batch.tokens.shape[1]
        patterns: dict[int, Tensor] = {}

        def keep(pattern: Tensor, hook: HookPoint, patterns: dict[int, Tensor] = patterns) -> None:
            patterns[int(hook.layer())] = pattern.detach().float().cpu()

        hooks = [(Site(Component.PATTERN, layer).hook_name, keep) for layer in range(n_layers)]
        with torch.no_grad(), model.hooks(fwd_hooks=hooks):  # pyright: ignore[reportArgumentType]
            model(batch.tokens, return_type=None, **forward_kwargs(model, batch))
        attention = torch.stack([patterns[layer] for layer in range(n_layers)], 1)
        for b, win in enumerate(chunk):
            words = membership(win, n_pos)
            from_word = words / words.sum(-1, keepdim=True).clamp(min=1)
            for query in win.queries:
                cands = torch.tensor(query.candidates)
                # [layer, head, candidate]: mean over the query word's tokens, sum over each
                # candidate word's tokens
                scores = torch.einsum("t,lhts,cs->lhc", from_word[query.word], attention[b],
                                      words[cands])  # fmt: skip
                hits = torch.tensor(query.correct)[scores.argmax(-1)]
                correct.append(hits.float())
    queries = [(q, w.document) for w in windows for q in w.queries]
    return CoreferenceScores(
        correct=torch.stack(correct).reshape(-1, n_layers, n_heads),
        nearest=torch.tensor([float(q.correct[-1]) for q, _ in queries]),
        head_match=torch.tensor([float(q.correct[q.head_match]) for q, _ in queries]),
        pronoun=torch.tensor([q.pronoun for q, _ in queries]),
        document=torch.tensor([d for _, d in queries]),
        window=window, n_windows=len(windows), skipped=dict(skipped),
    )  # fmt: skip


def pronoun_metric(
    model: Model, templates: tuple[str, ...] | None = None
) -> tuple[TokenBatch, Metric]:
    """Gendered-pronoun prediction: a coreference-sensitive metric for decoders.

    Each prompt names one person (`mechscope.data.pronoun_prompts`); the metric is the mean
    over prompts of ``logit(right pronoun) - logit(wrong pronoun)`` (" she" against " he")
    at the last token: to get it right the model must carry the name's gender to the
    position where the pronoun that refers back to it comes.

    Raises:
        MechscopeError: the model has no unembedding or " she"/" he" are not single tokens.
    """
    adapt(model).require_unembedding("the pronoun metric")
    pairs = pronoun_prompts(templates) if templates else pronoun_prompts()
    batch = tokenize(model, [prompt for prompt, _ in pairs])
    she, he = target_ids(model, [" she", " he"], "pronoun")
    right = torch.tensor([she if p == "she" else he for _, p in pairs], device=batch.tokens.device)
    wrong = torch.tensor([he if p == "she" else she for _, p in pairs], device=batch.tokens.device)
    positions = last_real_positions(batch.attention_mask)
    columns = torch.stack([right, wrong], dim=1)
    return batch, at_columns("pronoun logit diff", column_difference, positions, columns)


def verify_coreference(
    model: Model,
    scores: CoreferenceScores,
    *,
    k: int = 3,
    pronouns: bool = True,
    templates: tuple[str, ...] | None = None,
    seed: int = 0,
) -> Verification:
    """Ablate the ``k`` best coreference heads (and ``k`` controls) one at a time.

    The heads are ranked by antecedent selection accuracy on ``scores`` (over pronoun
    mentions when ``pronouns``); each is zero-ablated alone on `pronoun_metric`. Controls:
    ``k`` heads drawn at random (seeded) from the same layers, leaving out every head more
    accurate than the head-word-match baseline (other layers only when those run short).
    A drop of the logit difference (negative change) is what a coreference head predicts.

    Raises:
        MechscopeError: the model has no unembedding, or the scores are of another model.
    """
    accuracy = scores.accuracy(pronouns).nan_to_num(-1.0)
    if tuple(accuracy.shape) != (model.cfg.n_layers, model.cfg.n_heads):
        raise MechscopeError(
            f"the coreference scores have {accuracy.shape[0]} layers x {accuracy.shape[1]} "
            f"heads; the model has {model.cfg.n_layers} x {model.cfg.n_heads}: score this model."
        )
    batch, metric = pronoun_metric(model, templates)
    n_heads = accuracy.shape[1]
    order = accuracy.flatten().argsort(descending=True).tolist()
    top = [HeadId(*divmod(i, n_heads)) for i in order[:k]]
    baseline = scores.head_match[scores.pronoun] if pronouns else scores.head_match
    bar = float(baseline.mean()) if len(baseline) else 0.0
    outside = [HeadId(*divmod(i, n_heads)) for i in order[k:] if float(accuracy.flatten()[i]) < bar]
    control = draw_controls(outside, {h.layer for h in top}, k, seed)
    effects = [ablation_effects(model, batch, metric, group, AblationType.ZERO)
               for group in (top, control)]  # fmt: skip
    return Verification(
        head_kind=HeadKind.COREFERENCE,
        metric=metric.name,
        top=effects[0],
        control=effects[1],
        top_scores=tuple(float(accuracy[h.layer, h.head]) for h in top),
        control_scores=tuple(float(accuracy[h.layer, h.head]) for h in control),
        higher_is_better=True,
        provenance=Provenance(
            config={"kind": "coreference", "k": k, "seed": seed, "pronouns": pronouns},
            model=model_spec(model),
        ),
    )
