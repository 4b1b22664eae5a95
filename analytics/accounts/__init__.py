"""People: enrolment and roles (users) and how a browser session becomes a Viewer (identity)."""
