"""Statistical methods without data access: anomaly flags over counts and paired model comparisons.

Pure functions on arrays and frames, so each method is proven by seeded simulation tests on its own.
"""
