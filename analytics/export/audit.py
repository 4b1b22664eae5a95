"""One audit entry per export: who exported what, in which format, under which marking and filters.

Exports are reads, so there is no enclosing transaction to join; each entry gets a small one of its own. The
entry names the thing exported by kind and id (chart key, assessment id, page), its format and marking label,
and which filter fields were set with a digest of their values - never the values themselves, nor any other
record content (titles, chart titles, search text, category names from partners), because administrators who
read the log are not cleared for every record. analytics.store.audit refuses any other detail.

Every file download of the product goes through `export_file`: the bytes are built, the entry is written, and
only then are the bytes handed to the button, so no download leaves unaudited.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from analytics.access.markings import Marking
from analytics.access.viewer import Viewer
from analytics.filters import Filters
from analytics.store import audit
from analytics.store.database import Store

EXPORT_KINDS: tuple[str, ...] = ("chart", "slide", "briefing", "table", "matrix")


def export_detail(
    kind: str, fmt: str, marking: Marking, filters: Filters | None, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The audit detail of an export (kept apart so tests and callers can see exactly what is recorded)."""
    if kind not in EXPORT_KINDS:
        raise ValueError(f"unknown export kind {kind!r}")
    detail: dict[str, Any] = {
        "kind": kind,
        "format": fmt,
        "marking": marking.label,
        "tlp": marking.tlp,
        "releasable_to": list(marking.releasable_to),
        **filters_detail(filters),
    }
    detail.update(extra or {})
    return detail


def filters_detail(filters: Filters | None) -> dict[str, Any]:
    """Which filter fields were set, and a digest of their values: enough to check that an export matches a
    link someone holds, without the log holding the values (search text and category names can be content)."""
    if filters is None:
        return {}
    params = filters.to_query_params()
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode("utf-8")).hexdigest()[:16]
    return {"filter_fields": sorted(params), "filters_digest": digest}


def record_export(
    store: Store,
    viewer: Viewer,
    *,
    kind: str,
    obj: str,
    fmt: str,
    marking: Marking,
    filters: Filters | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write the 'export' audit entry for `viewer` exporting `obj` (e.g. 'chart:by_category')."""
    detail = export_detail(kind, fmt, marking, filters, extra)
    audit.append(store, viewer.email, "export", obj, detail)


def export_file(
    store: Store,
    viewer: Viewer,
    build: Callable[[], bytes],
    *,
    kind: str,
    obj: str,
    fmt: str,
    marking: Marking,
    filters: Filters | None = None,
    extra: dict[str, Any] | None = None,
) -> bytes:
    """Build a download's bytes and write its audit entry: what a download button calls when clicked. The
    entry is checked before anything is built, so an export that cannot be audited is not produced."""
    audit.check_entry("export", obj, export_detail(kind, fmt, marking, filters, extra))
    data = build()
    record_export(store, viewer, kind=kind, obj=obj, fmt=fmt, marking=marking, filters=filters, extra=extra)
    return data
