"""User-facing errors.

Every error mechscope raises for bad input is a `MechscopeError` whose message says what was
wrong and what to do about it. The CLI prints these messages without a traceback and exits 2.
"""


class MechscopeError(Exception):
    """Bad input or an unusable environment; the message names the fix."""


class ModelSpecError(MechscopeError):
    """A model spec that names nothing mechscope can load."""


class UnsupportedArchitectureError(MechscopeError):
    """A model whose architecture mechscope cannot convert."""


class ModelUnavailableError(MechscopeError):
    """A named model that is neither cached locally nor downloadable right now."""


class PromptError(MechscopeError):
    """A prompt that cannot be run: empty, or longer than the model's context."""


class Interrupted(MechscopeError):
    """Ctrl-C during a job, caught where the job can say what was saved and how to go on.

    The command line prints it as one line and exits 130 (not 2: it is not a user error).
    """


class CheckFailed(MechscopeError):
    """A check that ran and failed (e.g. parity above the tolerance): a verdict, not bad input.

    The command line prints its message on stdout and exits 1.
    """
