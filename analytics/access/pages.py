"""Which pages each role may open. app.py builds the navigation from this; every page re-checks its own roles."""

from __future__ import annotations

from dataclasses import dataclass

from analytics.access.roles import ADMINS, ASSESSMENT_AUTHORS, EVERYONE, RECORD_READERS, Role


@dataclass(frozen=True)
class PageSpec:
    path: str  # relative to the project root
    title: str
    icon: str
    roles: tuple[Role, ...]
    section: str
    # Whether the sidebar's incident filters mean anything here: pages showing no incident counts (imports,
    # users and the audit log, assessments, entity pages) do not draw them (pages/parts/sidebar.py).
    incident_filters: bool = True

    @property
    def url_path(self) -> str:
        """The page's address, as Streamlit derives it from the file name (pages/explorer.py -> explorer)."""
        return self.path.removeprefix("pages/").removesuffix(".py")


# Order is the order in the navigation.
PAGES: tuple[PageSpec, ...] = (
    PageSpec("pages/overview.py", "Overview", ":material/dashboard:", EVERYONE, "Summary"),
    PageSpec(
        "pages/assessments_read.py",
        "Approved assessments",
        ":material/verified:",
        EVERYONE,
        "Summary",
        incident_filters=False,
    ),
    PageSpec(
        "pages/explorer.py", "Incident explorer", ":material/travel_explore:", RECORD_READERS, "Analysis"
    ),
    PageSpec("pages/evaluations.py", "Evaluations", ":material/science:", RECORD_READERS, "Analysis"),
    PageSpec("pages/matrix.py", "Threat matrix", ":material/grid_view:", RECORD_READERS, "Analysis"),
    # Entity pages show every record the viewer may see whatever the filters (analytics/entities/queries.py).
    PageSpec(
        "pages/entity.py", "Entities", ":material/hub:", RECORD_READERS, "Analysis", incident_filters=False
    ),
    PageSpec(
        "pages/assessments.py",
        "Assessments",
        ":material/edit_note:",
        ASSESSMENT_AUTHORS,
        "Assess",
        incident_filters=False,
    ),
    PageSpec("pages/briefings.py", "Briefings", ":material/slideshow:", EVERYONE, "Assess"),
    PageSpec(
        "pages/data.py",
        "Data exchange",
        ":material/swap_horiz:",
        RECORD_READERS,
        "Data",
        incident_filters=False,
    ),
    PageSpec(
        "pages/admin.py",
        "Administration",
        ":material/admin_panel_settings:",
        ADMINS,
        "Data",
        incident_filters=False,
    ),
)


def pages_for(role: Role) -> list[PageSpec]:
    return [p for p in PAGES if role in p.roles]


def page_at(url_path: str, role: Role) -> PageSpec | None:
    """The page at this address (`explorer`), if this role may open it: where a link or a saved view leads."""
    return next((p for p in pages_for(role) if p.url_path == url_path), None)


def roles_for(path: str) -> tuple[Role, ...]:
    for p in PAGES:
        if p.path == path:
            return p.roles
    raise KeyError(path)
