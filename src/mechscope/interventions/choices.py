"""The choices interventions take, importable without torch (the CLI builds options from them)."""

from enum import Enum

from mechscope.core.sites import Component


class PatchDirection(Enum):
    """Which run is patched with which."""

    DENOISING = "denoising"
    """Clean activations into the corrupted run."""
    NOISING = "noising"
    """Corrupted activations into the clean run."""


class AblationType(Enum):
    """How an ablated head's output is replaced."""

    ZERO = "zero"
    MEAN = "mean"
    RESAMPLE = "resample"


class TaskMetric(Enum):
    """What patching measures on a task's answer position."""

    LOGIT_DIFF = "logit-diff"
    """logit(answer) - logit(wrong answer), mean over prompts (higher = the task is done)."""
    LOSS = "loss"
    """Cross-entropy of the answer, mean over prompts (lower = the task is done)."""
    PROBABILITY = "probability"
    """Probability of the answer, mean over prompts."""


class BuiltinTask(Enum):
    """Prompt-pair sets mechscope builds for a model (`mechscope.interventions.pairs`)."""

    INDUCTION = "induction"
    """Repeated random tokens; the answer is the induction continuation."""
    COPY_NAME = "copy-name"
    """Templated name copying ("total = 1\\nprint(tota" -> "l")."""
    IOI = "ioi"
    """Indirect-object identification (one template, ABC corruption; names must be one token)."""


class PatchComponent(Enum):
    """Components the CLI patches, by their TransformerLens short names."""

    RESID_PRE = "resid_pre"
    RESID_MID = "resid_mid"
    RESID_POST = "resid_post"
    ATTN_OUT = "attn_out"
    MLP_OUT = "mlp_out"
    Z = "z"
    Q = "q"
    K = "k"
    V = "v"
    PATTERN = "pattern"
    ATTN_SCORES = "attn_scores"

    @property
    def component(self) -> Component:
        """The `Component` this name stands for."""
        return Component[self.name]


class IoiCorruption(Enum):
    """How the corrupted IOI prompt differs from the clean one."""

    ABC = "abc"
    """Every name replaced by another (Wang et al.'s ABC distribution): no cue left."""
    SWAP = "swap"
    """The second-clause subject becomes the indirect object, so the other name is right."""
