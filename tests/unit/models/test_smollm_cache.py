"""The SmolLM2 conversion cache: stale half-written copies removed, an unwritable cache named."""

import os

import pytest

from mechscope.core.errors import MechscopeError
from mechscope.models.smollm import CACHE_ENV, check_cache_writable, remove_stale_conversions


def test_only_conversions_whose_process_is_gone_are_removed(tmp_path):
    final = tmp_path / "smollm2-135m-instruct-q4_1"
    gone, live = (
        tmp_path / f"{final.name}.tmp-999999999",
        tmp_path / f"{final.name}.tmp-{os.getpid()}",
    )
    for directory in (gone, live):
        directory.mkdir()
        (directory / "model.safetensors").write_bytes(b"half")
    assert remove_stale_conversions(final) == [gone]
    assert not gone.exists() and live.exists()


def test_an_unwritable_cache_is_named_before_any_work(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(MechscopeError, match=f"cannot be written.*set {CACHE_ENV}"):
        check_cache_writable(blocker / "cache")
    check_cache_writable(tmp_path / "cache")
