"""Statistical methods without data access: anomaly flags over counts (anomalies), which values are rising
(rising), paired model comparisons (eval_stats), and the simulations that check their error rates (simulate).

Pure functions on arrays and frames, so each method is proven by seeded simulation tests on its own; the
methods, formulas, simulation tables and references are in docs/methods.md.
"""
