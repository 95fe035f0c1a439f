"""Whether a process is alive, as locks and the SmolLM2 cache judge what they find."""

import os

from mechscope.core.processes import process_alive


def test_this_process_is_alive_and_no_process_is_not():
    assert process_alive(os.getpid())
    assert process_alive(os.getppid())
    assert not process_alive(999_999_999)  # above any pid_max
    assert not process_alive(0) and not process_alive(-1)
