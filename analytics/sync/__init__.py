"""Exchange with partner institutes over TAXII 2.1, the way MISP and OpenCTI exchange (issue 17).

Why a package of its own, above export and ingest: a sync pulls the partner's new objects through the STIX
importer (analytics/ingest/stix) and pushes ours through the partner selection and the bundle builder
(analytics/export), so it uses both and neither may know about it. `config` reads each partner's server and
credentials (environment or Streamlit secrets); `taxii` runs a sync.
"""
