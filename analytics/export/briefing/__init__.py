"""Briefings: one content model, four writers, and the builder that offers charts drawn for the viewer.

content.py      the Briefing model (title, marking, bottom line, key judgements, charts, sources), from_assessment
slides.py       the PowerPoint writer (16:9 deck, and the single page-to-slide slide)
docx_writer.py  the Word writer (named so it never shadows the python-docx package)
pdf.py          the PDF writer
markdown.py     the Markdown writer
formats.py      the formats offered (FORMATS, FORMAT_LABELS) and `render`, which picks a writer by name
builder.py      the charts one may put in a briefing, drawn for the viewer; plans, builds and exports briefings
"""
