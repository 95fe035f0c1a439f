"""Rendering: result objects in, plotly figures and offline HTML out. Nothing here runs a model."""

from mechscope.viz.report import Report

__all__ = ["Report"]
