"""What an exported chart's footer and banner say about the rows behind it: how fresh they are, the dates they
span, and who is named on every TLP:RED row among them.

Why a module of its own: these are reads of the records only, so the session caches them per audience and data
version like the page's own reads (`session.later`, run when the export button is pressed). Read afresh at each
export, they cost the store server about 0.18 s of CPU per export at 1M incidents (three scans); a burst of
colleagues exporting the same chart paid that each time (issue 21, docs/deployment.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import duckdb

from analytics.access.viewer import Viewer
from analytics.export.chart_image import data_as_of, records_span, red_recipients
from analytics.filters import Filters

# Reads only records: cached results outlive assessment and saved-view writes (session.generation_for).
READS_ONLY_RECORDS = True


@dataclass(frozen=True)
class RowsBehind:
    """`chart_image.data_as_of`, `records_span` and `red_recipients` for one viewer, filters and day."""

    as_of: datetime | None
    span: tuple[date, date] | None
    recipients: tuple[str, ...]


def rows_behind(con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters, today: date) -> RowsBehind:
    return RowsBehind(
        data_as_of(con, viewer),
        records_span(con, viewer, filters, today),
        red_recipients(con, viewer, filters, today),
    )
