"""Views of attention: circuitsvis's heads view, and BertViz-style model and neuron views."""

from collections.abc import Sequence
from html import escape as html_escape

import circuitsvis.attention
from circuitsvis.utils.render import RenderedHTML
from jaxtyping import Float
from torch import Tensor

from mechscope.core.axes import HeadId
from mechscope.heads.patterns import QueryKey, SentenceAttention
from mechscope.viz.figures import heatmap
from mechscope.viz.report import Report


def attention_heads_view(
    str_tokens: Sequence[str],
    patterns: Float[Tensor, "head dest_pos src_pos"],
    head_names: Sequence[str],
    *,
    causal: bool,
) -> RenderedHTML:
    """A circuitsvis ``attention_heads`` view: one thumbnail per head, click to enlarge.

    Args:
        str_tokens: the prompt's tokens as strings (padding removed).
        patterns: attention weights from each destination to each source position.
        head_names: a label per head, e.g. ``"L0H3"``.
        causal: mask the upper triangle (decoders); encoders attend both ways.
    """
    if patterns.shape[0] != len(head_names):
        raise ValueError(f"{patterns.shape[0]} heads but {len(head_names)} head names")
    if patterns.shape[1] != len(str_tokens):
        raise ValueError(f"patterns cover {patterns.shape[1]} positions, tokens {len(str_tokens)}")
    return circuitsvis.attention.attention_heads(
        attention=patterns.detach().cpu().float(),
        tokens=list(str_tokens),
        attention_head_names=list(head_names),
        mask_upper_tri=causal,
    )


def render_sentence_attention(result: SentenceAttention, title: str) -> Report:
    """The demo's page: where attention goes by layer, then every head in circuitsvis."""
    report = Report(title)
    sentence = result.provenance.config.get("sentence", "".join(result.str_tokens))
    report.paragraph(f"Sentence: {sentence}")
    report.heading("Where attention goes, by layer")
    report.paragraph(
        "Mean over heads and over every destination token of the attention that lands on "
        "each set of source tokens (Clark et al. 2019, Fig. 2).",
        note=True,
    )
    mass = result.mass_by_layer()
    n_layers, n_heads = result.patterns.shape[:2]
    report.table(
        ["layer", *mass], [[layer, *(mass[n][layer] for n in mass)] for layer in range(n_layers)]
    )
    report.figure(
        heatmap(
            [list(values) for values in mass.values()],
            x_labels=[f"L{layer}" for layer in range(n_layers)],
            y_labels=list(mass),
            title="attention received (mean over heads and tokens)",
            x_title="layer",
            y_title="source tokens",
            value_name="attention",
            zmin=0.0,
            zmax=1.0,
        )
    )
    for layer in range(n_layers):
        report.heading(f"Layer {layer}", level=3)
        names = [str(HeadId(layer, h)) for h in range(n_heads)]
        report.view(
            attention_heads_view(
                result.str_tokens, result.patterns[layer], names, causal=result.causal
            )
        )
    return report


_VIEW_COUNT = [0]


def _view_id(prefix: str) -> str:
    _VIEW_COUNT[0] += 1
    return f"{prefix}-{_VIEW_COUNT[0]}"


_MODEL_VIEW_JS = """
(function(){
const data = DATA, root = document.getElementById(ID);
const grid = root.querySelector('.mv-grid'), big = root.querySelector('.mv-big');
const label = root.querySelector('.mv-label'), n = data.tokens.length;
function draw(canvas, m, cell){
  canvas.width = n * cell; canvas.height = n * cell;
  const c = canvas.getContext('2d');
  for (let d = 0; d < n; d++) for (let s = 0; s < n; s++) {
    const v = m[d][s]; c.fillStyle = `rgba(31,119,180,${Math.min(1, v)})`;
    c.fillRect(s * cell, d * cell, cell, cell);
  }
}
function enlarge(l, h){
  label.textContent =
    `layer ${l}, head ${h}: rows are queries (destination), columns keys (source)`;
  const cell = Math.max(14, Math.min(28, Math.floor(420 / n)));
  draw(big, data.patterns[l][h], cell);
  big.onmousemove = e => { const r = big.getBoundingClientRect();
    const s = Math.floor((e.clientX - r.left) / cell), d = Math.floor((e.clientY - r.top) / cell);
    if (d >= 0 && d < n && s >= 0 && s < n) big.title =
      `${data.tokens[d]} -> ${data.tokens[s]}: ${data.patterns[l][h][d][s].toFixed(3)}`; };
  root.querySelector('.mv-rows').innerHTML = data.tokens.map(t =>
    `<div style="height:${cell}px;line-height:${cell}px">${t}</div>`).join('');
  root.querySelector('.mv-cols').innerHTML = data.tokens.map(t =>
    `<div style="width:${cell}px">${t}</div>`).join('');
}
data.patterns.forEach((layer, l) => {
  const row = document.createElement('div'); row.className = 'mv-row';
  row.innerHTML = `<span class="mv-layer">L${l}</span>`;
  layer.forEach((m, h) => { const cv = document.createElement('canvas');
    cv.className = 'mv-thumb'; cv.title = `L${l}H${h}: click to enlarge`; draw(cv, m, 2);
    cv.style.width = '40px'; cv.style.height = '40px';
    cv.onclick = () => enlarge(l, h); row.appendChild(cv); });
  grid.appendChild(row);
});
enlarge(0, 0);
})();
"""

_VIEW_STYLE = """<style>
.mv-row{display:flex;align-items:center;gap:3px;margin:2px 0}
.mv-layer{width:32px;font-size:11px;color:#555}
.mv-thumb{border:1px solid #ddd;cursor:pointer;image-rendering:pixelated}
.mv-thumb:hover{border-color:#1f77b4}
.mv-flex{display:flex;gap:24px;align-items:flex-start;flex-wrap:wrap}
.mv-rows{font-size:11px;text-align:right;margin-right:4px}
.mv-cols{display:flex;flex-direction:row;font-size:11px;height:72px;align-items:flex-end}
.mv-cols div{writing-mode:vertical-rl;transform:rotate(180deg);overflow:hidden;
  white-space:nowrap;max-height:72px;text-align:left}
.nv table td{padding:1px 4px;font-size:12px}
.nv canvas{vertical-align:middle;border:1px solid #eee}
</style>"""


def model_view(attention: SentenceAttention) -> str:
    """A BertViz-style model view (Vig 2019): every layer x head as a thumbnail.

    Click a thumbnail to enlarge its pattern with the tokens (hover shows each weight).
    Offline: the script is inline and draws on canvases.
    """
    import json

    view = _view_id("model-view")
    data = {"tokens": [html_escape(t) for t in attention.str_tokens],
            "patterns": attention.patterns.float().round(decimals=3).tolist()}  # fmt: skip
    script = _MODEL_VIEW_JS.replace("DATA", json.dumps(data)).replace("ID", json.dumps(view))
    return (
        f'{_VIEW_STYLE}<div id="{view}" class="model-view"><div class="mv-flex">'
        '<div class="mv-grid"></div><div><p class="mv-label note"></p><div class="mv-cols" '
        'style="margin-left:60px"></div><div style="display:flex"><div class="mv-rows" '
        'style="width:56px"></div><canvas class="mv-big"></canvas></div></div></div></div>'
        f"<script>{script}</script>"
    )


_NEURON_VIEW_JS = """
(function(){
const data = DATA, root = document.getElementById(ID), n = data.tokens.length;
const select = root.querySelector('select'), body = root.querySelector('tbody');
const top = Math.max(...data.q.flat().map(Math.abs), ...data.k.flat().map(Math.abs), 1e-6);
function strip(values, scale){
  const cv = document.createElement('canvas'); const w = 3;
  cv.width = values.length * w; cv.height = 14; const c = cv.getContext('2d');
  values.forEach((v, i) => { const a = Math.min(1, Math.abs(v) / scale);
    c.fillStyle = v >= 0 ? `rgba(31,119,180,${a})` : `rgba(214,39,40,${a})`;
    c.fillRect(i * w, 0, w, 14); });
  return cv;
}
function show(d){
  const q = data.q[d];
  root.querySelector('.nv-q').replaceChildren(strip(q, top));
  const prods = data.k.map(k => k.map((v, i) => v * q[i]));
  const ptop = Math.max(...prods.flat().map(Math.abs), 1e-6);
  const scores = data.k.map((k, s) => (data.causal && s > d) ? null :
    k.reduce((a, v, i) => a + v * q[i], 0) / data.scale);
  const seen = scores.filter(v => v !== null), m = Math.max(...seen);
  const z = seen.reduce((a, v) => a + Math.exp(v - m), 0);
  body.replaceChildren(...data.tokens.map((t, s) => {
    const tr = document.createElement('tr');
    const w = scores[s] === null ? null : Math.exp(scores[s] - m) / z;
    tr.innerHTML = `<td>${t}</td><td></td><td></td><td>${scores[s] === null ? 'masked' :
      scores[s].toFixed(2)}</td><td>${w === null ? '' : w.toFixed(3)}</td><td><div style=
      "background:#1f77b4;height:10px;width:${w === null ? 0 : Math.round(120 * w)}px"></div></td>`;
    tr.children[1].appendChild(strip(data.k[s], top));
    tr.children[2].appendChild(strip(prods[s], ptop));
    return tr; }));
}
data.tokens.forEach((t, i) => { const o = document.createElement('option');
  o.value = i; o.textContent = `${i}: ${t}`; select.appendChild(o); });
select.onchange = () => show(+select.value);
select.value = n - 1; show(n - 1);
})();
"""


def neuron_view(qk: QueryKey) -> str:
    """A BertViz-style neuron view (Vig 2019) of one head.

    For the chosen query token: its query vector, every key vector, their elementwise
    products, the score ``q.k / scale`` and the softmax weight (blue positive, red
    negative). Offline: the script is inline.
    """
    import json

    view = _view_id("neuron-view")
    data = {"tokens": [html_escape(t) for t in qk.str_tokens],
            "q": qk.q.round(decimals=4).tolist(), "k": qk.k.round(decimals=4).tolist(),
            "scale": qk.scale, "causal": qk.causal}  # fmt: skip
    script = _NEURON_VIEW_JS.replace("DATA", json.dumps(data)).replace("ID", json.dumps(view))
    return (
        f'{_VIEW_STYLE}<div id="{view}" class="nv"><p>Head {qk.layer}.{qk.head}, query token '
        '<select></select> query vector <span class="nv-q"></span></p><table><thead><tr>'
        "<th>key token</th><th>key vector</th><th>query x key</th><th>score</th>"
        "<th>weight</th><th></th></tr></thead><tbody></tbody></table></div>"
        f"<script>{script}</script>"
    )
