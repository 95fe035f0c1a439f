"""Pictures of a ViT's attention on the image grid (from tensors and vision results).

- `attention_overlay`: one attention map drawn over its image, the query patch outlined;
- `attention_small_multiples`: several maps over the same image (a layer's heads, or one
  head's layers), on one colour scale;
- `attention_distance_figure`: mean attention distance, one point per head, layer on x, as
  in Dosovitskiy et al. 2020 figure 7, with the distance of uniform attention;
- `interactive_attention_grid`: an HTML view; hover a patch (or [CLS]) to see its attention
  for the chosen layer and head. Self-contained (no network, no library), for reports and
  notebooks (``IPython.display.HTML``).
"""

import html
import json
import uuid
from collections.abc import Sequence

import plotly.graph_objects as go
from jaxtyping import Float
from plotly.subplots import make_subplots
from torch import Tensor

ATTENTION_SCALE = [[0.0, "rgba(255,0,0,0)"], [0.25, "rgba(255,120,0,0.45)"],
                   [1.0, "rgba(255,230,0,0.95)"]]  # fmt: skip
"""Transparent where attention is 0, through orange to opaque yellow at the maximum."""


def _traces(
    image: Float[Tensor, "height width"],
    attention: Float[Tensor, "row col"],
    patch_size: int,
    zmax: float,
    show_scale: bool,
    value_name: str = "attention",
) -> list[go.Heatmap]:
    rows, cols = attention.shape
    centres_x = [patch_size * (c + 0.5) - 0.5 for c in range(cols)]
    centres_y = [patch_size * (r + 0.5) - 0.5 for r in range(rows)]
    picture = go.Heatmap(z=image.tolist(), colorscale="gray", showscale=False,
                         hoverinfo="skip")  # fmt: skip
    overlay = go.Heatmap(
        z=attention.tolist(), x=centres_x, y=centres_y, zmin=0.0, zmax=zmax,
        colorscale=ATTENTION_SCALE, showscale=show_scale,
        colorbar={"title": {"text": value_name}},
        customdata=[[[r, c] for c in range(cols)] for r in range(rows)],
        hovertemplate="patch row %{customdata[0]}, col %{customdata[1]}<br>"
                      f"{value_name} %{{z:.3f}}<extra></extra>",
    )  # fmt: skip
    return [picture, overlay]


def _outline(figure: go.Figure, query: tuple[int, int] | None, patch_size: int,
             row: int | None = None, col: int | None = None) -> None:  # fmt: skip
    if query is None:
        return
    r, c = query
    figure.add_shape(
        type="rect", x0=c * patch_size - 0.5, x1=(c + 1) * patch_size - 0.5,
        y0=r * patch_size - 0.5, y1=(r + 1) * patch_size - 0.5,
        line={"color": "cyan", "width": 2}, row=row, col=col,
    )  # fmt: skip


def attention_overlay(
    image: Float[Tensor, "height width"],
    attention: Float[Tensor, "row col"],
    *,
    patch_size: int,
    title: str,
    query: tuple[int, int] | None = None,
    cls_weight: float | None = None,
) -> go.Figure:
    """An attention map over its image; ``query`` (row, col) is outlined (None: [CLS])."""
    zmax = max(float(attention.max()), 1e-6)
    figure = go.Figure(_traces(image, attention, patch_size, zmax, True))
    _outline(figure, query, patch_size)
    side = image.shape[-1]
    suffix = f" ([CLS] itself: {cls_weight:.2f})" if cls_weight is not None else ""
    figure.update_layout(
        title={"text": title + suffix},
        xaxis={"title": {"text": "x (pixels)"}, "range": [-0.5, side - 0.5], "constrain": "domain"},
        yaxis={"title": {"text": "y (pixels)"}, "autorange": "reversed", "scaleanchor": "x"},
        width=460, height=420, margin={"l": 60, "r": 40, "t": 60, "b": 50},
    )  # fmt: skip
    return figure


def attention_small_multiples(
    image: Float[Tensor, "height width"],
    maps: Float[Tensor, "panel row col"],
    titles: Sequence[str],
    *,
    patch_size: int,
    title: str,
    query: tuple[int, int] | None = None,
    per_row: int = 4,
    value_name: str = "attention",
) -> go.Figure:
    """Several maps (attention, or any value per patch) over the same image, one colour scale."""
    n = maps.shape[0]
    n_rows = (n + per_row - 1) // per_row
    n_cols = min(n, per_row)
    figure = make_subplots(rows=n_rows, cols=n_cols, subplot_titles=list(titles),
                           horizontal_spacing=0.03, vertical_spacing=0.08)  # fmt: skip
    zmax = max(float(maps.max()), 1e-6)
    for i in range(n):
        r, c = i // per_row + 1, i % per_row + 1
        for trace in _traces(image, maps[i], patch_size, zmax, i == 0, value_name):
            figure.add_trace(trace, row=r, col=c)
        _outline(figure, query, patch_size, row=r, col=c)
    figure.update_yaxes(autorange="reversed", showticklabels=False)
    figure.update_xaxes(showticklabels=False)
    for i in range(n):
        suffix = "" if i == 0 else str(i + 1)
        figure.update_layout({f"yaxis{suffix}": {"scaleanchor": f"x{suffix}"}})
    figure.update_layout(
        title={"text": title}, width=60 + 230 * n_cols, height=80 + 240 * n_rows,
        margin={"l": 30, "r": 30, "t": 80, "b": 20},
    )  # fmt: skip
    return figure


def attention_distance_figure(
    distance: Float[Tensor, "layer head"], *, uniform: float, title: str
) -> go.Figure:
    """Mean attention distance, one point per head, layer on x (Dosovitskiy et al. fig. 7)."""
    n_layers, n_heads = distance.shape
    xs = [layer + (head - (n_heads - 1) / 2) * 0.06 for layer in range(n_layers)
          for head in range(n_heads)]  # fmt: skip
    labels = [f"{layer}.{head}" for layer in range(n_layers) for head in range(n_heads)]
    figure = go.Figure(go.Scatter(
        x=xs, y=distance.flatten().tolist(), mode="markers", text=labels, name="heads",
        marker={"size": 9, "color": "#1f77b4"},
        hovertemplate="head %{text}<br>distance %{y:.2f} px<extra></extra>",
    ))  # fmt: skip
    figure.add_hline(
        y=uniform,
        line={"dash": "dash", "color": "#888"},
        annotation_text="uniform attention",
        annotation_position="top left",
    )
    figure.update_layout(
        title={"text": title},
        xaxis={"title": {"text": "layer"}, "tickvals": list(range(n_layers))},
        yaxis={"title": {"text": "mean attention distance (pixels)"}, "rangemode": "tozero"},
        width=620, height=420, showlegend=False,
    )  # fmt: skip
    return figure


VIEW_SCRIPT = """
(function() {
  const data = DATA;
  const root = document.getElementById(ROOT);
  const canvas = root.querySelector("canvas");
  const info = root.querySelector(".info");
  const layerSel = root.querySelector(".layer"), headSel = root.querySelector(".head");
  const ctx = canvas.getContext("2d");
  const rows = data.grid[0], cols = data.grid[1], side = data.image.length;
  const scale = Math.floor(canvas.width / side), cell = scale * data.patch;
  let query = 0;
  function pattern() {
    const l = +layerSel.value, h = headSel.value;
    if (h === "mean") {
      const heads = data.patterns[l], n = heads.length;
      return heads[0][query].map((_, k) => heads.reduce((s, hd) => s + hd[query][k], 0) / n);
    }
    return data.patterns[l][+h][query];
  }
  function draw() {
    for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) {
      const v = Math.round(255 * data.image[y][x]);
      ctx.fillStyle = `rgb(${v},${v},${v})`;
      ctx.fillRect(x * scale, y * scale, scale, scale);
    }
    const row = pattern(), peak = Math.max(...row.slice(1), 1e-6);
    for (let p = 1; p < row.length; p++) {
      const r = Math.floor((p - 1) / cols), c = (p - 1) % cols;
      ctx.fillStyle = `rgba(255,${Math.round(200 * row[p] / peak)},0,${0.85 * row[p] / peak})`;
      ctx.fillRect(c * cell, r * cell, cell, cell);
    }
    if (query > 0) {
      const r = Math.floor((query - 1) / cols), c = (query - 1) % cols;
      ctx.strokeStyle = "cyan"; ctx.lineWidth = 3;
      ctx.strokeRect(c * cell, r * cell, cell, cell);
    }
    const where = query === 0 ? "[CLS]" :
      `patch (row ${Math.floor((query - 1) / cols)}, col ${(query - 1) % cols})`;
    info.textContent = `query ${where}: on [CLS] ${row[0].toFixed(3)}, ` +
      `largest on a patch ${peak.toFixed(3)} (overlay scaled to it)`;
  }
  canvas.addEventListener("mousemove", (e) => {
    const box = canvas.getBoundingClientRect();
    const c = Math.floor((e.clientX - box.left) / cell);
    const r = Math.floor((e.clientY - box.top) / cell);
    if (r >= 0 && r < rows && c >= 0 && c < cols && query !== 1 + r * cols + c) {
      query = 1 + r * cols + c; draw();
    }
  });
  root.querySelector(".cls").addEventListener("click", () => { query = 0; draw(); });
  layerSel.addEventListener("change", draw); headSel.addEventListener("change", draw);
  draw();
})();
"""


def interactive_attention_grid(
    image: Float[Tensor, "height width"],
    patterns: Float[Tensor, "layer head dest_pos src_pos"],
    *,
    grid: tuple[int, int],
    patch_size: int,
    title: str,
    pixels_per_image_pixel: int = 0,
) -> str:
    """An HTML view: hover a patch to see its attention (layer and head chosen in menus).

    Pixel values are scaled to 0-1 for display; the page needs no network and no library.
    """
    low, high = float(image.min()), float(image.max())
    shown = ((image - low) / max(high - low, 1e-6)).clamp(0, 1)
    side = image.shape[-1]
    scale = pixels_per_image_pixel or max(1, 320 // side)
    n_layers, n_heads = patterns.shape[:2]
    data = {
        "image": [[round(float(v), 3) for v in row] for row in shown],
        "patterns": [[[[round(float(v), 4) for v in q] for q in head] for head in layer]
                     for layer in patterns],
        "grid": list(grid), "patch": patch_size,
    }  # fmt: skip
    root = f"vit-grid-{uuid.uuid4().hex[:8]}"
    layers = "".join(f'<option value="{i}">layer {i}</option>' for i in range(n_layers))
    heads = '<option value="mean">mean of heads</option>' + "".join(
        f'<option value="{i}">head {i}</option>' for i in range(n_heads)
    )
    script = VIEW_SCRIPT.replace("DATA", json.dumps(data)).replace("ROOT", json.dumps(root))
    return (
        f'<div id="{root}" class="vit-grid"><p><b>{html.escape(title)}</b></p>'
        f'<select class="layer">{layers}</select> <select class="head">{heads}</select> '
        '<button class="cls">query [CLS]</button>'
        f'<div><canvas width="{scale * side}" height="{scale * side}" '
        'style="cursor:crosshair;border:1px solid #ccc"></canvas></div>'
        '<p class="info" style="font-family:monospace"></p>'
        f"<script>{script}</script></div>"
    )
