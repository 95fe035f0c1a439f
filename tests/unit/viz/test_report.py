import re

import pytest
import torch

from mechscope.core.errors import MechscopeError
from mechscope.viz.attention import attention_heads_view
from mechscope.viz.report import Report, circuitsvis_bundle


def _view(n_tokens=3, n_heads=2):
    patterns = torch.softmax(torch.randn(n_heads, n_tokens, n_tokens), dim=-1)
    names = [f"0.{h}" for h in range(n_heads)]
    return attention_heads_view([f"t{i}" for i in range(n_tokens)], patterns, names, causal=True)


def test_bundle_is_included_once_however_many_views(tmp_path):
    report = Report("three views")
    for _ in range(3):
        report.view(_view())
    report.table(["name", "score"], [["<b>", 0.12345]])
    path = report.save(tmp_path / "sub" / "report.html")
    page = path.read_text()
    bundle = circuitsvis_bundle()
    assert page.count(bundle) == 1
    assert page.count("CircuitsVis.render(") == 3
    assert "unpkg.com" not in page  # nothing fetched from a CDN
    assert "&lt;b&gt;" in page and "0.123" in page
    assert len(page) < len(bundle) + 100_000


def test_page_without_views_has_no_bundle():
    report = Report("text only")
    report.paragraph("hello")
    assert "CircuitsVis" not in report.to_html()


def test_view_checks_its_inputs():
    with pytest.raises(ValueError, match="head names"):
        attention_heads_view(["a", "b"], torch.zeros(2, 2, 2), ["one"], causal=True)
    with pytest.raises(ValueError, match="positions"):
        attention_heads_view(["a"], torch.zeros(1, 2, 2), ["one"], causal=True)


def test_unwritable_report_path(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(MechscopeError, match="cannot write report"):
        Report("x").save(blocker / "report.html")


def test_every_view_and_figure_draws_in_a_browser_offline(tmp_path):
    from mechscope.viz.figures import line_chart
    from tests.browser import assert_drew

    report = Report("three views, a figure, then text")
    for _ in range(3):
        report.view(_view())
    report.figure(line_chart({"a": ([0, 1], [1.0, 2.0])}, title="t", x_title="x", y_title="y"))
    report.paragraph("after the views")
    path = report.save(tmp_path / "report.html")
    shown = assert_drew(path, views=3, figures=1)
    assert "after the views" in shown.dom


def test_views_are_written_with_a_closed_root():
    report = Report("one view")
    report.view(_view())
    assert not re.search(r'<div[^>]*id="circuits-vis-[^"]*"[^>]*/>', report.to_html())


def test_any_circuitsvis_view_draws_offline_in_a_notebook_or_a_file(tmp_path):
    import circuitsvis.attention

    from mechscope.viz import offline

    tokens = ["a", "b", "c"]
    view = circuitsvis.attention.attention_patterns(tokens, torch.rand(2, 3, 3).softmax(-1))
    assert "unpkg.com" in str(view)  # circuitsvis's own page loads its bundle from a CDN
    shown = offline(view)
    assert "unpkg.com" not in shown._repr_html_() and "CircuitsVis" in shown.html
    page = shown.save(tmp_path / "view.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "/>" not in page.split("circuits-vis-")[1][:200]


def test_model_and_neuron_views_carry_their_data_inline_and_escape_tokens():
    import json
    import re

    import torch

    from mechscope.heads.patterns import QueryKey, SentenceAttention
    from mechscope.viz.attention import model_view, neuron_view

    patterns = torch.softmax(torch.randn(2, 3, 4, 4), -1)
    tokens = ["<b>", "a", "b", "c"]
    first = model_view(SentenceAttention(tokens, patterns, causal=False))
    second = model_view(SentenceAttention(tokens, patterns, causal=False))
    ids = [re.search(r'id="(model-view-\d+)"', page).group(1) for page in (first, second)]
    assert ids[0] != ids[1]  # two views on one page do not collide
    data = json.loads(re.search(r"const data = (\{.*?\}), root", first).group(1))
    assert data["tokens"][0] == "&lt;b&gt;" and len(data["patterns"]) == 2
    assert abs(data["patterns"][1][2][3][0] - float(patterns[1, 2, 3, 0])) < 1e-3
    qk = QueryKey(tokens, 0, 1, torch.randn(4, 8), torch.randn(4, 8), 2.0, torch.eye(4), True)
    page = neuron_view(qk)
    data = json.loads(re.search(r"const data = (\{.*?\}), root", page).group(1))
    assert data["scale"] == 2.0 and data["causal"] and len(data["q"][0]) == 8
    assert "<script>" in page and "http" not in page  # offline
