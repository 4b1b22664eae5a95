"""One audit entry per export: who exported what, in which format, under which marking and filters.

Exports are reads, so there is no enclosing transaction to join; each entry gets a small one of its own. The
entry names the thing exported by kind and id (chart key, assessment id, page), its marking label and the
filters in their URL form, never record content (titles, summaries), because administrators who read the log
are not cleared for every record (see analytics.audit).
"""

from __future__ import annotations

from typing import Any

from analytics import audit
from analytics.filters import Filters
from analytics.markings import Marking
from analytics.store import Store
from analytics.viewer import Viewer

EXPORT_KINDS: tuple[str, ...] = ("chart", "slide", "briefing", "table")


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
        "filters": filters.to_query_params() if filters is not None else None,
    }
    detail.update(extra or {})
    return detail


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
