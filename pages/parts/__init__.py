"""Pieces of pages too large to sit in their page file; not pages themselves.

A page file in pages/ is reached only through the navigation (analytics/access/pages.py), and every file there
must be one (tests/test_hardening.py); Streamlit's pages/ directory mode does not look into subfolders, so the
parts of a page live here and its page file imports them.
"""
