"""Core of the joint UK–AU AI threat dashboard, without a UI: every rule that protects the data is tested here,
directly against real DuckDB files (only `analytics.session` knows Streamlit).

The map (docs/architecture.md draws the layers and follows one filter change from the sidebar to the chart):

    access/       who may see what: viewer, markings (applied in SQL), pages per role   -- the bottom layer
    store/        the DuckDB file: open, migrate, one lock per process; audit log; backups
    accounts/     users and roles; how a browser session becomes a Viewer
    stats/        anomaly flags, paired model comparisons (pure, proven by simulation tests)
    incidents/    explorer and overview: viewer-scoped queries and their figures
    evals/        evaluation results: capability, comparisons, agreement, run detail; figures
    matrix/       the ATLAS taxonomy and the threat matrix; figures
    links/        bridges between record types (incident <-> evaluation <-> technique)
    entities/     one model, developer, sector, actor, technique or benchmark across every record type
    assessments/  joint assessments: model, checker, derived marking, evidence, workflow, diff
    ingest/       one module per import format, the CLI inbox, import history and undo
    export/       marked tables, chart images, STIX bundles, briefings; every export audited
    demo/         the synthetic demo store (used only by the CLI and the benchmark)
    bench/        `make bench`: harness and one module per measured case
    cli.py        `python -m analytics ...`       session.py  the Streamlit adapter and result cache
    filters.py    the shared filters              views.py    saved views
    charts.py     figure style, inert text        vocab.py    controlled vocabularies

Each page and the module that holds its data:

    Overview              pages/overview.py          analytics/incidents/overview.py
    Approved assessments  pages/assessments_read.py  analytics/assessments/reads.py
    Incident explorer     pages/explorer.py          analytics/incidents/explorer.py
    Evaluations           pages/evaluations.py       analytics/evals/queries.py
    Threat matrix         pages/matrix.py            analytics/matrix/queries.py
    Entities              pages/entity.py            analytics/entities/queries.py
    Assessments           pages/assessments.py       analytics/assessments/reads.py (writes: workflow.py)
    Briefings             pages/briefings.py         analytics/export/briefing/builder.py
    Data exchange         pages/data.py              analytics/ingest/ and analytics/export/stix.py
    Administration        pages/admin.py             analytics/accounts/users.py, analytics/store/audit.py
"""
