"""Ratio benchmarks against baselines measured in the same run (see benchmarks/README.md)."""
