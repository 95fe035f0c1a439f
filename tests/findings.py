"""The findings pages' machinery (``docs/findings.py``, not a package) for the tests."""

import importlib.util
from functools import cache
from pathlib import Path
from types import ModuleType

DOCS = Path(__file__).parents[1] / "docs"


@cache
def findings_module() -> ModuleType:
    """``docs/findings.py``, loaded once."""
    spec = importlib.util.spec_from_file_location("docs_findings", DOCS / "findings.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rendered(name: str, result: object) -> str:
    """Page ``name`` filled with the numbers its experiment reads from ``result``."""
    findings = findings_module()
    return findings.fill(name, findings.values_of(name, result))
