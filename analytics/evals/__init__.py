"""Evaluation results, behind the Evaluations page.

queries.py      the WHERE every evaluation read shares (eval_where), benchmarks, capability over time, thresholds
comparisons.py  models compared on shared benchmarks (paired tests), UK-AU agreement
runs.py         a benchmark's runs, one run in detail, pages of its samples
charts.py       the figures of all of the above
"""
