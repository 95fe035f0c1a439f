"""``mechscope attribute`` and ``mechscope circuits`` end to end on the shipped models."""

from mechscope.circuits.direct import DirectAttribution
from mechscope.circuits.weights import WeightCircuits
from mechscope.cli import main
from mechscope.core.results import load_result


def test_attribute_writes_parts_that_sum_to_the_logit(tmp_path, capsys):
    out = tmp_path / "attr"
    argv = ["attribute", "induction-2l", "--prompt", "qxzjvkwmqxzjvkw", "--answer", "m"]
    argv += ["--wrong", "b"]
    assert main([*argv, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "direct logit attribution of 'm' - 'b'" in printed
    result = load_result(out)
    assert isinstance(result, DirectAttribution) and result.error() < 1e-4
    # the induction heads (layer 1) write the repeated token's logit, not layer 0
    by_head = result.by_head(2, 4)
    assert by_head[1].sum() > by_head[0].abs().sum()
    assert "conveyor belt" in (out / "report.html").read_text()


def test_circuits_prints_the_heads_and_refuses_unknown_ones(tmp_path, capsys):
    out = tmp_path / "circ"
    assert main(["circuits", "induction-2l", "--heads", "0.0,1.1", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[0] == "0.0" and lines[1].split()[-1] == "1"  # one back
    assert float(lines[2].split()[1]) > 0.9  # 1.1 copies
    assert isinstance(load_result(out), WeightCircuits)
    assert (
        main(["circuits", "induction-2l", "--heads", "7.0", "--out", str(tmp_path / "refused-1")])
        == 2
    )
    assert "not a head of this model" in capsys.readouterr().err
    assert main(["attribute", "induction-2l", "--prompt", "ab", "--answer", "xy",
                 "--out", str(tmp_path / "refused-2")]) == 2  # fmt: skip
    assert "2 tokens" in capsys.readouterr().err
