"""The generated findings pages are their templates rendered with a saved run's numbers."""

import json
import string

from tests.findings import findings_module


def test_every_generated_page_is_its_template_with_its_numbers():
    assert findings_module().stale() == [], "run `make findings` (or edit the template)"


def test_every_field_of_a_template_has_a_number():
    findings = findings_module()
    for name in findings.PAGES:
        template = (findings.TEMPLATES / f"{name}.md").read_text()
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f}
        values = json.loads((findings.DATA / f"{name}.json").read_text())
        assert fields <= set(values), (name, fields - set(values))
