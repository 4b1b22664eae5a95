"""Entity pages reveal nothing beyond the reader's clearance (issue 20): for every persona and every canary case
(TLP:RED with and without the reader named, AMBER+STRICT of each institute, single-institute releasability),
the canary's model, developer and benchmark have a page only when the reader may see its records, and the page
of a shared entity lists exactly the cleared canaries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from analytics.entities import queries as entities
from analytics.store.database import Store, open_store
from tests.conftest import PERSONAS, ROOT, StoreBuilder
from tests.security.canary import allowed_cases, assert_exactly_allowed, plant_canaries

READERS = [email for email, v in PERSONAS.items() if v.can_see_records]


@pytest.fixture(scope="module")
def canary_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    path = tmp_path_factory.mktemp("entity-canary") / "canary.duckdb"
    s = Store(path)
    StoreBuilder(s)  # the demo personas
    canaries = plant_canaries(s)
    s.close()
    return path, canaries


@pytest.mark.parametrize("email", list(PERSONAS))
def test_a_canary_entity_exists_only_for_its_cleared_readers(canary_db, email: str) -> None:
    db, canaries = canary_db
    con = open_store(db).cursor()
    viewer = PERSONAS[email]
    allowed = allowed_cases(viewer, canaries, text=False)
    for case, c in canaries.items():
        for kind, ident in (
            ("model", f"System-{c.token}"),
            ("developer", f"Developer-{c.token}"),
            ("benchmark", f"Bench-{c.token}"),
        ):
            over = entities.overview(con, viewer, kind, ident)
            assert (over is not None) == (case in allowed), (email, case, kind)


@pytest.mark.parametrize("email", READERS)
def test_a_shared_entity_lists_exactly_the_cleared_canaries(canary_db, email: str) -> None:
    db, canaries = canary_db
    con = open_store(db).cursor()
    viewer = PERSONAS[email]
    # every canary incident names the sector and actor type the planter gives them all
    sector = con.execute("select sectors[1], actor_type from incidents limit 1").fetchone()
    for kind, ident in (("sector", sector[0]), ("actor", sector[1])):
        listed = entities.incidents(con, viewer, kind, ident).data
        assert_exactly_allowed(" ".join(listed["title"]), viewer, canaries, where=f"entity {kind}")
        related = entities.related(con, viewer, kind, ident).data
        assert_exactly_allowed(
            " ".join(related["id"]), viewer, canaries, where=f"related of {kind}", text=False
        )


@pytest.mark.parametrize("email", READERS)
def test_the_entity_page_shows_only_cleared_canaries(canary_db, monkeypatch, email: str) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.security.canary import assert_only_allowed, rendered_text

    db, canaries = canary_db
    monkeypatch.setenv("THREAT_DB", str(db))
    for c in canaries.values():
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
        at.user = {"is_logged_in": True, "email": email}
        at.query_params["kind"], at.query_params["id"] = "model", f"System-{c.token}"
        at.run()
        at.switch_page("pages/entity.py").run()
        assert not at.exception, [e.message for e in at.exception]
        shown = assert_only_allowed(
            rendered_text(at), PERSONAS[email], canaries, where=f"entity page of {c.case}"
        )
        # the positive control: a cleared canary's page does show it, so the check above can see a token
        assert (c.case in shown) == (c.case in allowed_cases(PERSONAS[email], canaries)), c.case
