"""Reproductions of published findings, each a thin client of the mechscope library.

Each experiment is a package with a ``Config`` (torch-free, so ``--help`` is instant),
``run(cfg) -> Result`` and a report; run one from the repository root with
``python -m experiments.NAME`` (or ``mechscope reproduce NAME``).
"""
