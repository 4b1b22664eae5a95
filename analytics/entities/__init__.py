"""Entity pages: everything the records say about one model, developer, sector, actor type, ATLAS technique or
benchmark, as OpenCTI gathers it (issue 20).

Why a package of its own: an entity cuts across the record types (incidents, evaluation runs, assessments), so it
sits above the features and below the pages. `kinds` is the allow-list of entity kinds and the links to them;
`queries` the viewer-scoped reads (markings applied in SQL, every result marked); `charts` the timeline figure.
"""
