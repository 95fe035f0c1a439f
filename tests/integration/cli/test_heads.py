"""``mechscope heads`` end to end on the shipped induction model."""

from mechscope.cli import main
from mechscope.core.results import load_result
from mechscope.heads import HeadKind, HeadScores, SyntaxScores, Verification
from mechscope.viz.report import circuitsvis_bundle
from tests.unit.heads.test_coreference import DOC


def test_heads_writes_scores_and_an_offline_report(tmp_path, capsys):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("def f(x):\n\nreturn f(x) + f(x)\nimport os, sys\n")
    conllu = tmp_path / "s.conllu"
    conllu.write_text(
        "1\tthe\tthe\tDET\tDT\t_\t2\tdet\t_\t_\n2\tcat\tcat\tNOUN\tNN\t_\t0\troot\t_\t_\n\n"
    )
    coref = tmp_path / "gum.conllu"
    coref.write_text(DOC)
    out = tmp_path / "out"
    argv = ["heads", "induction-2l", "--kinds", "induction", "previous-token", "entropy"]
    argv += ["--prompts", str(prompts), "--conllu", str(conllu), "--verify", "induction"]
    argv += ["--coref", str(coref), "--coref-window", "2"]
    assert main([*argv, "--out", str(out), "--window", "2"]) == 0
    printed = capsys.readouterr().out
    assert "induction" in printed and "verify induction: ablate 1." in printed
    assert "verdict: induction: " in printed  # one line: supported, partly or not
    scores = HeadScores.load(out)
    assert scores.n_prompts == 3 and scores.kinds[0] is HeadKind.INDUCTION
    assert {h.layer for h in scores.heads_of("induction")} == {1}
    assert scores.provenance.model == "induction-2l"
    assert scores.provenance.config["settings"]["window"] == 2  # the command's Config
    assert isinstance(load_result(out / "syntax"), SyntaxScores)
    # coreference.csv: one row per head, then the two baselines
    table = (out / "coreference" / "coreference.csv").read_text().splitlines()
    assert table[0] == "head,mentions,accuracy,pronoun_accuracy,pronoun_mentions"
    assert len(table) == 1 + 8 + 2 and table[-1].startswith("baseline:head-match,2,0.5,")
    assert "coreference: 2 mentions" in printed
    check = load_result(out / "verify-induction")
    assert isinstance(check, Verification) and check.specific
    assert all(head.layer == 0 for head in check.control.heads)  # layer 1's heads are all induction
    page = (out / "report.html").read_text()
    assert page.count(circuitsvis_bundle()) == 1
    assert "Syntactic heads" in page and "Causal check" in page and "Coreference heads" in page


def test_heads_bad_input_exits_2(tmp_path, capsys):
    assert (
        main(
            ["heads", "induction-2l", "--kinds", "inductoin", "--out", str(tmp_path / "refused-1")]
        )
        == 2
    )
    assert "invalid choice 'inductoin'" in capsys.readouterr().err
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    assert (
        main(
            ["heads", "induction-2l", "--prompts", str(empty), "--out", str(tmp_path / "refused-2")]
        )
        == 2
    )
    assert "no prompts" in capsys.readouterr().err
    assert not (tmp_path / "result.json").exists()
    # a treebank without Entity= annotation, and a window of no sentences: one line each
    plain = tmp_path / "plain.conllu"
    plain.write_text("1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n\n")
    argv = ["heads", "induction-2l", "--coref", str(plain), "--out", str(tmp_path / "refused-3")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no Entity= annotation" in err[0]
    assert main([*argv[:-2], "--coref-window", "0", "--out", str(tmp_path / "refused-4")]) == 2
    assert "--coref-window must be at least 1" in capsys.readouterr().err
