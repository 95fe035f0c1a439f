"""circuitsvis views of attention patterns."""

from collections.abc import Sequence

import circuitsvis.attention
from circuitsvis.utils.render import RenderedHTML
from jaxtyping import Float
from torch import Tensor

from mechscope.core.axes import HeadId
from mechscope.heads.patterns import SentenceAttention
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
