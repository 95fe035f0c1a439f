"""The choices representation analyses take, importable without torch.

The command line builds its options from them.
"""

from collections.abc import Sequence
from enum import Enum


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


class Task(Enum):
    """Probing tasks read from CoNLL-U (`mechscope.representations.tasks` describes each)."""

    UPOS = "upos"
    DEPREL = "deprel"
    DEPTH = "depth"
    DISTANCE = "distance"
    GENRE = "genre"

    @property
    def sentence_level(self) -> bool:
        """Whether the task labels whole sentences (the others label words)."""
        return self is Task.GENRE


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


def layer_numbers(boundaries: Sequence[str]) -> list[int]:
    """Each boundary's layer: ``embeddings`` 0, ``layer k`` k (other sites: their position)."""
    numbers = []
    for i, label in enumerate(boundaries):
        rest = label.removeprefix("layer ")
        numbers.append(0 if label == "embeddings" else int(rest) if rest.isdigit() else i)
    return numbers
