"""The GPU against the CPU on the same jobs, values compared: the one prepared script to run
where a GPU is lent (issues 31 and 32).

``python -m benchmarks.bench_devices --device cuda [--full] [--out DIR]`` times each job on the
CPU and on the device in interleaved rounds (CUDA synchronised before each clock read), checks
that both give the same values (float32 tolerance, relative to the largest value), prints one
line a job and writes ``devices.json`` to ``--out`` (default: ``$OUT`` when set, else nowhere):
- the head atlas: every forward-only head kind (`detect_heads`) on induction prompts;
- exact patching of every head output (`activation_patching`, logit difference);
- the logit lens over every boundary;
- an SAE fit (`fit_sae`, top-k) on random activations and a linear probe fit (`fit_probe`),
  compared by the variance the SAE explains and the probe's accuracy.

Models: induction-2l, and SmolLM2 with ``--full``. The CPU side uses every core unless
``--threads`` says otherwise. Without a GPU it says so and stops;
``--device cpu`` compares the CPU with itself (a smoke run: the tests run it so).
"""

import argparse
import json
import os
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import torch

from benchmarks.common import header, interleaved, options
from mechscope import (
    SaeRecipe,
    activation_patching,
    detect_heads,
    fit_probe,
    fit_sae,
    load_model,
    logit_lens,
    repeated_pairs,
)
from mechscope.core import Component, TokenBatch, every_site
from mechscope.interventions.activation import patching_hooks

TOLERANCE = 1e-3
"""Largest |difference| between devices, relative to the largest |value| (float32 kernels differ
in summation order; TF32 matrix products, when enabled, differ more)."""


FIT_TOLERANCE = 0.05
"""Largest relative gap between the devices' fits in explained variance or accuracy."""


def model_jobs(spec: str, device: str, n_prompts: int) -> dict[str, Callable[[], torch.Tensor]]:
    """The model jobs on ``device``, each returning its values (on the CPU)."""
    model = load_model(spec, device=device)
    pairs = repeated_pairs(model, n_prompts=n_prompts, half=8)
    prompts = pairs.clean.tokens.tolist()
    sites = every_site(Component.Z, model.cfg.n_layers, n_heads=model.cfg.n_heads)
    tokens = TokenBatch.full(pairs.clean.tokens.to(device))

    def atlas() -> torch.Tensor:
        return detect_heads(model, prompts, progress=False).per_prompt.nanmean(1).cpu()

    def patching() -> torch.Tensor:
        runs = pairs.runs(model, names=patching_hooks(model, sites))
        return activation_patching(runs, sites, progress=False).values.cpu()

    def lens() -> torch.Tensor:
        return logit_lens(model, tokens).log_prob.cpu()

    return {"head atlas": atlas, "head patching": patching, "logit lens": lens}


def fit_jobs(device: str, n_rows: int) -> dict[str, Callable[[], torch.Tensor]]:
    """An SAE fit and a probe fit on the same random data (seeded) on ``device``."""
    generator = torch.Generator().manual_seed(0)
    data = torch.randn(n_rows, 64, generator=generator)
    labels = (data[:, :4].sum(-1) > 0).long()

    def sae() -> torch.Tensor:  # the variance it explains (its draws differ by device)
        torch.manual_seed(0)
        recipe = SaeRecipe(width=256, k=8, tokens=n_rows * 4, batch_size=1024)
        fitted, _ = fit_sae(data, recipe, device=device, progress=False)
        with torch.no_grad():
            x = data[:2048].to(device)
            error = (fitted.decode(fitted.encode(x)) - x).pow(2).sum()
            return (1 - error / (x - x.mean(0)).pow(2).sum()).cpu()[None]

    def probe() -> torch.Tensor:  # its training accuracy
        torch.manual_seed(0)
        fitted = fit_probe(data.to(device), labels.to(device), 2)
        with torch.no_grad():
            return (fitted(data.to(device)).argmax(-1).cpu() == labels).float().mean()[None]

    return {"SAE fit": sae, "probe fit": probe}


def same(a: torch.Tensor, b: torch.Tensor) -> float:
    """The largest |a - b| relative to the largest |a| (NaNs where both have them ignored)."""
    a, b = a.float(), b.float()
    scale = max(float(a.nan_to_num().abs().max()), 1e-12)
    return float((a - b).nan_to_num().abs().max()) / scale


def compare(name: str, cpu: Callable[[], torch.Tensor], other: Callable[[], torch.Tensor],
            device: str, rounds: int) -> dict:  # fmt: skip
    """One job on both devices: median seconds, the speed-up per round, the values' gap."""
    values: dict[str, torch.Tensor] = {}
    times = interleaved({"cpu": cpu, "device": other}, rounds, values)
    per_round = [c / d for c, d in zip(times["cpu"], times["device"], strict=True)]
    gap = same(values["cpu"], values["device"])
    # a fit is compared by its quality (explained variance, accuracy): its random draws and
    # its kernels' order differ by device
    tolerance = TOLERANCE if "fit" not in name else FIT_TOLERANCE
    row = {"job": name, "cpu_s": statistics.median(times["cpu"]),
           "device_s": statistics.median(times["device"]),
           "speedup": [statistics.median(per_round), min(per_round), max(per_round)],
           "relative_gap": gap, "same": gap <= tolerance}  # fmt: skip
    print(f"  {name}: cpu {row['cpu_s']:.3f}s, {device} {row['device_s']:.3f}s -> "
          f"{row['speedup'][0]:.2f}x [{row['speedup'][1]:.2f}-{row['speedup'][2]:.2f}]; "
          f"values {'agree' if row['same'] else 'DIFFER'} (relative gap {gap:.1e})")  # fmt: skip
    return row


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda", help="the device against the CPU")
    parser.add_argument("--out", type=Path, default=Path(os.environ["OUT"]) if "OUT" in os.environ
                        else None, help="where devices.json goes")  # fmt: skip
    args, rest = parser.parse_known_args(argv)
    if not any(a.startswith("--threads") for a in rest):  # the CPU side gets every core
        rest = [*rest, "--threads", str(os.cpu_count() or 1)]
    opts = options(rest)
    device = args.device
    if device.startswith("cuda") and not torch.cuda.is_available():
        print("bench_devices: no CUDA device here; nothing to compare (--device cpu: a smoke "
              "run of the CPU against itself)")  # fmt: skip
        return
    print(
        header(opts)
        + f"; device {device}"
        + (f" ({torch.cuda.get_device_name(device)})" if device.startswith("cuda") else "")
    )
    rows = []
    small = not opts.full
    specs = opts.models or ("induction-2l",) + (() if small else ("smollm2-135m",))
    for spec in specs:
        print(f"{spec}:")
        n_prompts = 16 if small else 64
        cpu_jobs, device_jobs = (
            model_jobs(spec, "cpu", n_prompts),
            model_jobs(spec, device, n_prompts),
        )
        for name in cpu_jobs:
            rows.append({"model": spec} | compare(name, cpu_jobs[name], device_jobs[name],
                                                  device, opts.rounds))  # fmt: skip
    print("fits:")
    n_rows = 8192 if small else 65536
    cpu_fits, device_fits = fit_jobs("cpu", n_rows), fit_jobs(device, n_rows)
    for name in cpu_fits:
        rows.append({"model": None} | compare(name, cpu_fits[name], device_fits[name], device,
                                              opts.rounds))  # fmt: skip
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "devices.json").write_text(json.dumps(
            {"header": header(opts), "device": device, "rows": rows}, indent=1))  # fmt: skip
        print(f"wrote {args.out / 'devices.json'}")
    if not all(row["same"] for row in rows):
        raise SystemExit("bench_devices: the devices disagree on some values (see DIFFER above)")


if __name__ == "__main__":
    main()
