"""Core of the joint UK–AU AI threat dashboard: store, markings, queries, charts, importers and exporters.

Everything here runs without Streamlit (except `analytics.session`), so the rules that protect the data are
tested directly against real DuckDB files.
"""
