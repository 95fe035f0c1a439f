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
