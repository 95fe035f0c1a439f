"""Subcommands of ``mechscope`` that live in their own modules (see `mechscope.cli`)."""
