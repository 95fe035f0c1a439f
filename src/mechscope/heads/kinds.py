"""The kinds of attention head mechscope scores, with their definitions and sources.

Every kind is a number per (layer, head) computed from the attention pattern ``P[d, s]``
(destination/query ``d``, source/key ``s``) of one prompt, then averaged over prompts.
Pattern kinds measure the attention mass on a *target* set of sources, averaged over the
destinations where the target is defined (`Normalisation.DEFINED`); TransformerLens's
``detect_head`` instead divides by all destinations (`Normalisation.ALL_DESTINATIONS`),
which mechscope reproduces exactly when asked (see `DetectionSettings`).

Positional kinds
- previous-token: mass on ``s = d - 1`` (Elhage et al. 2021, "A Mathematical Framework").
- current-token: mass on ``s = d`` (the head attends to itself).
- local-window: mass on ``|d - s| <= w`` (``w = DetectionSettings.window``); BERT's broad
  local heads (Clark et al. 2019, §3) and sliding-window attention.

Content kinds
- duplicate-token: mass on earlier copies of the destination token, ``tok[s] = tok[d]``,
  ``s != d`` (Wang et al. 2022, IOI); destinations without a copy are left out.
- induction: on repeated random tokens ``BOS r r`` (generated, added to the same batch),
  the prefix-matching mass ``tok[s - 1] = tok[d]``: attention to the token after an earlier
  copy of the current token (Olsson et al. 2022, "In-context Learning and Induction Heads";
  their prefix-matching score, measured where only induction can explain it).
- prefix-matching: the same measure on the user's own prompts (TransformerLens calls it
  ``induction_head``).

Sinks and separators (Clark et al. 2019, "What Does BERT Look At?", §3)
- first-token: mass on the first token (BOS in decoders, [CLS] in BERT), over the other
  destinations.
- separator: mass on [SEP] / EOS tokens anywhere but the first position.
- punctuation: mass on tokens that are punctuation only (``.`` ``,`` ``;`` ...).
- no-op: Clark et al.'s gradient test (§3, Fig. 3). ``|dL/dP[d, s]|`` on sink sources
  (first token and separators) divided by its mean over all other attended sources. Below 1
  the head's attention to the sink barely matters: the head "rests" there. ``L`` is the
  next-token loss for decoders with an unembedding, otherwise a fixed random projection of
  the final residual stream (a sentence embedder has no loss).

Diagnostics (no labels; collapse and sparsity, e.g. Dong et al. 2021). These are pattern
statistics computed by `mechscope.diagnostics.attention.query_statistics` and averaged over
each prompt's queries that see at least two keys (a decoder's first query, which sees one,
is left out), the same definition `mechscope.diagnostics.attention_stats` uses:
- entropy: ``-sum_s P log P`` in nats (0 = one source; ``log n`` = uniform).
- max-weight: ``max_s P`` (1 = all mass on one source).
- effective-span: ``sum_s P |d - s|``, the attention-weighted distance in tokens.

Annotated kinds (scored on gold annotation, not on prompts; `HeadKind.needs_annotation`)
- coreference: antecedent selection accuracy on gold mentions (Clark et al. 2019, §5;
  `mechscope.heads.coreference`), checked causally on gendered-pronoun prediction
  (`mechscope.heads.verify_coreference`).
"""

from collections.abc import Sequence
from enum import Enum
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from torch import Tensor


class HeadKind(Enum):
    """A kind of head; the value is the name used on the CLI and in saved results."""

    PREVIOUS_TOKEN = "previous-token"
    CURRENT_TOKEN = "current-token"
    LOCAL_WINDOW = "local-window"
    DUPLICATE_TOKEN = "duplicate-token"
    INDUCTION = "induction"
    PREFIX_MATCHING = "prefix-matching"
    FIRST_TOKEN = "first-token"
    SEPARATOR = "separator"
    PUNCTUATION = "punctuation"
    NO_OP = "no-op"
    ENTROPY = "entropy"
    MAX_WEIGHT = "max-weight"
    EFFECTIVE_SPAN = "effective-span"
    COREFERENCE = "coreference"

    @property
    def needs_annotation(self) -> bool:
        """Whether the kind is scored on annotated text, not on prompts (`detect_heads`).

        Coreference heads are scored on gold mentions and chains
        (`mechscope.heads.coreference_scores`; on the CLI ``--coref FILE.conllu``) and
        checked causally by `mechscope.heads.verify_coreference`.
        """
        return self is HeadKind.COREFERENCE

    @property
    def is_label(self) -> bool:
        """Whether `HeadScores.classify` labels heads with this kind (diagnostics are not)."""
        return self in THRESHOLDS

    @property
    def needs_gradient(self) -> bool:
        """Whether scoring this kind needs a backward pass."""
        return self is HeadKind.NO_OP

    @classmethod
    def _named(cls, name: str) -> "HeadKind":
        try:
            return cls(name.replace("_", "-"))
        except ValueError:
            known = ", ".join(k.value for k in cls)
            raise ValueError(f"unknown head kind {name!r}; known kinds: {known}, all") from None

    @classmethod
    def parse(cls, names: "str | Sequence[HeadKind | str]") -> list["HeadKind"]:
        """Kinds from names (``"induction,previous-token"``, or a list of names or kinds).

        ``all`` = every kind scored on prompts (every kind but `needs_annotation` ones).

        Raises:
            ValueError: an unknown name (the message lists the known ones).
        """
        items = names.split(",") if isinstance(names, str) else names
        kinds: list[HeadKind] = []
        for item in items:
            if isinstance(item, str) and item.strip() == "all":
                chosen = [k for k in cls if not k.needs_annotation]
            elif isinstance(item, HeadKind):
                chosen = [item]
            else:
                chosen = [cls._named(item.strip())]
            kinds.extend(k for k in chosen if k not in kinds)
        if not kinds:
            raise ValueError("no head kinds given; name at least one (or 'all').")
        return kinds


class Comparison(Enum):
    """How a score is compared with its label threshold."""

    AT_LEAST = ">="
    """Labelled when the score is at least the threshold (most kinds)."""
    AT_MOST = "<="
    """Labelled when the score is at most the threshold (no-op: a small sink gradient)."""

    def holds(self, values: "Tensor", threshold: float) -> "Tensor":
        """Where ``values`` pass ``threshold``."""
        return values >= threshold if self is Comparison.AT_LEAST else values <= threshold

    @property
    def best_first_descending(self) -> bool:
        """Whether the strongest heads have the highest scores."""
        return self is Comparison.AT_LEAST


class Threshold(NamedTuple):
    """A label's comparison and threshold value."""

    comparison: Comparison
    value: float


_GE, _LE = Comparison.AT_LEAST, Comparison.AT_MOST

THRESHOLDS: dict[HeadKind, Threshold] = {
    HeadKind.PREVIOUS_TOKEN: Threshold(_GE, 0.3),
    HeadKind.CURRENT_TOKEN: Threshold(_GE, 0.4),
    HeadKind.LOCAL_WINDOW: Threshold(_GE, 0.8),
    HeadKind.DUPLICATE_TOKEN: Threshold(_GE, 0.3),
    HeadKind.INDUCTION: Threshold(_GE, 0.4),
    HeadKind.PREFIX_MATCHING: Threshold(_GE, 0.3),
    HeadKind.FIRST_TOKEN: Threshold(_GE, 0.5),
    HeadKind.SEPARATOR: Threshold(_GE, 0.3),
    HeadKind.PUNCTUATION: Threshold(_GE, 0.3),
    HeadKind.NO_OP: Threshold(_LE, 0.5),
}
"""Label thresholds on the mean score over prompts.

Induction (0.4) and previous-token (0.3) are the thresholds of mechscope's induction
reproduction, so both name the same heads. A pure head of any kind scores near 1; 0.3-0.5
asks for a third to a half of the head's attention on its target, well above chance for
prompts of tens of tokens. No-op labels heads whose sink gradient is at most half of the
typical gradient, and only heads that also put at least half their mass on sinks
(`NO_OP_MIN_SINK_MASS`): resting needs both.
"""

NO_OP_MIN_SINK_MASS = 0.5
