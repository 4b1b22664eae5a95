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
