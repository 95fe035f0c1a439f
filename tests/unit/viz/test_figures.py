"""Every figure has a colour scale, axis titles and hover values; NaN cells stay blank."""

import math

import pytest

from mechscope.viz.figures import heatmap, line_chart


def test_heatmap_has_a_colour_bar_axis_titles_and_hover_values():
    figure = heatmap(
        [[0.1, math.nan], [-0.5, 0.9]],
        x_labels=["H0", "H1"],
        y_labels=["L0", "L1"],
        title="t",
        x_title="head",
        y_title="layer",
        value_name="score",
        diverging=True,
    )
    trace = figure.data[0]
    assert trace.type == "heatmap" and trace.z[0][1] is None  # NaN left blank
    assert trace.colorbar.title.text == "score" and trace.zmid == 0.0
    assert trace.zmin == -0.9 and trace.zmax == 0.9  # symmetric around 0
    assert "layer %{y}" in trace.hovertemplate and "%{z" in trace.hovertemplate
    assert figure.layout.xaxis.title.text == "head" and figure.layout.yaxis.title.text == "layer"
    with pytest.raises(ValueError, match="not 2 x 3"):
        heatmap([[1.0]], x_labels=["a", "b", "c"], y_labels=["x", "y"], title="", x_title="",
                y_title="")  # fmt: skip


def test_line_chart_draws_error_bars_and_markers():
    figure = line_chart(
        {"a": ([0, 1, 2], [1.0, 0.5, 0.2]), "b": ([0, 1], [2.0, math.nan])},
        title="t",
        x_title="step",
        y_title="loss",
        errors={"a": [0.1, 0.1, 0.1]},
        markers=[(1.0, "phase change")],
    )
    assert [trace.name for trace in figure.data] == ["a", "b"]
    assert list(figure.data[0].error_y.array) == [0.1, 0.1, 0.1]
    assert figure.data[1].y[1] is None
    assert figure.layout.shapes[0].x0 == 1.0
    assert figure.layout.annotations[0].text == "phase change"
    assert figure.layout.xaxis.title.text == "step"
