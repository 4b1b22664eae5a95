"""Incident analysis: the explorer's and the overview's viewer-scoped queries and their figures."""
