"""Prompt sets and corpora: each yields typed token batches."""
