"""The generated findings pages are their templates rendered with a saved run's numbers."""

import importlib.util
import string
from pathlib import Path

DOCS = Path(__file__).parents[2] / "docs"


def _findings_module():
    spec = importlib.util.spec_from_file_location("docs_findings", DOCS / "findings.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_generated_page_is_its_template_with_its_numbers():
    findings = _findings_module()
    assert findings.stale() == [], "run `make findings` (or edit the template, not the page)"


def test_every_field_of_a_template_has_a_number():
    import json

    findings = _findings_module()
    for name in findings.PAGES:
        template = (findings.TEMPLATES / f"{name}.md").read_text()
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f}
        values = json.loads((findings.DATA / f"{name}.json").read_text())
        assert fields <= set(values), (name, fields - set(values))
