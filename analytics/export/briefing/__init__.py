"""Briefings: one content model and four writers (PPTX, DOCX, PDF, Markdown), and the builder
that offers charts drawn for the viewer.
"""
