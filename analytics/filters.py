"""The typed filter object shared by every page, its URL form, and the SQL it compiles to.

One `Filters` value describes a view. It round-trips through the query string (so a link reproduces the view
and a reload keeps it) and compiles, together with the viewer's markings, into a WHERE clause whose values are
all bound parameters. Column names come only from the fixed fragments below.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, timedelta
from typing import Any

from analytics import vocab
from analytics.access.markings import visible_sql
from analytics.access.viewer import Viewer
from analytics.periods import months_back
from analytics.sources import PUBLIC_ORIGINATOR, PUBLIC_SOURCE_KEYS, public_source

# The source filter's value for the institutes' own reporting (originator UK or AU, however it arrived: typed,
# imported from a spreadsheet or a partner's STIX bundle); every other value is a public source's key, whose
# records have originator PUBLIC (migration 008). Comparisons of UK and AU count only this.
INSTITUTE_REPORTING = "institute"


def source_sql(alias: str = "i") -> str:
    """SQL over `incidents <alias>`: the record's source as the source filter sees it (INSTITUTE_REPORTING or
    a public source key). `alias` is always a fixed name chosen by the caller, never user input."""
    return (
        f"(case when {alias}.originator = '{PUBLIC_ORIGINATOR}' then {alias}.source "
        f"else '{INSTITUTE_REPORTING}' end)"
    )


def source_label(value: str) -> str:
    """How a source filter value reads: "Institute reporting" or the public source's registered name."""
    if value == INSTITUTE_REPORTING:
        return "Institute reporting"
    known = public_source(str(value))
    return known.name if known else str(value)


PRESETS: dict[str, str] = {
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "12m": "Last 12 months",
    "all": "All time",
}


@dataclass(frozen=True)
class Filters:
    preset: str = "all"  # one of PRESETS, or "custom" when date_from/date_to are set by hand
    date_from: date | None = None
    date_to: date | None = None
    originators: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()  # INSTITUTE_REPORTING and/or public source keys (analytics.sources)
    categories: tuple[str, ...] = ()
    tactics: tuple[str, ...] = ()
    techniques: tuple[str, ...] = ()
    sectors: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    severities: tuple[int, ...] = ()
    actor_types: tuple[str, ...] = ()
    tlps: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    text: str = ""
    # The Evaluations page's benchmark, as stored (URL key `benchmark`): it describes no incident and no SQL
    # here reads it, but it lives in the link and in saved views like the other filters, so a link to the page
    # opens the same benchmark.
    benchmark: str = ""

    # -- dates ----------------------------------------------------------------------------------------------

    def date_range(self, today: date) -> tuple[date | None, date | None]:
        """Inclusive (from, to) for this view; None means open-ended."""
        if self.preset == "30d":
            return today - timedelta(days=29), today
        if self.preset == "90d":
            return today - timedelta(days=89), today
        if self.preset == "12m":
            return months_back(today, 12) + timedelta(days=1), today
        if self.preset == "custom":
            return self.date_from, self.date_to
        return None, None

    def previous_period(self, today: date) -> Filters | None:
        """The same filters over the period of equal length just before this one (None for open ranges)."""
        start, end = self.date_range(today)
        if start is None or end is None:
            return None
        length = (end - start).days + 1
        return replace(
            self, preset="custom", date_from=start - timedelta(days=length), date_to=start - timedelta(days=1)
        )

    def with_dates(self, start: date | None, end: date | None) -> Filters:
        return replace(self, preset="custom", date_from=start, date_to=end)

    # -- who may filter by what ------------------------------------------------------------------------------

    def for_viewer(self, viewer: Viewer) -> Filters:
        """The filters this viewer may apply. People who may not read records (policymakers) see counts only,
        so a free-text search would turn every count into an oracle on text they may not read ("how many
        mention X?" answered 2 or 0); for them the search is dropped, and every other filter keeps only values
        of the controlled vocabularies (and ATLAS ids), so no filter value can probe stored text either."""
        if viewer.can_see_records:
            return self
        kept: dict[str, Any] = {"text": "", "benchmark": ""}
        for attr in (*_VOCABULARIES, "techniques", "tactics"):
            kept[attr] = tuple(v for v in getattr(self, attr) if controlled_value(attr, v))
        return replace(self, **kept)

    def drops_for(self, viewer: Viewer) -> bool:
        """Whether `for_viewer` removes anything: the page says so rather than silently showing other numbers."""
        return self.for_viewer(viewer) != self

    # -- SQL ------------------------------------------------------------------------------------------------

    def sql_where(self, viewer: Viewer, today: date, alias: str = "i") -> tuple[str, dict[str, Any]]:
        """WHERE text over `incidents <alias>` and its parameters: the viewer's markings, then every filter
        this viewer may apply (`for_viewer`: every count is computed here, so no caller can skip that rule)."""
        return self.for_viewer(viewer)._sql_where(viewer, today, alias)

    def _sql_where(self, viewer: Viewer, today: date, alias: str) -> tuple[str, dict[str, Any]]:
        vis, params = visible_sql(viewer, "incidents", alias)
        parts = [vis]
        a = alias
        start, end = self.date_range(today)
        if start is not None:
            parts.append(f"{a}.occurred_on >= $f_from")
            params["f_from"] = start
        if end is not None:
            parts.append(f"{a}.occurred_on <= $f_to")
            params["f_to"] = end
        scalar = {
            "originators": "originator",
            "categories": "category",
            "actor_types": "actor_type",
            "tlps": "tlp",
            "statuses": "status",
        }
        for attr, col in scalar.items():
            values = getattr(self, attr)
            if values:
                parts.append(f"list_contains($f_{attr}::varchar[], {a}.{col})")
                params[f"f_{attr}"] = list(values)
        if self.sources:
            parts.append(f"list_contains($f_sources::varchar[], {source_sql(a)})")
            params["f_sources"] = list(self.sources)
        if self.severities:
            parts.append(f"list_contains($f_sev::integer[], {a}.severity::integer)")
            params["f_sev"] = [int(s) for s in self.severities]
        for attr, col in {"sectors": "sectors", "countries": "countries"}.items():
            values = getattr(self, attr)
            if values:
                parts.append(f"list_has_any({a}.{col}, $f_{attr}::varchar[])")
                params[f"f_{attr}"] = list(values)
        if self.techniques:
            # A parent technique matches its sub-techniques too (AML.T0051 matches AML.T0051.000).
            parts.append(
                f"{a}.incident_key in (select it.incident_key from incident_techniques it "
                "where list_contains($f_tech::varchar[], it.technique_id) "
                "or list_contains($f_tech::varchar[], left(it.technique_id, 9)))"
            )
            params["f_tech"] = list(self.techniques)
        if self.tactics:
            parts.append(
                f"{a}.incident_key in (select t.incident_key from incident_tactics t "
                "where list_contains($f_tactics::varchar[], t.tactic_id))"
            )
            params["f_tactics"] = list(self.tactics)
        if self.text.strip():
            parts.append(
                f"(contains(lower({a}.title), $f_text) or contains(lower(coalesce({a}.summary, '')), $f_text))"
            )
            params["f_text"] = self.text.strip().lower()
        return " and ".join(parts), params

    # -- URL form -------------------------------------------------------------------------------------------

    def to_query_params(self) -> dict[str, str | list[str]]:
        """Only non-default values, so links stay short. Lists become repeated keys."""
        out: dict[str, str | list[str]] = {}
        if self.preset != "all":
            out["preset"] = self.preset
        if self.preset == "custom":
            if self.date_from:
                out["from"] = self.date_from.isoformat()
            if self.date_to:
                out["to"] = self.date_to.isoformat()
        for f in fields(self):
            if f.name in _URL_KEYS:
                values = getattr(self, f.name)
                if values:
                    out[_URL_KEYS[f.name]] = [str(v) for v in values]
        if self.text.strip():
            out["q"] = self.text.strip()
        if self.benchmark:
            out["benchmark"] = self.benchmark
        return out

    @classmethod
    def from_query_params(cls, qp: Mapping[str, str | Sequence[str]]) -> Filters:
        """Parse the URL form; unknown keys are ignored and malformed values dropped (a bad link still opens)."""

        def many(key: str) -> tuple[str, ...]:
            v = qp.get(key)
            if v is None:
                return ()
            items = [v] if isinstance(v, str) else list(v)
            return tuple(dict.fromkeys(s for s in items if s))

        def one(key: str) -> str:
            v = many(key)
            return v[-1] if v else ""

        def as_date(s: str) -> date | None:
            try:
                return date.fromisoformat(s) if s else None
            except ValueError:
                return None

        preset = one("preset") or "all"
        if preset not in PRESETS and preset != "custom":
            preset = "all"
        kwargs: dict[str, Any] = {"preset": preset}
        if preset == "custom":
            kwargs["date_from"] = as_date(one("from"))
            kwargs["date_to"] = as_date(one("to"))
        for attr, key in _URL_KEYS.items():
            values = many(key)
            if attr == "severities":
                kwargs[attr] = tuple(int(s) for s in values if s.isdigit() and 1 <= int(s) <= 5)
            else:
                kwargs[attr] = values
        kwargs["text"] = one("q")[:200]
        kwargs["benchmark"] = one("benchmark")[:300]
        return cls(**kwargs)

    def describe(self, today: date) -> str:
        """The filters in words, for chart footers and exports."""
        bits = []
        start, end = self.date_range(today)
        if start or end:
            bits.append(f"{start or '…'} to {end or '…'}")
        else:
            bits.append("all dates")
        labels = {
            "originators": "originator",
            "sources": "source",
            "categories": "category",
            "tactics": "tactic",
            "techniques": "technique",
            "sectors": "sector",
            "countries": "country",
            "severities": "severity",
            "actor_types": "actor",
            "tlps": "TLP",
            "statuses": "status",
        }
        for attr, label in labels.items():
            values = getattr(self, attr)
            if values:
                shown = [source_label(v) for v in values] if attr == "sources" else values
                bits.append(f"{label}: {', '.join(str(v) for v in shown)}")
        if self.text.strip():
            bits.append(f'text contains "{self.text.strip()}"')
        return "; ".join(bits)

    def is_default(self) -> bool:
        return self == Filters()

    def without(self, attr: str) -> Filters:
        """These filters with one list filter cleared: a facet's options are counted under every other filter
        (incidents.base.filter_options), so choosing a value never hides its alternatives."""
        if attr not in _URL_KEYS:
            raise ValueError(f"Filters.without: {attr!r} is not a list filter")
        cleared: dict[str, Any] = {attr: ()}
        return replace(self, **cleared)


# Every URL key this object owns; pages keep their own keys (e.g. `incident`) beside these.
_URL_KEYS: dict[str, str] = {
    "originators": "orig",
    "sources": "src",
    "categories": "cat",
    "tactics": "tactic",
    "techniques": "tech",
    "sectors": "sector",
    "countries": "country",
    "severities": "sev",
    "actor_types": "actor",
    "tlps": "tlp",
    "statuses": "status",
}


URL_KEYS: frozenset[str] = frozenset(_URL_KEYS.values()) | {"preset", "from", "to", "q", "benchmark"}

# What a person who may not read records may filter by: the controlled vocabularies every importer maps its
# values onto, never a stored string (see Filters.for_viewer).
_VOCABULARIES: dict[str, frozenset[Any]] = {
    "originators": frozenset(("UK", "AU", PUBLIC_ORIGINATOR)),
    "sources": frozenset((INSTITUTE_REPORTING, *PUBLIC_SOURCE_KEYS)),
    "categories": frozenset(vocab.CATEGORIES),
    "sectors": frozenset(vocab.SECTORS),
    "countries": frozenset(vocab.COUNTRIES),
    "severities": frozenset(vocab.SEVERITY_LABELS),
    "actor_types": frozenset(vocab.ACTOR_TYPES),
    "tlps": frozenset(("CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED")),
    "statuses": frozenset(vocab.STATUSES),
}
_ATLAS_ID = re.compile(r"AML\.TA?\d{4}(\.\d{3})?")


def controlled_value(attr: str, value: Any) -> bool:
    """Whether `value` of filter `attr` comes from a controlled vocabulary (or is an ATLAS id), never from
    stored text: the only values offered to, and applied for, people who may not read records."""
    if attr in ("techniques", "tactics"):
        return bool(_ATLAS_ID.fullmatch(str(value)))
    return value in _VOCABULARIES.get(attr, frozenset())


# Filters whose stored values are lower-case words (vocab.SECTORS, ACTOR_TYPES, STATUSES): shown in sentence case,
# as categories are ("Prompt injection"), so one list never mixes "finance" with "Jailbreak". Display only: the
# stored value, the URL and every comparison keep the vocabulary's spelling.
_SENTENCE_CASE = frozenset(("sectors", "actor_types", "statuses"))


def value_label(attr: str, value: Any) -> str:
    """How a filter value reads on screen (options, chart labels): sentence case for the lower-case
    vocabularies, everything else as stored."""
    text = str(value)
    if attr in _SENTENCE_CASE and text[:1].islower():
        return text[:1].upper() + text[1:]
    return text
