"""What may leave for a partner institute: the selection every STIX bundle and TAXII push uses (issue 17).

Why a module of its own: the bundle builder (analytics/export/stix.py) says how records are written; this module
says which records go, to whom, and what was held back. The rules, enforced in SQL by `bundle_where`:

- the partner is in the record's releasability;
- the record's TLP is at or below the partner's **export ceiling**: the highest TLP an administrator lets leave in
  a bundle for that institute (like OpenCTI's maximum shareable markings), CLEAR, GREEN or AMBER; AMBER when none
  was set (`partner_export_ceilings`, migration 010);
- **TLP:RED never goes in a bundle.** A bundle is delivered to an institute's systems (its MISP, OpenCTI, TAXII
  server), where everyone with access reads it; RED is for its named people only. RED records are handed to each
  named person on their own: `export_for_person`, one audit entry per record;
- **TLP:AMBER+STRICT never leaves**: it is for the originating institute only, and the originator already holds it.

`withheld` counts what the rules held back, by reason, over the rows the exporter may see (the CLI, as the store's
operator, sees all): a count over hidden rows would tell a person that records they cannot see exist. The bundle
itself never mentions what was withheld.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

import duckdb

from analytics.access.markings import INSTITUTES, TLP_LEVELS, visible_sql
from analytics.access.roles import ADMINS
from analytics.access.viewer import Viewer
from analytics.store import audit
from analytics.store.database import Store

if TYPE_CHECKING:
    from analytics.export.stix import StixExport

# Not records only: the ceilings are set by administrators, and cached results must follow that write too.
READS_ONLY_RECORDS = False

DEFAULT_CEILING = "AMBER"
# The TLPs an administrator may choose: RED and AMBER+STRICT never travel in a bundle, whatever the ceiling.
CEILING_CHOICES: tuple[str, ...] = ("CLEAR", "GREEN", "AMBER")
NEVER_IN_A_BUNDLE: tuple[str, ...] = ("RED", "AMBER+STRICT")

# Reasons a record releasable in principle stays behind, in the order they are decided (a record counts once,
# under the first that applies), with the words the CLI and the pages show.
REASONS: dict[str, str] = {
    "red": "TLP:RED (for its named people only: `export-stix --for-person EMAIL`, one by one)",
    "amber_strict": "TLP:AMBER+STRICT (stays with its originator)",
    "above_ceiling": "above {partner}'s ceiling (TLP:{ceiling})",
    "not_releasable": "not releasable to {partner}",
}


class Ceiling(NamedTuple):
    partner: str
    max_tlp: str
    set_by: str | None  # None: nobody set it, the default applies
    set_at: datetime | None


@dataclass(frozen=True)
class Withheld:
    """What an export for `partner` held back, by reason (keys of REASONS), counted over what the exporter sees."""

    partner: str
    ceiling: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def lines(self) -> list[str]:
        """One line per reason that held something back, e.g. '3 TLP:RED (for its named people only: ...)'."""
        return [
            f"{n:,} " + REASONS[reason].format(partner=self.partner, ceiling=self.ceiling)
            for reason, n in self.counts.items()
            if n
        ]

    def audit_detail(self) -> dict[str, int]:
        """The counts as audit detail keys (`withheld_<reason>`)."""
        return {f"withheld_{reason}": n for reason, n in self.counts.items()}


def check_partner(partner: str) -> str:
    p = str(partner).strip().upper()
    if p not in INSTITUTES:
        raise ValueError(f"unknown partner {partner!r}; expected UK or AU")
    return p


def check_ceiling(tlp: str) -> str:
    t = str(tlp).strip().upper()
    if t not in CEILING_CHOICES:
        raise ValueError(
            f"export ceiling {tlp!r} refused: choose CLEAR, GREEN or AMBER "
            "(TLP:RED and TLP:AMBER+STRICT never leave in a bundle)"
        )
    return t


def ceilings(con: duckdb.DuckDBPyConnection) -> list[Ceiling]:
    """Every partner's ceiling, in INSTITUTES order; the default for a partner nobody set one for."""
    rows = {
        r[0]: Ceiling(*r)
        for r in con.execute(
            "select partner, max_tlp, set_by, set_at from partner_export_ceilings"
        ).fetchall()
    }
    return [rows.get(p) or Ceiling(p, DEFAULT_CEILING, None, None) for p in INSTITUTES]


def ceiling(con: duckdb.DuckDBPyConnection, partner: str) -> str:
    p = check_partner(partner)
    return next(c.max_tlp for c in ceilings(con) if c.partner == p)


def set_ceiling(store: Store, partner: str, tlp: str, *, actor: str, viewer: Viewer | None = None) -> None:
    """Set `partner`'s export ceiling; administrators only from the app (the CLI acts as the store's operator).
    Bad input changes nothing; the change and its audit entry commit together."""
    p = check_partner(partner)
    if viewer is not None:
        audit.require(store, viewer, *ADMINS, action="set export ceiling", obj=f"partner:{p}")
        actor = viewer.email
    t = check_ceiling(tlp)
    with store.transaction(changes_records=False) as tx:
        before = ceiling(tx, p)
        tx.execute(
            "insert or replace into partner_export_ceilings (partner, max_tlp, set_by, set_at) "
            "values (?, ?, ?, current_timestamp)",
            [p, t, actor],
        )
        audit.record(
            tx, actor, "set export ceiling", f"partner:{p}", {"ceiling": t, "previous_ceiling": before}
        )


def ceiling_overview(con: duckdb.DuckDBPyConnection, viewer: Viewer) -> list[dict[str, Any]]:
    """Administrators: each partner's ceiling, who set it, and what an export for them would withhold of what the
    administrator may see (the Administration page's table)."""
    viewer.require(*ADMINS)
    return [
        {
            "partner": c.partner,
            "ceiling": f"TLP:{c.max_tlp}",
            "set_by": c.set_by or "default",
            "set_at": c.set_at,
            "withheld": "; ".join(withheld(con, viewer, c.partner).lines()) or "nothing",
        }
        for c in ceilings(con)
    ]


def _ceiling_sql(alias: str) -> str:
    """True when the row's TLP is at or below the partner's ceiling (its row, else the default)."""
    return (
        f"list_position($p_levels, {alias}.tlp) <= list_position($p_levels, coalesce(("
        "select c.max_tlp from partner_export_ceilings c where c.partner = $partner), $p_default))"
    )


def _params(partner: str) -> dict[str, Any]:
    return {"partner": partner, "p_levels": list(TLP_LEVELS), "p_default": DEFAULT_CEILING}


def bundle_where(partner: str, viewer: Viewer | None) -> tuple[str, dict[str, Any]]:
    """SQL predicate over `incidents i` (with bound parameters): the records that may go to `partner` in a bundle.
    With a viewer (the Data page), also limited to what that person may see."""
    p = check_partner(partner)
    never = ", ".join(f"'{t}'" for t in NEVER_IN_A_BUNDLE)
    where = f"list_contains(i.releasable_to, $partner) and i.tlp not in ({never}) and {_ceiling_sql('i')}"
    params = _params(p)
    if viewer is not None:
        vis, vparams = visible_sql(viewer, "incidents", "i")
        where = f"{where} and {vis}"
        params.update(vparams)
    return where, params


def person_where(person: Viewer) -> tuple[str, dict[str, Any]]:
    """SQL predicate over `incidents i`: the TLP:RED records naming `person` that they may see."""
    vis, params = visible_sql(person, "incidents", "i")
    return f"i.tlp = 'RED' and list_contains(i.named_recipients, $v_email) and {vis}", params


def withheld(con: duckdb.DuckDBPyConnection, viewer: Viewer | None, partner: str) -> Withheld:
    """What the rules hold back from an export for `partner`, by reason, over the rows `viewer` may see."""
    p = check_partner(partner)
    rel = "list_contains(i.releasable_to, $partner)"
    cases = {
        "red": f"{rel} and i.tlp = 'RED'",
        "amber_strict": f"{rel} and i.tlp = 'AMBER+STRICT'",
        "above_ceiling": f"{rel} and i.tlp not in ('RED', 'AMBER+STRICT') and not ({_ceiling_sql('i')})",
        "not_releasable": f"not {rel}",
    }
    select = ", ".join(f"count(*) filter (where {cond}) as {name}" for name, cond in cases.items())
    params = _params(p)
    where = "true"
    if viewer is not None:
        where, vparams = visible_sql(viewer, "incidents", "i")
        params.update(vparams)
    row = con.execute(f"select {select} from incidents i where {where}", params).fetchone()
    assert row is not None
    return Withheld(p, ceiling(con, p), {name: int(n) for name, n in zip(cases, row, strict=True)})


def recipient(con: duckdb.DuckDBPyConnection, email: str) -> Viewer:
    """The active enrolled person `email`, as the viewer whose clearance a per-person export uses."""
    key = str(email).strip().lower()
    row = con.execute(
        "select email, name, institute, role from users where email = ? and active", [key]
    ).fetchone()
    if row is None:
        raise ValueError(f"no active enrolled user {key!r}: TLP:RED goes only to enrolled, active people")
    return Viewer(*row)


def export_for_person(store: Store, email: str, *, actor: str) -> StixExport:
    """The TLP:RED records naming `email` (and that they may see), as a bundle for that one person, with one
    audit entry per record handed over. Run by the store's operator (the CLI); nothing but RED goes in it."""
    from analytics.export.stix import build_bundle

    con = store.cursor()
    try:
        person = recipient(con, email)
        export = build_bundle(con, None, _bundle_partner(person), recipient=person)
        where, params = person_where(person)
        ids = [
            r[0]
            for r in con.execute(f"select i.id from incidents i where {where} order by 1", params).fetchall()
        ]
    finally:
        con.close()
    with store.transaction(changes_data=False) as tx:
        for rid in ids:
            audit.record(
                tx,
                actor,
                "export red to person",
                f"incident:{rid}",
                {"recipient": person.email, "tlp": "RED", "institute": person.institute},
            )
    return export


def _bundle_partner(person: Viewer) -> str:
    """The institute the per-person bundle is labelled for: the person's own (JOINT staff are neither, and their
    RED records are releasable to both, so either label is true)."""
    return person.institute if person.institute in INSTITUTES else INSTITUTES[0]
