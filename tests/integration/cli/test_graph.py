"""``mechscope graph`` end to end on a small model with MLPs: train transcoders, trace, check.

A random 2-layer byte-level model with MLPs is saved as a checkpoint; ``mechscope sae train
--transcoder`` trains both layers' transcoders in one pass over the corpus; ``mechscope
graph`` traces a prompt, checks the graph in the real model and writes a page that must draw
offline, its click-to-highlight script included.
"""

import json

import pytest

from mechscope.cli import main
from tests.browser import assert_drew, browser

pytest.importorskip("sae_lens", reason="install mechscope[sae] for transcoders")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from mechscope.data.byte_tokenizer import save_byte_tokenizer
    from mechscope.models import TinyConfig, load_model
    from mechscope.models.checkpoint import save_checkpoint

    root = tmp_path_factory.mktemp("graph")
    model = load_model(TinyConfig(n_layers=2, n_heads=2, d_model=32, d_vocab=258, n_ctx=64,
                                  attn_only=False, seed=3))  # fmt: skip
    model.set_tokenizer(save_byte_tokenizer(root / "tokenizer"))
    save_checkpoint(model, root / "model")
    corpus = json.__file__.replace("__init__.py", "decoder.py")
    assert main(["sae", "train", str(root / "model"), "--transcoder", "--out", str(root / "tc"),
                 "--width", "64", "--sparsity-coefficient", "0.02", "--tokens", "3000",
                 "--read-tokens", "2000", "--batch-size", "200", "--n-ctx", "32",
                 "--eval-tokens", "100", "--corpus", corpus]) == 0  # fmt: skip
    return root


def test_the_graph_command_traces_checks_and_draws(trained, capsys):
    from mechscope.circuits import AttributionGraph, GraphValidation

    browser()
    out = trained / "out"
    argv = ["graph", str(trained / "model"), "--transcoders", str(trained / "tc"), "--prompt",
            "def decode(self, s):", "--out", str(out), "--validate", "6", "--contexts", "4",
            "--max-features", "40", "--batch-size", "16"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "real-model ablation of 6 features" in printed
    graph = AttributionGraph.load(out / "graph")
    check = GraphValidation.load(out / "validation")
    assert graph.n_explored <= 40 and graph.provenance.config["max_features"] == 40
    assert len(check.features) == 6 and graph.nodes[-1] == "target"
    page = (out / "report.html").read_text()
    assert "plotly_click" in page
    shown = assert_drew(out / "report.html")
    assert shown.n_figures >= 2
    # A two-token answer is refused in one line, and nothing in --out is lost.
    assert main([*argv[:-4], "--answer", "ab", "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert "'ab' is 2 tokens" in err and err.count("\n") == 1
    assert AttributionGraph.load(out / "graph").nodes == graph.nodes
