"""The vocabulary every layer may import: axes, sites, batches, metrics, results, errors.

Imports no TransformerLens (the layer contract in ``pyproject.toml`` checks it).
"""
