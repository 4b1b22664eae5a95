"""`python -m analytics sync --partner AU`: pull a partner's new objects from their TAXII 2.1 collection, then push
ours to theirs.

Why this shape:
- **Pull, incrementally.** Objects added after the last complete pull (`added_after` = the server's
  X-TAXII-Date-Added-Last then, kept in `partner_sync_state`), every page of them, then imported page by page
  through the STIX importer, each page as one bundle in one transaction: a page is imported whole or not at all,
  and a refused page stops the sync with the store as it was before that page. The cursor moves only when every
  page is in, so a failed or interrupted pull is pulled again from the same point; pages already imported are
  then "no change" (the importer compares STIX ids and `modified`). Records pulled originate with the partner
  (`institute=partner`): a claim of the other origin is refused by the importer, as for any file.
- **Pages are not bundles.** A server cuts a collection wherever its page size falls, and a producer may list all
  incidents before all relationships. The importer reads a bundle as a whole, so objects that refer to each other
  (a record, its relationships and notes, the report wrapping them) are imported together, with the page where the
  last of them arrived (`_units`); the marking definitions, identities, extension definitions and attack patterns
  of this pull or an earlier one (kept in `partner_sync_objects.content`) go with every page that refers to them.
- **Push only what is new, and never echo.** The same selection as every bundle (analytics/export/partners.py:
  ceiling, never RED or AMBER+STRICT) and the same builder; of it, only object versions not yet exchanged with the
  partner (`partner_sync_objects`), never the partner's own objects or objects about them, plus the marking
  definitions, identities and attack patterns those refer to, and the export's wrapping report (with the summary
  notes about it) narrowed to what this push carries. A second sync therefore moves nothing.
- **Audited**: one `taxii sync` entry per run (complete or failed, with counts), besides the importer's own entry
  per imported page. Credentials come from analytics/sync/config.py and appear nowhere else.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb
import requests
import requests.auth
from taxii2client.exceptions import TAXIIServiceException
from taxii2client.v21 import ApiRoot, Collection, as_pages

from analytics.export import partners
from analytics.export.stix import build_bundle
from analytics.ingest import ImportRefused
from analytics.ingest.stix.commit import import_stix_bytes
from analytics.store import audit
from analytics.store.database import Store
from analytics.sync.config import PartnerTaxii, partner_config
from analytics.wording import counted

# Objects that give others their meaning (markings, authors, techniques, extension definitions): sent along with
# whatever refers to them, never a reason on their own to import or push.
CONTEXT_TYPES = frozenset({"marking-definition", "identity", "attack-pattern", "extension-definition"})
RECORD_TYPES = frozenset({"incident", "report", "note"})  # what the STIX importer turns into records
PAGE_SIZE = 100
MAX_PUSH_BYTES = 8 * 1024 * 1024  # per request, below any server's max_content_length we have met


class SyncFailed(ValueError):
    """A sync stopped: the message says where and why. What was imported before it stays; the failed page did
    not change the store."""


@dataclass
class SyncReport:
    partner: str
    pages: int = 0
    pulled: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    pushed: int = 0
    at_page: int = 0  # the page being imported (for the message when one is refused)
    withheld: partners.Withheld | None = None
    batches: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"pulled from {self.partner}: {counted(self.pulled, 'object')} in {counted(self.pages, 'page')}; {self.added} added, "
            f"{self.updated} updated, {self.unchanged} unchanged, {self.rejected} rejected",
            f"pushed to {self.partner}: {counted(self.pushed, 'object')}",
        ]
        if self.batches:
            out.append("import batches: " + ", ".join(self.batches))
        if self.withheld is not None and self.withheld.total:
            out.append("withheld: " + "; ".join(self.withheld.lines()))
        return out

    def audit_detail(self, status: str) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "status": status,
            "pages": self.pages,
            "pulled": self.pulled,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "pushed": self.pushed,
        }
        if self.withheld is not None:
            detail.update(self.withheld.audit_detail())
        return detail


class _Auth(requests.auth.AuthBase):
    """Basic auth (when configured) that also keeps the headers of the last response: taxii2client returns only
    the body, and the next pull's `added_after` is the server's X-TAXII-Date-Added-Last."""

    def __init__(self, user: str | None, password: str | None) -> None:
        self._basic = requests.auth.HTTPBasicAuth(user, password) if user and password else None
        self.last_headers: Mapping[str, str] = {}

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if self._basic is not None:
            r = self._basic(r)
        r.register_hook("response", self._seen)
        return r

    def _seen(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        self.last_headers = response.headers
        return response


def sync_partner(
    store: Store,
    partner: str,
    *,
    actor: str,
    config: PartnerTaxii | None = None,
    page_size: int = PAGE_SIZE,
) -> SyncReport:
    """Pull `partner`'s new objects, then push ours; one audit entry for the run. Raises SyncFailed (a
    ValueError: one line on the command line) when a page is refused or the server fails."""
    p = partners.check_partner(partner)
    cfg = config or partner_config(p)
    report = SyncReport(p)
    auth = _Auth(cfg.user, cfg.password)
    stage = "pull"
    try:
        _pull(store, cfg, auth, report, actor, page_size)
        stage = "push"
        _push(store, cfg, auth, report)
    except (ImportRefused, SyncFailed, TAXIIServiceException, requests.RequestException) as e:
        audit.append(store, actor, "taxii sync", f"partner:{p}", report.audit_detail("failed"))
        where = f"page {max(report.at_page, 1)} of the pull" if stage == "pull" else "the push"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SyncFailed(f"sync with {p} stopped at {where}: {first}") from e
    audit.append(store, actor, "taxii sync", f"partner:{p}", report.audit_detail("complete"))
    return report


# -- pull ------------------------------------------------------------------------------------------------------


def _pull(
    store: Store, cfg: PartnerTaxii, auth: _Auth, report: SyncReport, actor: str, page_size: int
) -> None:
    collection = Collection(cfg.collection_url(cfg.pull_collection), auth=auth, verify=cfg.verify_tls)
    since = pulled_until(store, cfg.partner)
    filters = {"added_after": since} if since else {}
    pages: list[list[dict[str, Any]]] = []
    newest = since
    for envelope in as_pages(collection.get_objects, per_request=page_size, **filters):
        got = envelope.get("objects") or []
        if not isinstance(got, list) or not all(isinstance(o, dict) and "id" in o for o in got):
            raise SyncFailed(
                f"page {len(pages) + 1} from {cfg.partner}: not a TAXII envelope of STIX objects"
            )
        pages.append(got)
        report.pulled += len(got)
        newest = auth.last_headers.get("X-TAXII-Date-Added-Last") or newest
    report.pages = len(pages)
    context = _held_context(store, cfg.partner)  # what earlier pulls brought, which this one may refer to
    context.update({o["id"]: o for page in pages for o in page if o.get("type") in CONTEXT_TYPES})
    for i, unit in enumerate(_units(pages), 1):
        report.at_page = i
        _import_unit(store, cfg.partner, unit, context, report, actor)
    with store.transaction(changes_data=False) as tx:
        tx.execute(
            "insert into partner_sync_state (partner, pulled_until, last_pull_at) values (?, ?, current_timestamp) "
            "on conflict (partner) do update set pulled_until = excluded.pulled_until, "
            "last_pull_at = excluded.last_pull_at",
            [cfg.partner, newest],
        )


def pulled_until(store: Store, partner: str) -> str | None:
    """The partner server's date-added of the last object of the last complete pull (None: never pulled)."""
    row = (
        store.cursor()
        .execute("select pulled_until from partner_sync_state where partner = ?", [partner])
        .fetchone()
    )
    return str(row[0]) if row and row[0] else None


def _held_context(store: Store, partner: str) -> dict[str, dict[str, Any]]:
    """The latest version of each context object pulled from `partner` before (the importer knows the records it
    holds, not the markings, identities and attack patterns they referred to)."""
    rows = (
        store.cursor()
        .execute(
            "select stix_id, content from partner_sync_objects where partner = ? and content is not null "
            "qualify row_number() over (partition by stix_id order by version desc) = 1",
            [partner],
        )
        .fetchall()
    )
    return {sid: json.loads(content) for sid, content in rows}


def _units(pages: list[list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
    """The pages as import units. The importer reads a bundle as a whole (an incident's techniques from the
    relationships beside it, a report's records from its `object_refs`), so objects that refer to each other
    within the pull (a record, its relationships, its notes, the report that wraps them) are imported together,
    with the page where the last of them arrived; everything else with its own page. Context objects go with every
    unit that refers to them (`_import_unit`). Objects keep their order."""
    page_of = {o["id"]: i for i, page in enumerate(pages) for o in page if o.get("type") not in CONTEXT_TYPES}
    group = {oid: oid for oid in page_of}  # union-find over references between non-context objects

    def root(oid: str) -> str:
        while group[oid] != oid:
            group[oid] = group[group[oid]]
            oid = group[oid]
        return oid

    for page in pages:
        for o in page:
            if o["id"] in page_of:
                for ref in _refs(o) & page_of.keys():
                    group[root(ref)] = root(o["id"])
    last: dict[str, int] = {}
    for oid, i in page_of.items():
        last[root(oid)] = max(last.get(root(oid), 0), i)
    units: list[list[dict[str, Any]]] = [[] for _ in pages]
    for page in pages:
        for o in page:
            if o["id"] in page_of:
                units[last[root(o["id"])]].append(o)
    return units


def _import_unit(
    store: Store,
    partner: str,
    objects: list[dict[str, Any]],
    context: dict[str, dict[str, Any]],
    report: SyncReport,
    actor: str,
) -> None:
    """One unit as one bundle through the STIX importer (one transaction), with the context objects it refers to.
    A unit without records (only relationships to records already held, or types the importer ignores) is not
    imported."""
    if not any(o.get("type") in RECORD_TYPES for o in objects):
        return
    extra = [context[i] for i in sorted(_closure(objects, context))]
    bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": extra + objects}
    result = import_stix_bytes(
        store,
        f"taxii-{partner}-page-{report.at_page}.json",
        json.dumps(bundle, ensure_ascii=False).encode("utf-8"),
        actor=actor,
        institute=partner,
        tlp=None,
        releasable=None,
        # What was pulled is recorded in the import's own transaction: a crash between the two could otherwise
        # leave records in without the record of their pull, and the next push would send them back.
        also=lambda tx: _remember_in(tx, partner, extra + objects, "pulled"),
    )
    report.added += result.added
    report.updated += result.updated
    report.unchanged += result.unchanged
    report.rejected += result.rejected
    report.batches.append(result.batch_id)


# -- push ------------------------------------------------------------------------------------------------------


def _push(store: Store, cfg: PartnerTaxii, auth: _Auth, report: SyncReport) -> None:
    con = store.cursor()
    try:
        export = build_bundle(con, None, cfg.partner)
        report.withheld = partners.withheld(con, None, cfg.partner)
        rows = con.execute(
            "select stix_id, version, direction from partner_sync_objects where partner = ?", [cfg.partner]
        ).fetchall()
    finally:
        con.close()
    exchanged = {(sid, version) for sid, version, _ in rows}
    theirs = {sid for sid, _, d in rows if d == "pulled" and _type(sid) not in CONTEXT_TYPES}
    send = _to_push(export.bundle["objects"], exchanged, theirs)
    if not send:
        return
    collection = Collection(cfg.collection_url(cfg.push_collection), auth=auth, verify=cfg.verify_tls)
    limit = min(MAX_PUSH_BYTES, _max_content_length(cfg, auth))
    for chunk in _chunks(send, limit):
        status = collection.add_objects({"objects": chunk})
        if status.status != "complete":
            raise SyncFailed(f"{cfg.partner}'s server did not finish adding objects (status {status.status})")
        refused = [f for f in status.failures if _type(str(f.get("id"))) not in CONTEXT_TYPES]
        if refused:
            raise SyncFailed(
                f"{cfg.partner}'s server refused {counted(len(refused), 'object')}: {refused[0].get('message', '')}"
            )
        # context objects the server already holds are reported as failures; they were sent as a courtesy
        accepted = {str(s.get("id")) for s in status.successes} | {
            o["id"] for o in chunk if o["type"] in CONTEXT_TYPES
        }
        _remember(store, cfg.partner, [o for o in chunk if o["id"] in accepted], "pushed")
        report.pushed += len(status.successes)
    with store.transaction(changes_data=False) as tx:
        tx.execute(
            "insert into partner_sync_state (partner, last_push_at) values (?, current_timestamp) "
            "on conflict (partner) do update set last_push_at = excluded.last_push_at",
            [cfg.partner],
        )


def _to_push(
    objects: list[dict[str, Any]], exchanged: set[tuple[str, str]], theirs: set[str]
) -> list[dict[str, Any]]:
    """Of a freshly built bundle, what to send: object versions not yet exchanged with the partner that are
    neither theirs nor about theirs, the context objects they refer to, and the export's own wrapping for them
    (made anew by every build, so never a reason to push). Nothing when nothing is new."""
    wrap = _wrapping(objects)
    fresh = [
        o
        for o in objects
        if o["type"] not in CONTEXT_TYPES
        and o["id"] not in wrap
        and (o["id"], _version(o)) not in exchanged
        and o["id"] not in theirs
        and not (_refs(o) & theirs)
    ]
    if not fresh:
        return []
    context = {o["id"]: o for o in objects if o["type"] in CONTEXT_TYPES}
    ids = {o["id"] for o in fresh}
    # the wrapping that is about what goes now (a summary note of a new incident), not about older objects
    about = [o for o in objects if o["id"] in wrap and not _is_wrapper(o, objects) and _refs(o) - wrap <= ids]
    ids |= {o["id"] for o in about}
    ids |= _closure([*fresh, *about], context)
    send = [o for o in objects if o["id"] in ids]
    for o in objects:  # the report wrapping the export now wraps this push: it lists what the push carries
        if o["id"] in wrap and _is_wrapper(o, objects):
            send.append({**o, "object_refs": [x["id"] for x in send]})
    return send


def _is_wrapper(obj: Mapping[str, Any], objects: list[dict[str, Any]]) -> bool:
    """A report (or grouping) referring to every other object of the bundle: the export's own envelope."""
    if obj.get("type") not in ("report", "grouping"):
        return False
    refs = set(obj.get("object_refs") or [])
    return all(o["id"] in refs for o in objects if o["id"] != obj["id"])


def _wrapping(objects: list[dict[str, Any]]) -> set[str]:
    """Ids of the export's envelope: its wrapping report and the objects about that report (the summary notes
    MISP shows)."""
    wrappers = {o["id"] for o in objects if _is_wrapper(o, objects)}
    return wrappers | {o["id"] for o in objects if _refs(o) & wrappers}


def _max_content_length(cfg: PartnerTaxii, auth: _Auth) -> int:
    root = ApiRoot(cfg.api_root, auth=auth, verify=cfg.verify_tls)
    return int(root.max_content_length or MAX_PUSH_BYTES)


def _chunks(objects: list[dict[str, Any]], limit: int) -> Iterator[list[dict[str, Any]]]:
    """Envelopes under `limit` bytes, in bundle order (an incident before its relationships)."""
    chunk: list[dict[str, Any]] = []
    size = 64
    for o in objects:
        n = len(json.dumps(o, ensure_ascii=False).encode("utf-8")) + 2
        if chunk and size + n > limit * 0.9:
            yield chunk
            chunk, size = [], 64
        chunk.append(o)
        size += n
    if chunk:
        yield chunk


# -- shared ----------------------------------------------------------------------------------------------------


def _type(stix_id: str) -> str:
    return stix_id.split("--", 1)[0]


def _version(obj: Mapping[str, Any]) -> str:
    return str(obj.get("modified") or obj.get("created") or "")


def _refs(obj: Mapping[str, Any]) -> set[str]:
    """Every STIX id `obj` refers to (`*_ref`, `*_refs`, markings included)."""
    out: set[str] = set()
    for key, value in obj.items():
        if key.endswith("_ref") and isinstance(value, str):
            out.add(value)
        elif key.endswith("_refs") and isinstance(value, list):
            out.update(v for v in value if isinstance(v, str))
    return out


def _closure(objects: Iterable[Mapping[str, Any]], pool: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """Ids in `pool` that `objects` refer to, directly or through each other (an identity's marking, ...)."""
    found: set[str] = set()
    todo = [r for o in objects for r in _refs(o)]
    while todo:
        ref = todo.pop()
        if ref in found or ref not in pool:
            continue
        found.add(ref)
        todo.extend(_refs(pool[ref]))
    return found


def _remember(store: Store, partner: str, objects: list[dict[str, Any]], direction: str) -> None:
    """Record the object versions exchanged with `partner` (a version seen both ways keeps its first record)."""
    if not objects:
        return
    with store.transaction(changes_data=False) as tx:
        _remember_in(tx, partner, objects, direction)


def _remember_in(
    tx: duckdb.DuckDBPyConnection, partner: str, objects: list[dict[str, Any]], direction: str
) -> None:
    """`_remember` inside the caller's transaction."""
    if not objects:
        return
    keep = direction == "pulled"  # context objects pulled are kept whole, for later pulls that refer to them
    tx.execute(
        "insert or ignore into partner_sync_objects (partner, stix_id, version, direction, content) "
        "select $partner, unnest($ids), unnest($versions), $direction, unnest($contents)",
        {
            "partner": partner,
            "ids": [o["id"] for o in objects],
            "versions": [_version(o) for o in objects],
            "direction": direction,
            "contents": [
                json.dumps(o, ensure_ascii=False) if keep and o.get("type") in CONTEXT_TYPES else None
                for o in objects
            ],
        },
    )
