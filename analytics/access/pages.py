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

    @property
    def url_path(self) -> str:
        """The page's address, as Streamlit derives it from the file name (pages/explorer.py -> explorer)."""
        return self.path.removeprefix("pages/").removesuffix(".py")


# Order is the order in the navigation.
PAGES: tuple[PageSpec, ...] = (
    PageSpec("pages/overview.py", "Overview", ":material/dashboard:", EVERYONE, "Summary"),
    PageSpec("pages/assessments_read.py", "Approved assessments", ":material/verified:", EVERYONE, "Summary"),
    PageSpec("pages/explorer.py", "Incident explorer", ":material/travel_explore:", RECORD_ROLES, "Analysis"),
    PageSpec("pages/evaluations.py", "Evaluations", ":material/science:", RECORD_ROLES, "Analysis"),
    PageSpec("pages/matrix.py", "Threat matrix", ":material/grid_view:", RECORD_ROLES, "Analysis"),
    PageSpec("pages/assessments.py", "Assessments", ":material/edit_note:", ("analyst", "lead"), "Assess"),
    PageSpec("pages/briefings.py", "Briefings", ":material/slideshow:", EVERYONE, "Assess"),
    PageSpec("pages/data.py", "Data exchange", ":material/swap_horiz:", RECORD_ROLES, "Data"),
    PageSpec("pages/admin.py", "Administration", ":material/admin_panel_settings:", ("admin",), "Data"),
)


def pages_for(role: str) -> list[PageSpec]:
    return [p for p in PAGES if role in p.roles]


def page_at(url_path: str, role: str) -> PageSpec | None:
    """The page at this address (`explorer`), if this role may open it: where a link or a saved view leads."""
    return next((p for p in pages_for(role) if p.url_path == url_path), None)


def roles_for(path: str) -> tuple[str, ...]:
    for p in PAGES:
        if p.path == path:
            return p.roles
    raise KeyError(path)
