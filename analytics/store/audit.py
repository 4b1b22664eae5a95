"""The append-only audit log: who did what, when. Nothing in the product updates or deletes its rows.

Entries are written in the same transaction as the change they record (so a rolled-back change leaves no entry
and a committed one always has one). They name people, actions, object ids, field names and markings, never
record content (titles, summaries, notes, benchmark names, file names, search text): administrators of the joint
service read the log (it is marked AMBER, releasable to AU and UK), and they are not cleared for every record.

That rule is enforced here, not at each call site, so a future call site cannot write content:

- `action` must be one of `ACTIONS` (the registry the security suite sweeps: a new action without a sweep fails);
- `obj` is empty or an id (`kind:id`, no spaces); for kinds whose id would be a name someone typed (`file:`,
  `benchmark:`, `view-name:`), and for anything that is not an id, only an opaque digest is stored;
- `detail` is a mapping whose keys come from `DETAIL_KEYS`, each with a type: ids, action names, field names,
  markings, roles, institutes, fixed vocabularies, counts, numbers, booleans (or lists of those). Keys of the
  "opaque" type are stored as a digest. Anything else - a free-text string, an unknown key, a nested object - is
  refused with `AuditContentError` naming the action and the key, and nothing is written.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import duckdb

from analytics.access.markings import INSTITUTES, TLP_LEVELS, Marking
from analytics.access.roles import ADMINS, ROLES, Role
from analytics.access.viewer import AccessDenied, Viewer
from analytics.store.database import Store

if TYPE_CHECKING:  # the sign-in screen imports this module and should not wait ~1 s for pandas
    import pandas as pd

# The log and the user directory are operational records of the joint service: both institutes' administrators
# may read them, nobody outside. They hold no record content, so no record marking reaches them.
AUDIT_MARKING = Marking("AMBER", ("AU", "UK"))

MAX_ROWS = 5000

# Every action the log may hold. tests/security/test_audit_content.py sweeps each one with canary text in every
# free-text input; adding an action here without a sweep there fails that test.
ACTIONS: frozenset[str] = frozenset(
    {
        "sign-in",
        "sign-in refused",
        "refused",
        "search audit",
        "enrol user",
        "disable user",
        "enable user",
        "change role",
        "import",
        "import aiid",
        "import atlas",
        "import epoch",
        "import inspect",
        "import avid",
        "import garak",
        "import jailbreakbench",
        "undo import",
        "inbox imported",
        "inbox refused",
        "backup",
        "restore",
        "export",
        "export stix",
        "export red to person",  # one entry per TLP:RED record handed to one named person (export/partners.py)
        "set export ceiling",
        "taxii sync",
        "save view",
        "map benchmark",
        "unmap benchmark",
        "eval threshold set",
        "eval threshold cleared",
        "create assessment",
        "save assessment",
        "assessment save conflict",
        "submit assessment",
        "sign off assessment",
        "return assessment",
        "comment on assessment",
        "dissent on assessment",
    }
)


class AuditContentError(ValueError):
    """An audit entry that would carry something other than ids, actions, field names, markings or counts."""


_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@+/=#|-]{0,199}")  # an id: no spaces, no free text
_FIELD = re.compile(r"[a-z][a-z0-9_]{0,63}")
_DIGEST = re.compile(r"[0-9a-f]{16,64}")
_MARKING = re.compile(
    r"TLP:(?:"
    + "|".join(re.escape(t) for t in TLP_LEVELS)
    + r") · releasable to (?:nobody|[A-Z]{2,5}(?: and [A-Z]{2,5})*)"
)
_STATUS_LINE = re.compile(r"(?:(?:Draft|In review|Returned with comments|Approved) · )?version \d+")
# kinds of object whose id part is a name a person typed: stored as a digest, never as typed
OPAQUE_OBJECT_KINDS: tuple[str, ...] = ("file", "benchmark", "view-name")


def opaque_id(text: str) -> str:
    """A stable, opaque stand-in for a name (benchmark, file, view): the same name gives the same id, so an
    administrator can follow one object through the log without the log holding the name."""
    return hashlib.sha256(("audit-id\x00" + str(text)).encode("utf-8")).hexdigest()[:16]


def _scalar(check: Callable[[Any], bool], what: str) -> Callable[[Any], Any]:
    def validate(value: Any) -> Any:
        if value is None or (not isinstance(value, bool) and check(value)):
            return value
        raise AuditContentError(f"expected {what}")

    return validate


def _many(inner: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def validate(value: Any) -> Any:
        if isinstance(value, list | tuple | set | frozenset):
            items = sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
            return [inner(v) for v in items]
        return inner(value)

    return validate


def _enum(*allowed: str) -> Callable[[Any], Any]:
    return _scalar(lambda v: isinstance(v, str) and v in allowed, "one of " + ", ".join(allowed))


def _opaque(value: Any) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise AuditContentError("expected a name to make opaque")
    return opaque_id(str(value))


def _flag(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    raise AuditContentError("expected true or false")


_ID = _many(
    _scalar(lambda v: isinstance(v, int) or (isinstance(v, str) and bool(_TOKEN.fullmatch(v))), "an id")
)
_COUNT = _scalar(lambda v: isinstance(v, int) and v >= 0, "a count")
_NUMBER = _scalar(lambda v: isinstance(v, int | float) and math.isfinite(v), "a number")
_FIELDS = _many(_scalar(lambda v: isinstance(v, str) and bool(_FIELD.fullmatch(v)), "a field name"))
_DIGEST_V = _scalar(lambda v: isinstance(v, str) and bool(_DIGEST.fullmatch(v)), "a hex digest")
_ROLE = _enum(*ROLES)
_INSTITUTE = _many(_enum(*INSTITUTES, "JOINT"))
# An attempted action named in a refusal: a registered action, or a short lower-case phrase without digits (the
# names `require(action=...)` is given are literals in code, like "approve" or "export").
_ACTION_NAME = re.compile(r"[a-z][a-z-]*(?: [a-z-]+){0,3}")
_ACTION = _scalar(
    lambda v: isinstance(v, str) and (v in ACTIONS or (len(v) <= 40 and bool(_ACTION_NAME.fullmatch(v)))),
    "an action name",
)
_MARKING_V = _scalar(lambda v: isinstance(v, str) and bool(_MARKING.fullmatch(v)), "a marking label")
_TLP = _enum(*TLP_LEVELS)
_FORMAT = _enum("csv", "parquet", "json", "png", "svg", "pptx", "docx", "pdf", "md", "markdown", "stix")

# The allow-list: every key an entry's detail may have, and the type of its value.
DETAIL_KEYS: dict[str, Callable[[Any], Any]] = {
    # people and their standing
    "role": _ROLE,
    "from": _ROLE,
    "to": _ROLE,
    "institute": _INSTITUTE,
    "mode": _enum("oidc", "demo", "unconfigured", "misconfigured"),
    "reason": _enum("not an active admin", "not enrolled", "disabled"),
    "action": _ACTION,
    # markings
    "marking": _MARKING_V,
    "tlp": _TLP,
    "releasable_to": _INSTITUTE,
    # ids of objects (records, batches, charts, comments, pages, technique ids)
    "id": _ID,
    "ids": _ID,
    "page": _ID,
    "charts": _ID,
    "technique": _ID,
    "judgement": _ID,
    "comment": _ID,
    "signoffs_cleared": _ID,
    "mapping_edit": _ID,
    "chart_count": _COUNT,
    "sha256": _DIGEST_V,
    "filters_digest": _DIGEST_V,
    # names someone typed: kept only as an opaque digest
    "file": _opaque,
    "name": _opaque,
    "replaced": _opaque,
    # field names and fixed vocabularies
    "fields": _FIELDS,
    "filter_fields": _FIELDS,
    "sort": _FIELDS,
    "target": _FIELDS,
    "kind": _FIELDS,  # export kinds, importer kinds, batch kinds: lower-case words
    "format": _FORMAT,
    "preset": _FIELDS,
    "via": _enum("inbox", "cli", "page"),
    "status": _FIELDS,
    "assessment_status": _scalar(  # a briefing's status line, e.g. 'Approved · version 2' (briefing.content.from_assessment)
        lambda v: isinstance(v, str) and bool(_STATUS_LINE.fullmatch(v)), "an assessment status"
    ),
    # counts, numbers, booleans
    "version": _COUNT,
    "expected_version": _COUNT,
    "current_version": _COUNT,
    "schema_version": _COUNT,
    "rows": _COUNT,
    "bytes": _COUNT,
    "added": _COUNT,
    "updated": _COUNT,
    "unchanged": _COUNT,
    "rejected": _COUNT,
    "removed": _COUNT,
    "restored": _COUNT,
    "withdrawn": _COUNT,
    "warnings": _COUNT,
    "incidents": _COUNT,
    "attack_patterns": _COUNT,
    "relationships": _COUNT,
    "notes": _COUNT,
    "objects": _COUNT,
    # partner exchange (analytics/export/partners.py, analytics/sync): what an export withheld, ceilings, TAXII
    "withheld_red": _COUNT,
    "withheld_amber_strict": _COUNT,
    "withheld_above_ceiling": _COUNT,
    "withheld_not_releasable": _COUNT,
    "ceiling": _TLP,
    "previous_ceiling": _TLP,
    "recipient": _ID,  # the enrolled person a TLP:RED record was handed to (an email: an id, never free text)
    "pulled": _COUNT,
    "pushed": _COUNT,
    "pages": _COUNT,
    "old": _NUMBER,
    "new": _NUMBER,
    "descending": _flag,
    "only_valid": _flag,
    "draft": _flag,
    "note_set": _flag,
}


def check_entry(action: str, obj: str, detail: Mapping[str, Any] | None) -> tuple[str, str | None]:
    """The (object, detail JSON) an entry will store, or AuditContentError naming the action and what is wrong.
    Names typed by people (files, benchmarks, view names) come back as opaque digests."""
    if action not in ACTIONS:
        raise AuditContentError(
            f"audit: unknown action {action!r}: add it to audit.ACTIONS and its sweep test"
        )
    obj = _check_object(action, obj)
    if detail is None:
        return obj, None
    if not isinstance(detail, Mapping):
        raise AuditContentError(f"audit {action!r}: detail must be a mapping of allowed keys, not free text")
    clean: dict[str, Any] = {}
    for key, value in detail.items():
        validate = DETAIL_KEYS.get(key) if isinstance(key, str) else None
        if validate is None:
            raise AuditContentError(f"audit {action!r}: detail key {key!r} is not in audit.DETAIL_KEYS")
        try:
            clean[key] = validate(value)
        except AuditContentError as e:
            raise AuditContentError(
                f"audit {action!r}: detail {key!r}: {e}, not {type(value).__name__}"
            ) from None
    return obj, json.dumps(clean, sort_keys=True)


def _check_object(action: str, obj: str) -> str:
    if not obj:
        return ""
    kind, sep, rest = str(obj).partition(":")
    if sep and kind in OPAQUE_OBJECT_KINDS:
        if (
            kind == "benchmark"
        ):  # one id per benchmark however it is spelt (as analytics.links.queries.bench_key)
            rest = re.sub(r"[^a-z0-9]+", "", re.sub(r"^.*/", "", rest).lower())
        return f"{kind}:{opaque_id(rest)}"
    if not _TOKEN.fullmatch(str(obj)):
        # not an id (it has spaces or other text): keep only a digest. Not refused, because some objects are
        # named after files on disk (a restore), and refusing the entry there would fail after the change.
        return f"opaque:{opaque_id(str(obj))}"
    return str(obj)


def import_counts(report: Any) -> dict[str, Any]:
    """The detail of an import's entry: its kind and counts (an ImportReport), never its source or messages."""
    return {
        "kind": report.kind,
        "added": report.added,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "rejected": report.rejected,
        "warnings": len(report.warnings),
    }


def record(
    con: duckdb.DuckDBPyConnection,
    email: str,
    action: str,
    obj: str = "",
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Append one entry. Call inside the same transaction as the change it records, where there is one.
    Raises AuditContentError (and writes nothing) if the entry would carry anything but ids, action and field
    names, markings, counts and booleans (see DETAIL_KEYS)."""
    stored_obj, text = check_entry(action, obj, detail)
    con.execute(
        "insert into audit_log (email, action, object, detail) values (?, ?, ?, ?)",
        [email, action, stored_obj, text],
    )


def append(
    store: Store, email: str, action: str, obj: str = "", detail: Mapping[str, Any] | None = None
) -> None:
    """One entry that records no change of its own (a sign-in, an export, a refusal), in its own transaction.
    Cached results stay valid: none of them reads the log (the admin page's search reads it uncached)."""
    check_entry(action, obj, detail)  # refuse before opening a transaction
    with store.transaction(changes_data=False) as tx:
        record(tx, email, action, obj, detail)


def require(
    target: Store | duckdb.DuckDBPyConnection, viewer: Viewer, *roles: Role, action: str, obj: str = ""
) -> None:
    """`viewer.require(*roles)`, and when that refuses, an audit entry of the attempt. Write functions in
    `analytics` call this first, with their store or their connection."""
    try:
        viewer.require(*roles)
    except AccessDenied:
        refused(target, viewer, action, obj)
        raise


def refused(target: Store | duckdb.DuckDBPyConnection, viewer: Viewer, action: str, obj: str = "") -> None:
    """Record a refused attempt in a transaction of its own: the caller's transaction, if any, is rolled back
    by the refusal, and the entry must outlive it."""
    detail = {"action": action, "role": viewer.role}
    if isinstance(target, Store):
        append(target, viewer.email, "refused", obj, detail)
        return
    own = target.cursor()  # a new connection to the same database, outside the caller's transaction
    try:
        record(own, viewer.email, "refused", obj, detail)
    finally:
        own.close()


def search(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    *,
    email: str = "",
    action: str = "",
    text: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
    limit: int = 500,
) -> pd.DataFrame:
    """Admins only: entries matching every given criterion, newest first. `email` and `text` match parts,
    case-insensitively; dates are inclusive days. Every value is bound."""
    viewer.require(*ADMINS)
    where = ["true"]
    params: list[Any] = []
    if email.strip():
        where.append("contains(lower(email), ?)")
        params.append(email.strip().lower())
    if action:
        where.append("action = ?")
        params.append(action)
    if text.strip():
        where.append("(contains(lower(coalesce(object, '')), ?) or contains(lower(coalesce(detail, '')), ?))")
        params += [text.strip().lower(), text.strip().lower()]
    if date_from:
        where.append('"at" >= ?')
        params.append(date_from)
    if date_to:
        where.append('"at" < ?')
        params.append(date_to + timedelta(days=1))
    params.append(max(1, min(int(limit), MAX_ROWS)))
    clause = " and ".join(where)
    sql = (
        f'select id, "at", email, action, object, detail from audit_log where {clause} '
        "order by id desc limit ?"
    )
    return con.execute(sql, params).df()


def actions(con: duckdb.DuckDBPyConnection, viewer: Viewer) -> list[str]:
    """Admins only: the actions the log holds, for the search form."""
    viewer.require(*ADMINS)
    return [str(r[0]) for r in con.execute("select distinct action from audit_log order by 1").fetchall()]
