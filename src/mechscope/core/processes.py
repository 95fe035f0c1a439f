"""Whether a process is alive: what a lock or a half-written file left by one is judged by."""

import os


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (another user's counts as alive).

    Signal 0 checks existence without signalling: no such process raises
    ``ProcessLookupError``; one we may not signal raises ``PermissionError``, yet exists.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True
