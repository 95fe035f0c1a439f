"""The Bridge backend against the hooked one on the same weights (issue 31).

SmolLM2 (``--models`` to change), interleaved rounds, values checked equal. Jobs:
- a forward pass (8 prompts of 32 tokens, logits);
- every head kind (`detect_heads`, 16 prompts);
- activation patching of every head of the last three layers (27 sites, 4 IOI pairs): the
  hooked backend starts each chunk's pass at its layer, the Bridge cannot (it runs every
  pass from the embeddings);
- the logit lens (8 prompts).
Also each backend's load from its cache.
"""

import time

import torch

from benchmarks.common import header, interleaved, options, ratio, seconds
from mechscope.core import Component, Site
from mechscope.heads import detect_heads
from mechscope.interventions import activation_patching, ioi_pairs
from mechscope.lens import logit_lens
from mechscope.models import load_model


def main() -> None:
    """Time each job on both backends."""
    opts = options()
    spec = (opts.models or ("smollm2-135m",))[0]
    print(header(opts))
    models = {}
    for backend in ("hooked", "bridge"):
        load_model(spec, device="cpu", backend=backend)  # caches written, pages read
        start = time.perf_counter()
        models[backend] = load_model(spec, device="cpu", backend=backend)
        print(f"{backend}: loaded from its cache in {time.perf_counter() - start:.2f} s")
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(100, 10_000, (8, 32), generator=generator)
    rows = tokens[:, :16].repeat(2, 1).tolist()
    layers = models["hooked"].cfg.n_layers
    sites = [Site(Component.Z, layer, head) for layer in range(layers - 3, layers)
             for head in range(models["hooked"].cfg.n_heads)]  # fmt: skip

    def jobs(model):  # noqa: ANN001, ANN202
        pairs = ioi_pairs(model, 4)
        return {
            "forward": lambda: model(tokens).detach(),
            "head kinds": lambda: detect_heads(model, rows, progress=False).per_prompt,
            "patching": lambda: (
                activation_patching(pairs.runs(model), sites, progress=False).values
            ),  # fmt: skip
            "logit lens": lambda: logit_lens(model, tokens).log_prob,
        }

    hooked, bridge = jobs(models["hooked"]), jobs(models["bridge"])
    for job in hooked:
        values: dict = {}
        times = interleaved({"hooked": hooked[job], "bridge": bridge[job]}, opts.rounds, values)
        a, b = values["hooked"].float(), values["bridge"].float()
        diff = float((a - b).nan_to_num().abs().max())
        print(f"{job}: hooked {seconds(times, 'hooked')}, bridge {seconds(times, 'bridge')}; "
              f"bridge / hooked {ratio(times, 'bridge', 'hooked')}; max |diff| {diff:.1e} "
              f"(values up to {float(a.nan_to_num().abs().max()):.1f})")  # fmt: skip


if __name__ == "__main__":
    main()
