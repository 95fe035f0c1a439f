"""Experiments: each module is a `Config` dataclass and ``run(cfg) -> Result``.

Scripts, notebooks and the CLI all call the same ``run``. They live inside the package (not
beside it) so that ``mechscope demo`` and ``mechscope reproduce`` work from any install.
"""
