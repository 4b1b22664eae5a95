"""Which pages each role may open. app.py builds the navigation from this; every page re-checks its own roles."""

from __future__ import annotations

from dataclasses import dataclass

RECORD_ROLES: tuple[str, ...] = ("analyst", "lead", "admin")
EVERYONE: tuple[str, ...] = ("analyst", "lead", "policymaker", "admin")


@dataclass(frozen=True)
class PageSpec:
    path: str  # relative to the project root
    title: str
    icon: str
    roles: tuple[str, ...]
    section: str


# Order is the order in the navigation. Add a page here only when it works.
PAGES: tuple[PageSpec, ...] = (
    PageSpec("pages/overview.py", "Overview", ":material/dashboard:", EVERYONE, "Summary"),
)


def pages_for(role: str) -> list[PageSpec]:
    return [p for p in PAGES if role in p.roles]


def roles_for(path: str) -> tuple[str, ...]:
    for p in PAGES:
        if p.path == path:
            return p.roles
    raise KeyError(path)
