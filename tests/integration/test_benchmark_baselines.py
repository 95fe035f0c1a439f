"""The benchmarks' hand-written baselines compute what mechscope computes (so the timings
compare equal work); timing itself stays in ``benchmarks/``, never in a test."""

import torch

from benchmarks import bench_heads, bench_lens, bench_patching


def test_patching_baselines_equal_mechscope():
    model, task = bench_patching.setup("induction-2l")
    jobs = bench_patching.jobs(model, task)
    with torch.no_grad():
        for kind in ("heads", "resid"):
            ours = jobs[kind]()
            for other in (f"{kind} by hand", f"{kind} TL"):
                theirs = jobs[other]()
                torch.testing.assert_close(ours.reshape(theirs.shape), theirs, atol=1e-5, rtol=0)
            assert float(ours.abs().max()) > 1.0  # not a comparison of zeros


def test_head_baselines_equal_mechscope():
    model, prompts, tokens = bench_heads.setup("induction-2l")
    jobs = bench_heads.jobs(model, prompts[:8], tokens[:8])
    with torch.no_grad():
        ours, by_hand, tl = (jobs[k]() for k in ("3 kinds", "3 kinds by hand", "3 kinds TL"))
    for name, kind in bench_heads.TL_KINDS.items():
        torch.testing.assert_close(by_hand[name], ours.score(kind), atol=1e-5, rtol=0)
        torch.testing.assert_close(tl[name], ours.score(kind), atol=1e-5, rtol=0)


def test_lens_baselines_equal_mechscope():
    model, tokens = bench_lens.setup("induction-2l")
    tokens = tokens[:4, :32]
    jobs = bench_lens.jobs(model, tokens)
    with torch.no_grad():
        ours, by_hand = jobs["lens"](), jobs["by hand"]()
    torch.testing.assert_close(ours.log_prob[:, :, :-1], by_hand, atol=1e-5, rtol=0)


def test_the_prepared_gpu_script_runs_and_checks_values(tmp_path):
    """`bench_devices` (run where a GPU is lent) on the CPU against itself: every job runs,
    agrees with itself and lands in devices.json. In its own process: a benchmark sets
    torch's thread count, and changing it in this one left MKL's nested LU threads spinning
    in a later test (the tuned lens's solve)."""
    import json
    import subprocess
    import sys

    from benchmarks import bench_devices

    command = [sys.executable, "-m", "benchmarks.bench_devices", "--device", "cpu",
               "--rounds", "1", "--threads", "1", "--out", str(tmp_path)]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    saved = json.loads((tmp_path / "devices.json").read_text())
    jobs = [row["job"] for row in saved["rows"]]
    assert jobs == ["head atlas", "head patching", "logit lens", "SAE fit", "probe fit"]
    assert all(row["same"] and row["relative_gap"] == 0.0 for row in saved["rows"])
    # the check that would catch a GPU's different values
    gap = bench_devices.same(torch.tensor([1.0, -2.0]), torch.tensor([1.0, -2.2]))
    assert abs(gap - 0.1) < 1e-6 and gap > bench_devices.TOLERANCE
