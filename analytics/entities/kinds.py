"""The kinds of entity a page can be about, the columns that name them, and the links that lead to them.

Why: an entity page is opened from a link (`entity?kind=technique&id=AML.T0051`), so the kind in an address is
untrusted input. Only the kinds listed here exist; everything else (SQL, labels, links) is looked up from this
table, never built from the address. Each kind names an entity by a column the records already have
(migration 001): nothing is invented.

| kind | incidents | evaluation runs |
|---|---|---|
| model | `affected_system` (case- and space-insensitive, as analytics.links matches a model) | `model` |
| developer | `developer` | `model_developer` |
| sector | an element of `sectors` | — |
| actor | `actor_type` | — |
| technique | `incident_techniques` (a parent covers its sub-techniques) | benchmarks mapped to it |
| benchmark | techniques the benchmark is mapped to | `benchmark` (normalised key) |
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode

MAX_ID = 200  # longer ids are refused: no entity name in the store is near this long


@dataclass(frozen=True)
class Kind:
    key: str  # as in the address
    label: str  # a page heading
    noun: str  # in a sentence: "No developer named …"
    runs: bool  # whether evaluation runs can name this kind of entity


KINDS: Final[dict[str, Kind]] = {
    k.key: k
    for k in (
        Kind("model", "Model or affected system", "model or system", True),
        Kind("developer", "Developer", "developer", True),
        Kind("sector", "Sector", "sector", False),
        Kind("actor", "Actor type", "actor type", False),
        Kind("technique", "ATLAS technique", "ATLAS technique", True),
        Kind("benchmark", "Benchmark", "benchmark", True),
    )
}

_TECHNIQUE_ID = re.compile(r"AML\.T\d{4}(\.\d{3})?")


class EntityError(ValueError):
    """An address that names no entity this page can show: the message says what and where, in one line."""


@dataclass(frozen=True)
class EntityRef:
    kind: str  # a key of KINDS
    id: str  # as given (trimmed); matched case-insensitively except ATLAS ids

    @property
    def key(self) -> str:
        """What the SQL compares against: the lower-cased name, or the ATLAS id as ATLAS writes it."""
        return self.id if self.kind == "technique" else self.id.lower()

    @property
    def info(self) -> Kind:
        return KINDS[self.kind]


def parse_entity(kind: str | None, ident: str | None) -> EntityRef:
    """The entity an address names (`?kind=…&id=…`), or EntityError saying what is wrong with it."""
    if not kind or not ident:
        raise EntityError("the address names no entity: it needs both ?kind= and ?id=")
    if kind not in KINDS:
        raise EntityError(f"unknown kind {kind[:40]!r} in the address; expected one of {', '.join(KINDS)}")
    ident = " ".join(ident.split())
    if not ident or len(ident) > MAX_ID:
        raise EntityError(f"the id in the address is empty or longer than {MAX_ID} characters")
    if kind == "technique":
        ident = ident.upper()
        if not _TECHNIQUE_ID.fullmatch(ident):
            raise EntityError(f"{ident[:40]!r} in the address is not an ATLAS technique id (AML.T0000[.000])")
    return EntityRef(kind, ident)


def query_params(kind: str, ident: str) -> dict[str, str]:
    """The page's query parameters for an entity (for st.page_link); the kind must be one of KINDS."""
    if kind not in KINDS:
        raise EntityError(f"unknown entity kind {kind!r}")
    return {"kind": kind, "id": str(ident)[:MAX_ID]}


def entity_url(kind: str, ident: str, page: str = "entity") -> str:
    """A relative address of the entity page, URL-encoded: what a shared link or a briefing carries."""
    return f"{page}?{urlencode(query_params(kind, ident))}"
