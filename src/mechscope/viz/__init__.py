"""Rendering: result objects in, figures and offline HTML out. Nothing here runs a model."""

from mechscope.viz.attention import attention_heads_view
from mechscope.viz.report import Report

__all__ = ["Report", "attention_heads_view"]
