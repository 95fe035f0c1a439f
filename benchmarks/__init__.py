"""Ratio benchmarks (``make bench``); see `benchmarks.common` for how they are timed."""

import os

# Before tqdm is imported anywhere: TransformerLens's per-site progress bars would bury the
# figures (tqdm reads its TQDM_* settings once, at import).
os.environ.setdefault("TQDM_DISABLE", "1")
