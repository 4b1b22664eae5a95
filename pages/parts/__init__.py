"""Parts of pages that are not pages themselves: pieces shared by every page (sidebar.py) or too large to sit in
their page file (assessment_editor.py, the Assessments page's editor).

A page file in pages/ is reached only through the navigation (analytics/access/pages.py), and every file there
must be one (tests/test_hardening.py); Streamlit's pages/ directory mode does not look into subfolders, so the
parts live here and the pages (or app.py) import them.
"""
