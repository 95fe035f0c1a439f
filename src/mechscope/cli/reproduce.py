"""``mechscope reproduce NAME ...``: a shortcut to ``python -m experiments.NAME`` in a checkout.

Reproductions live in the repository's top-level ``experiments/`` (thin clients of the
library, not part of the installed package); this finds that folder from the current
directory or from an editable install and hands the remaining arguments to the experiment.
"""

import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import tyro

from mechscope.core.errors import MechscopeError

EXPERIMENTS = {
    "induction": "experiments.induction_heads",
    "smollm-facts": "experiments.smollm_facts",
    "smollm-ioi": "experiments.smollm_ioi",
    "smollm-atlas": "experiments.smollm_atlas",
    "smollm-tuned-lens": "experiments.smollm_tuned_lens",
    "smollm-dla": "experiments.smollm_dla",
    "induction-circuits": "experiments.induction_circuits",
    "rank-collapse": "experiments.rank_collapse",
    "gradient-health": "experiments.gradient_health",
    "training-health": "experiments.training_health",
    "overfitting": "experiments.overfitting",
    "layer-hierarchy": "experiments.layer_hierarchy",
    "vit-attention": "experiments.vit_attention",
}
"""Shortcut names and the experiment modules they run."""


@dataclass(frozen=True, kw_only=True)
class Config:
    """Reproduce a published finding end to end, from a mechscope checkout.

    'induction' = induction heads and their phase change (Olsson et al. 2022);
    'smollm-facts' = the logit lens on factual completions in SmolLM2-135M;
    'smollm-ioi' = indirect object identification in SmolLM2-135M (Wang et al. 2022);
    'smollm-atlas' = a head atlas of SmolLM2-135M on UD English EWT;
    'smollm-tuned-lens' = the tuned lens vs the logit lens on SmolLM2-135M;
    'smollm-dla' = direct logit attribution in SmolLM2-135M (facts, IOI);
    'induction-circuits' = the induction circuit read from the weights;
    'rank-collapse' = rank collapse in pure attention (Dong et al. 2021);
    'gradient-health' = post-LN vs pre-LN gradient norms by layer (Xiong et al. 2020);
    'training-health' = gradients and attention-entropy collapse over training (Zhai et al.
    2023); 'overfitting' = over-fitting a tiny corpus, class geometry over training;
    'layer-hierarchy' = probes by layer on MiniLM and SmolLM2 (Tenney et al. 2019, Hewitt &
    Manning 2019) and CKA across the induction phase change. Same as
    'python -m experiments.NAME ...' from the repository root (NAME with underscores); run
    'mechscope reproduce NAME --help' for the experiment's own options.
    """

    experiment: Annotated[
        Literal[
            "induction",
            "smollm-facts",
            "smollm-ioi",
            "smollm-atlas",
            "smollm-tuned-lens",
            "smollm-dla",
            "induction-circuits",
            "rank-collapse",
            "gradient-health",
            "training-health",
            "overfitting",
            "layer-hierarchy",
        ],
        tyro.conf.Positional,
        tyro.conf.arg(metavar="NAME"),
    ]
    """The reproduction to run."""


def experiments_root() -> Path:
    """The checkout holding ``experiments/``.

    The current directory (or a parent), else the repository an editable install points at.

    Raises:
        MechscopeError: no checkout found.
    """
    here = Path.cwd().resolve()
    candidates = [here, *here.parents, Path(__file__).resolve().parents[3]]
    for root in candidates:
        if (root / "experiments" / "__init__.py").exists():
            return root
    raise MechscopeError(
        "reproductions live in a mechscope checkout's experiments/ folder; run this from the "
        "repository (or use python -m experiments.NAME there)."
    )


def main(argv: Sequence[str]) -> int:
    """Run experiment ``argv[0]`` with the rest of ``argv`` as its arguments."""
    if not argv or argv[0] not in EXPERIMENTS:
        known = ", ".join(EXPERIMENTS)
        shown = argv[0] if argv else "nothing"
        raise MechscopeError(f"unknown reproduction {shown!r}; choose one of: {known}.")
    root = str(experiments_root())
    if root not in sys.path:
        sys.path.insert(0, root)
    module = importlib.import_module(EXPERIMENTS[argv[0]] + ".__main__")
    return module.main(list(argv[1:]), prog=f"mechscope reproduce {argv[0]}")
