"""What to tell someone whose link asked for more than their role may open (issue 20).

A policymaker following an analyst's link to the Incident explorer lands on a page their role may open; the
filters their role cannot apply are dropped (`Filters.for_viewer`). Both happen for good reasons, and both used
to happen silently, so the person saw other numbers than the sender and no word why. This module words the
sentence the app shows above the landing page: which page the link named, who that page is for, where they are
instead. It names only page titles and roles, never anything from the link beyond the page's address, which
must be one of the app's own (`PAGES`): an unknown address is not echoed back.
"""

from __future__ import annotations

from analytics.access.pages import PAGES, pages_for
from analytics.access.roles import ROLE_PLURALS, Role


def _people(roles: tuple[Role, ...]) -> str:
    names = [ROLE_PLURALS[r] for r in roles]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def narrowed_link_note(asked_path: str, role: Role, *, filters_dropped: bool = False) -> str:
    """The sentence for a link to `asked_path` (a page's address, `explorer`) followed by someone of `role`;
    '' when the role may open that page, or when the address is not one of the app's pages."""
    asked = next((p for p in PAGES if p.url_path == asked_path), None)
    if asked is None or role in asked.roles:
        return ""
    landing = pages_for(role)[0]
    article = "an" if role[0] in "aeiou" else "a"
    note = (
        f"The link you followed opens the {asked.title} page, which is for {_people(asked.roles)}; "
        f"as {article} {role} you see the {landing.title} instead"
    )
    if filters_dropped:
        return (
            note + ", without the link's search and free-text filter values (your role sees summaries only)."
        )
    return note + ", with the link's filters."
