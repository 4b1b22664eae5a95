"""The sentence a person reads when their link asked for a page their role does not open (issue 20)."""

from __future__ import annotations

import pytest

from analytics.access.narrowing import narrowed_link_note
from analytics.access.pages import PAGES


def test_a_policymaker_on_an_analysts_link_is_told_where_and_why() -> None:
    assert narrowed_link_note("explorer", "policymaker") == (
        "The link you followed opens the Incident explorer page, which is for analysts, leads and "
        "administrators; as a policymaker you see the Overview instead, with the link's filters."
    )


def test_dropped_filters_are_said_too() -> None:
    note = narrowed_link_note("matrix", "policymaker", filters_dropped=True)
    assert note.startswith("The link you followed opens the Threat matrix page")
    assert note.endswith(
        "without the link's search and free-text filter values (your role sees summaries only)."
    )


def test_an_analyst_on_the_admin_page_link() -> None:
    assert narrowed_link_note("admin", "analyst") == (
        "The link you followed opens the Administration page, which is for administrators; as an analyst you "
        "see the Overview instead, with the link's filters."
    )


@pytest.mark.parametrize("spec", PAGES, ids=lambda s: s.url_path)
def test_nothing_to_say_when_the_role_may_open_the_page(spec) -> None:
    for role in spec.roles:
        assert narrowed_link_note(spec.url_path, role) == ""


@pytest.mark.parametrize("path", ["", "sign-in", "nowhere", "<script>", "explorer/../admin"])
def test_an_address_that_is_not_a_page_is_never_echoed(path: str) -> None:
    assert narrowed_link_note(path, "policymaker") == ""
