"""Shared fixtures: real DuckDB stores on disk (never mocked), the demo personas, and an AppTest factory."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from analytics.access.viewer import Viewer
from analytics.accounts import identity
from analytics.demo.generator import build_demo
from analytics.store import incident_keys
from analytics.store.database import Store, close_all, open_store

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
TODAY = date(2026, 11, 20)

PERSONAS: dict[str, Viewer] = {
    email: Viewer(email, name, inst, role) for email, name, inst, role in identity.DEMO_USERS
}
UK_ANALYST = PERSONAS["analyst@uk.example"]
UK_LEAD = PERSONAS["lead@uk.example"]
UK_POLICY = PERSONAS["policy@uk.example"]
AU_ANALYST = PERSONAS["analyst@au.example"]
AU_LEAD = PERSONAS["lead@au.example"]
AU_POLICY = PERSONAS["policy@au.example"]
ADMIN = PERSONAS["admin@joint.example"]

os.environ.setdefault("THREAT_TODAY", TODAY.isoformat())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: pytest-playwright's sync API keeps an event loop running in the main thread for the
    rest of the session, which breaks later tests that run their own loop (inspect-ai's eval)."""
    items.sort(key=lambda item: "tests/browser/" in str(item.fspath))


class StoreBuilder:
    """A migrated empty store plus helpers that insert rows with sensible defaults."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._n = 0
        with store.transaction() as con:
            identity.enrol_demo_users(con)

    def cursor(self) -> Any:
        return self.store.cursor()

    def incident(self, **kw: Any) -> str:
        self._n += 1
        row: dict[str, Any] = {
            "id": f"T-{self._n:04d}",
            "title": f"Incident {self._n}",
            "summary": "",
            "occurred_on": date(2026, 6, 1),
            "reported_on": None,
            "originator": "UK",
            "source": "institute",
            "category": "Prompt injection",
            "severity": 3,
            "actor_type": "criminal",
            "sectors": ["finance"],
            "countries": ["GB"],
            "affected_system": "Aurora-1.0",
            "developer": "Northwind AI",
            "status": "new",
            "tlp": "GREEN",
            "releasable_to": ["AU", "UK"],
            "named_recipients": [],
            "source_reliability": "B",
            "credibility": 2,
            "techniques": [],
        }
        row.update(kw)
        techniques = row.pop("techniques")
        cols = list(row)
        with self.store.transaction() as con:
            con.execute(
                f"insert into incidents ({', '.join(cols)}) values ({', '.join('?' for _ in cols)})",
                [row[c] for c in cols],
            )
            incident_keys.add_techniques(con, row["id"], techniques)
        return str(row["id"])

    def eval_run(self, **kw: Any) -> str:
        self._n += 1
        row: dict[str, Any] = {
            "run_id": f"R-{self._n:04d}",
            "institute": "UK",
            "model": "Aurora-1.0",
            "model_developer": "Northwind AI",
            "model_release_date": date(2025, 1, 1),
            "benchmark": "Cybench",
            "task_version": "1",
            "eval_date": date(2025, 2, 1),
            "metric": "accuracy",
            "score": 0.5,
            "stderr": 0.05,
            "n_samples": 0,
            "source": "institute",
            "tlp": "GREEN",
            "releasable_to": ["AU", "UK"],
            "named_recipients": [],
        }
        samples = kw.pop("samples", None)
        row.update(kw)
        cols = list(row)
        with self.store.transaction() as con:
            con.execute(
                f"insert into eval_runs ({', '.join(cols)}) values ({', '.join('?' for _ in cols)})",
                [row[c] for c in cols],
            )
            for sid, score in (samples or {}).items():
                con.execute(
                    "insert into eval_samples (run_id, sample_id, epoch, score, value) values (?, ?, 1, ?, ?)",
                    [row["run_id"], sid, score, "C" if score == 1 else "I"],
                )
        return str(row["run_id"])


def store_before(path: Path, version: int) -> Any:
    """A DuckDB connection to a new store at `path` holding the schema of every migration before `version`, as a
    store written by an older release would be (for migration tests). The caller closes it."""
    import duckdb

    from analytics.store.database import load_migrations

    con = duckdb.connect(str(path))
    for m in load_migrations():
        if m.version < version:
            con.execute(m.sql)
            con.execute("insert into schema_version values (?, ?, current_timestamp)", [m.version, m.name])
    return con


# incident_tactics as analytics/store/incident_keys.py derives it, for the incidents that exist.
_TACTICS_DERIVED = (
    "select distinct it.incident_key, tt.tactic_id from incident_techniques it "
    "join atlas_technique_tactics tt on tt.technique_id = it.technique_id "
    "or tt.technique_id = left(it.technique_id, 9) semi join incidents i on i.incident_key = it.incident_key"
)
_TACTICS_KEPT = (
    "select t.incident_key, t.tactic_id from incident_tactics t semi join incidents i using (incident_key)"
)


def tactics_out_of_step(con: Any) -> list[tuple[Any, ...]]:
    """Rows where incident_tactics differs from what it is derived from (none when every writer kept it)."""
    return list(
        con.execute(
            f"(({_TACTICS_DERIVED}) except all ({_TACTICS_KEPT})) union all "
            f"(({_TACTICS_KEPT}) except all ({_TACTICS_DERIVED}))"
        ).fetchall()
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StoreBuilder]:
    s = open_store(tmp_path / "test.duckdb")
    yield StoreBuilder(s)
    # Whatever the test wrote, through whichever writer: each incident's kept tactics are still its techniques'.
    if not s.closed:
        assert tactics_out_of_step(s.cursor()) == [], "incident_tactics is out of step with the techniques"
    close_all()


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo store on disk, built once per session (the same generator as `make run`)."""
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    s = Store(path)
    build_demo(s, incidents=3000, seed=7)
    s.close()
    return path


@pytest.fixture
def demo_store(demo_db: Path) -> Iterator[Store]:
    s = open_store(demo_db)
    yield s


# A complete [auth] section for AppTest runs. It never reaches an identity provider: AppTest seeds `st.user`.
TEST_OIDC_AUTH: dict[str, str] = {
    "redirect_uri": "https://threats.example/oauth2callback",
    "cookie_secret": "t" * 40,
    "client_id": "dashboard-tests",
    "client_secret": "test-only-secret",
    "server_metadata_url": "https://idp.example/.well-known/openid-configuration",
}


@pytest.fixture(autouse=True)
def _logged_in_apptest_means_oidc(monkeypatch: pytest.MonkeyPatch) -> None:
    """A logged-in `at.user` stands for an OIDC sign-in, and the app trusts `st.user` only when OIDC is
    configured (identity.signed_in_email). An AppTest that seeds a logged-in user without any secrets gets
    TEST_OIDC_AUTH; one that sets its own secrets, or sets `at.implied_oidc = False`, keeps what it set."""
    from streamlit.testing.v1 import AppTest

    original = AppTest._run

    def run(self: AppTest, *args: Any, **kwargs: Any) -> AppTest:
        implied = getattr(self, "implied_oidc", True)
        if implied and not self.secrets and dict(self.user).get("is_logged_in"):
            self.secrets["auth"] = dict(TEST_OIDC_AUTH)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(AppTest, "_run", run)


@pytest.fixture
def navigation_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every AppTest rerun go through app.py, as the real server does once app.py has called st.navigation.

    AppTest resets Streamlit's 'pages/ directory' flag before each run; since our page files live in pages/, a
    rerun after a page switch would otherwise execute the page file alone, skipping sign-in and the sidebar.
    """
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self: PagesManager, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


@pytest.fixture
def app_factory(demo_db: Path, monkeypatch: pytest.MonkeyPatch, navigation_mode: None) -> Callable[..., Any]:
    """AppTest of app.py signed in as `email` over the demo store; every rerun goes through app.py."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("THREAT_DB", str(demo_db))

    def make(email: str | None, page: str | None = None, query: dict[str, Any] | None = None) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        if email:
            at.user = {"is_logged_in": True, "email": email}  # type: ignore[assignment]
        for k, v in (query or {}).items():
            at.query_params[k] = v
        at.run()
        if page:
            at.switch_page(page).run()
        return at

    return make


def _decode(value: Any) -> Any:
    """Plotly 7 sends numeric arrays as {'dtype', 'bdata'} (base64); turn them back into lists."""
    import base64

    import numpy as np

    if isinstance(value, dict) and set(value) >= {"dtype", "bdata"}:
        arr = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        if "shape" in value:
            shape = value["shape"]
            arr = arr.reshape([int(s) for s in (shape.split(",") if isinstance(shape, str) else shape)])
        return arr.tolist()
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def figure_spec(element: Any) -> dict[str, Any]:
    """The Plotly figure an AppTest `plotly_chart` element sends to the browser, with arrays decoded."""
    import json

    return _decode(json.loads(element.proto.spec))  # type: ignore[no-any-return]
