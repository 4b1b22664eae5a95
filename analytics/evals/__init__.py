"""Evaluation results: capability over time, model comparisons, UK-AU agreement, run detail; queries
and figures.
"""
