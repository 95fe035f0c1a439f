"""Findings pages whose every number comes from a saved run.

    .venv/bin/python docs/findings.py extract NAME RESULT_DIR  (read a saved run's numbers)
    .venv/bin/python docs/findings.py render [--check]         (write, or check, the pages)
    make findings                               (extract the runs results/ holds, render)

A generated page has a template (``docs/findings/templates/NAME.md``, prose with ``{name}``
fields) and the numbers of one saved run (``docs/findings/data/NAME.json``), which the
experiment's ``findings(result)`` reads from the run's Result: so the prose cannot drift from
the data, and a test checks that each page is its template rendered with its numbers. The
other findings pages are still written by hand (the docs' contributing page lists which).
"""

import argparse
import importlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent / "findings"
TEMPLATES = HERE / "templates"
DATA = HERE / "data"

PAGES = {
    "smollm-ioi": "experiments.smollm_ioi.findings:findings",
    "smollm-atlas": "experiments.smollm_atlas.findings:findings",
    "smollm-facts": "experiments.smollm_facts.findings:findings",
    "smollm-dla": "experiments.smollm_dla.findings:findings",
    "gradient-health": "experiments.gradient_health.findings:findings",
    "rank-collapse": "experiments.rank_collapse.findings:findings",
    "induction-circuits": "experiments.induction_circuits.findings:findings",
    "overfitting": "experiments.overfitting.findings:findings",
    "training-health": "experiments.training_health.findings:findings",
    "induction": "experiments.induction_heads.findings:findings",
    "smollm-tuned-lens": "experiments.smollm_tuned_lens.findings:findings",
    "layer-hierarchy": "experiments.layer_hierarchy.findings:findings",
    "vit-attention": "experiments.vit_attention.findings:findings",
    "vit-cutmix": "experiments.vit_attention.findings:cutmix",
    "feature-hierarchy": "experiments.feature_hierarchy.findings:findings",
    "smollm-features": "experiments.smollm_features.findings:findings",
    "hierarchy": "experiments.hierarchy.findings:findings",
    "smollm-graphs": "experiments.smollm_graphs.findings:findings",
    "attention-collapse-mitigation": "experiments.attention_collapse_mitigation.findings:findings",
    "gradient-mitigation": "experiments.gradient_mitigation.findings:findings",
    "overfitting-mitigation": "experiments.overfitting_mitigation.findings:findings",
    "vit-overfitting-mitigation": "experiments.vit_overfitting_mitigation.findings:findings",
}
"""Each generated page and the function that reads its numbers from the saved Result."""

RESULTS = Path("results")
"""Where ``make findings`` looks for each page's full run: ``results/NAME``, the experiments'
default ``--out``."""


def values_of(name: str, result: object) -> dict[str, str]:
    """The page's numbers, read from a loaded Result by its experiment's ``findings``."""
    module, function = PAGES[name].split(":")
    return getattr(importlib.import_module(module), function)(result)


def fill(name: str, values: dict[str, str]) -> str:
    """The page's template with ``values`` (a missing number is a KeyError)."""
    return (TEMPLATES / f"{name}.md").read_text().format_map(values)


def extract(name: str, result_dir: Path) -> dict[str, str]:
    """The page's numbers from the saved run in ``result_dir``, written to its data file."""
    from mechscope.core.results import load_result

    values = values_of(name, load_result(result_dir))
    DATA.mkdir(parents=True, exist_ok=True)
    (DATA / f"{name}.json").write_text(json.dumps(values, indent=1, ensure_ascii=False) + "\n")
    return values


def render(name: str) -> str:
    """The page: its template with its saved numbers."""
    return fill(name, json.loads((DATA / f"{name}.json").read_text()))


def stale() -> list[str]:
    """The generated pages that differ from their template rendered with their numbers."""
    return [name for name in PAGES if (HERE / f"{name}.md").read_text() != render(name)]


def main(argv: list[str]) -> int:
    """The command line (see the module docstring); 1 when ``render --check`` finds stale pages."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("extract", help="read a saved run's numbers")
    one.add_argument("name", choices=sorted(PAGES))
    one.add_argument("result_dir", type=Path)
    every = commands.add_parser("extract-all", help="extract every page whose run is saved")
    every.add_argument("--results", type=Path, default=Path("."))
    check = commands.add_parser("render", help="write the pages")
    check.add_argument("--check", action="store_true", help="only say which pages are stale")
    args = parser.parse_args(argv)
    if args.command == "extract":
        extract(args.name, args.result_dir)
    elif args.command == "extract-all":
        for name in PAGES:
            path = args.results / RESULTS / name
            if (path / "result.json").is_file():
                extract(name, path)
                print(f"{name}: numbers read from {path}")  # noqa: T201
            else:
                print(f"{name}: no saved run at {path} (its numbers stay)")  # noqa: T201
    elif args.check:
        pages = stale()
        for name in pages:
            print(f"docs/findings/{name}.md is stale: run `make findings`")  # noqa: T201
        return 1 if pages else 0
    else:
        for name in PAGES:
            (HERE / f"{name}.md").write_text(render(name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
