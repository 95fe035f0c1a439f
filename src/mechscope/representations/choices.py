"""The choices representation analyses take, importable without torch.

The command line builds its options from them.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path


class Pooling(Enum):
    """What one collected unit is (`mechscope.representations.activations` describes each)."""

    TOKEN = "token"
    WORD_MEAN = "word-mean"
    WORD_FIRST = "word-first"
    WORD_LAST = "word-last"
    SENTENCE_MEAN = "sentence-mean"
    SENTENCE_LAST = "sentence-last"
    SENTENCE_CLS = "sentence-cls"

    @property
    def words(self) -> bool:
        """Whether units are words (which needs the word alignment)."""
        return self.value.startswith("word")

    @property
    def sentences(self) -> bool:
        """Whether units are whole sentences."""
        return self.value.startswith("sentence")


class ProbeTask(Enum):
    """Probing tasks read from CoNLL-U (`mechscope.representations.tasks` describes each).

    A probing task: what a probe reads from the stream (the patching commands' prompt-pair
    tasks are `mechscope.interventions.TaskPairs`). ``structural`` is Hewitt & Manning's
    structural probe, which fits distances and depths rather than labels.
    """

    UPOS = "upos"
    DEPREL = "deprel"
    DEPTH = "depth"
    DISTANCE = "distance"
    STRUCTURAL = "structural"
    GENRE = "genre"
    ENTITY = "entity"
    CHAIN = "chain"
    SENTIMENT = "sentiment"

    @property
    def sentence_level(self) -> bool:
        """Whether the task labels whole sentences (the others label words)."""
        return self in (ProbeTask.GENRE, ProbeTask.SENTIMENT)


class ProbeKind(Enum):
    """The probe's family."""

    LINEAR = "linear"
    MLP = "mlp"


class ProjectionMethod(Enum):
    """How units are placed in 2-D."""

    PCA = "pca"
    TSNE = "tsne"
    UMAP = "umap"


class Method(Enum):
    """A similarity measure (`mechscope.representations.similarities` describes each)."""

    CKA = "cka"
    RBF_CKA = "rbf-cka"
    SVCCA = "svcca"
    PWCCA = "pwcca"


def boundary_numbers(boundaries: Sequence[str]) -> list[int]:
    """Each boundary's number: ``embeddings`` 0, ``after block k`` k + 1.

    Results saved before the names were one say ``layer k`` for k; other sites get their
    position.
    """
    numbers = []
    for i, label in enumerate(boundaries):
        after, old = label.removeprefix("after block "), label.removeprefix("layer ")
        if label == "embeddings":
            numbers.append(0)
        elif after.isdigit() and after != label:
            numbers.append(int(after) + 1)
        elif old.isdigit() and old != label:
            numbers.append(int(old))
        else:
            numbers.append(i)
    return numbers


@dataclass(frozen=True, kw_only=True)
class SurveySettings:
    """How `probe_survey` collects and probes."""

    pooling: Pooling = Pooling.WORD_MEAN
    """How a word's sub-tokens are pooled (a word-* pooling)."""
    sentence_pooling: Pooling = Pooling.SENTENCE_MEAN
    """How a sentence is pooled for the sentence-level task, genre (a sentence-* pooling)."""
    probe: ProbeKind = ProbeKind.LINEAR
    """Linear (logistic regression) or MLP probes."""
    layers: tuple[int, ...] = ()
    """Boundaries to probe, 0 = embeddings (default: all)."""
    control: bool = True
    """Also fit the control task (selectivity)."""
    random_baseline: bool = True
    """Also probe a random-init model of the same shape."""
    structural_rank: int = 128
    """Rank of the structural probe's B."""
    projection: ProjectionMethod = ProjectionMethod.PCA
    """How the best and the worst layer are projected (umap needs mechscope[reps])."""
    store: Path | None = None
    """Keep the activations memory-mapped in this directory (bounded memory for big sets)."""
    batch_size: int = 32
    """Sentences per forward pass."""
    seed: int = 0
    """Seed of the probes, the control task, the random model and the projections."""
