"""Details open where the eye is and link onwards (issue 20): the threat matrix's technique detail (a dialog) names
a sub-technique with its parent, links its parent, its entity page and its benchmarks, and closes for good."""

from __future__ import annotations

from pages.ui import inert_markdown
from tests.pages.test_explorer_page import page_links

PAGE = "pages/matrix.py"


def test_a_sub_technique_detail_names_and_links_everything(app_factory) -> None:
    at = app_factory("analyst@au.example", page=PAGE, query={"technique": "AML.T0051.001"})
    assert not at.exception and not at.error
    assert "LLM Prompt Injection: Indirect" in [t.value for t in at.text]
    assert "Indirect" not in [t.value for t in at.text]  # never the bare sub-technique name
    entity = [q for page, q in page_links(at) if page == "entity"]
    assert entity[0] == "kind=technique&id=AML.T0051.001"  # the technique's own page first
    assert "kind=technique&id=AML.T0051" in entity  # its parent
    assert "kind=benchmark&id=AgentDojo+injection" in entity  # a benchmark mapped to it, with results
    labels = [link.proto.label for link in at.get("page_link")]
    assert inert_markdown("AML.T0051 LLM Prompt Injection") in labels  # stored text inert in every label


def test_closing_the_technique_detail_forgets_it(app_factory) -> None:
    at = app_factory("analyst@uk.example", page=PAGE, query={"technique": "AML.T0054"})
    assert any(m.value.startswith("**Matching incidents**") for m in at.markdown)
    at.button(key="mx_close").click().run()
    assert not at.exception
    assert at.selectbox(key="mx_technique").value is None and "technique" not in at.query_params
    assert not any(m.value.startswith("**Matching incidents**") for m in at.markdown)
    at.run()  # and it stays closed on the next rerun
    assert not any(m.value.startswith("**Matching incidents**") for m in at.markdown)


def test_an_entity_page_row_opens_that_incident_and_only_on_its_own_page(app_factory) -> None:
    at = app_factory("analyst@au.example", query={"kind": "model", "id": "Onyx-1.2"})
    at.switch_page("pages/entity.py").run()
    table = next(d for d in at.dataframe if "occurred_on" in d.value.columns)
    chosen = str(table.value["id"].iloc[3])
    at.session_state[table.key] = {"selection": {"rows": [3], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert [s.value for s in at.subheader] == [chosen]  # the dialog shows the chosen row's incident
    at.query_params["kind"], at.query_params["id"] = (
        "developer",
        "Kestrel Systems",
    )  # a link to another entity
    at.run()
    assert not at.exception and not at.subheader  # the incident chosen on the model's page stays there


def test_a_related_incident_link_in_the_explorer_detail_is_not_sent_back(app_factory) -> None:
    at = app_factory("analyst@uk.example", page="pages/explorer.py", query={"xp_tab": "Incidents"})
    at.session_state["xp_tab"] = "Incidents"
    at.run()
    table = next(d for d in at.dataframe if "occurred_on" in d.value.columns)
    first, other = str(table.value["id"].iloc[0]), str(table.value["id"].iloc[2])
    at.session_state[table.key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert [s.value for s in at.subheader] == [first]
    at.query_params["incident"] = other  # what a related-incident link in the detail does
    at.run()
    assert [s.value for s in at.subheader] == [other] and at.query_params["incident"] == other
