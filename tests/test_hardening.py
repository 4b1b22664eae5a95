"""Hardening: server configuration, page guards, stored text never rendered as HTML, inert search and sort
values, the app's DuckDB connection locked down, and no secrets in the repository.

The browser half (script payloads in a real Chromium, error details hidden in the production configuration)
is in tests/browser/test_hardening_browser.py.
"""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics.access import pages as access
from analytics.filters import Filters
from analytics.incidents import explorer as incident_explorer
from analytics.store.database import Store, close_all, open_store
from tests.analytics.accounts.test_identity import navigation_mode  # noqa: F401 - autouse: every rerun runs app.py first
from tests.conftest import ROOT, TODAY, UK_ANALYST, StoreBuilder

# -- server configuration ---------------------------------------------------------------------------------------


def test_streamlit_config_is_production_safe() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["enableXsrfProtection"] is True
    assert config["server"].get("enableCORS", True) is True
    assert 1 <= config["server"]["maxUploadSize"] <= 200  # MB
    assert config["server"]["runOnSave"] is False
    assert config["client"]["showErrorDetails"] == "none"
    assert config["client"]["toolbarMode"] == "viewer"
    assert config["browser"]["gatherUsageStats"] is False


def test_secrets_file_is_never_tracked() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".streamlit/secrets.toml"], cwd=ROOT, capture_output=True
    )
    assert ignored.returncode == 0, ".streamlit/secrets.toml must be in .gitignore"


SECRET_PATTERNS: dict[str, re.Pattern[str]] = {
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----"),
    # a value without spaces or template braces: "a long random string" and "..." in docs are placeholders
    "client secret": re.compile(r"(?im)^\s*client_secret\s*=\s*[\"'][^\"'{}\s]{6,}[\"']"),
    "cookie secret": re.compile(r"(?im)^\s*cookie_secret\s*=\s*[\"'][^\"'{}\s]{6,}[\"']"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "OpenAI/Anthropic key": re.compile(r"\bsk-(?:ant-)?[A-Za-z0-9_-]{32,}"),
}


def _tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / p for p in out.decode().split("\0") if p]


def test_no_secrets_in_tracked_files() -> None:
    found = []
    for path in _tracked_files():
        if path.name in ("secrets.toml",) or path.suffix in (".pem", ".key", ".p12", ".pfx"):
            found.append((str(path.relative_to(ROOT)), "secret file"))
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue
        found += [
            (str(path.relative_to(ROOT)), name) for name, rx in SECRET_PATTERNS.items() if rx.search(text)
        ]
    assert found == []


def test_secret_scan_would_catch_the_real_thing(tmp_path: Path) -> None:
    # The patterns above must match what a leaked secrets.toml or key file looks like.
    leaked = (
        '[auth]\nclient_secret = "9f8e7d6c5b4a"\ncookie_secret = "abcdefabcdef"\n'
        + "-----BEGIN RSA "
        + "PRIVATE KEY-----\nMIIB\n"  # split, or this file would trip the scan
    )
    assert {n for n, rx in SECRET_PATTERNS.items() if rx.search(leaked)} == {
        "private key",
        "client secret",
        "cookie secret",
    }
    assert not SECRET_PATTERNS["client secret"].search('client_secret = "{client_secret}"')  # templates


# -- pages guard themselves -------------------------------------------------------------------------------------


def _runs_code(node: ast.stmt) -> bool:
    """A module-level statement that does something when the page runs (a definition or a constant does not)."""
    if isinstance(node, ast.FunctionDef | ast.ClassDef):
        return False
    if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
        # column formats are plain values; any other call (session.*, st.*) does something
        calls = [n for n in ast.walk(node.value) if isinstance(n, ast.Call)]
        return any(not ast.unparse(c.func).startswith("st.column_config.") for c in calls)
    return True


def _first_statement_call(path: Path) -> ast.Call | None:
    """The first statement the page runs, if it is a call (or an assignment of one): the first top-level one after
    the docstring and imports, or, for a page that is a `main()` called at the bottom and nothing else runs before
    it, main's first."""
    tree = ast.parse(path.read_text())
    body = [
        node
        for node in tree.body
        if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))  # docstrings
        and not isinstance(node, ast.Import | ast.ImportFrom)
    ]
    mains = [n for n in body if isinstance(n, ast.FunctionDef) and n.name == "main"]
    if mains and ast.unparse(body[-1]) == "main()" and not any(_runs_code(n) for n in body[:-1]):
        body = [
            n for n in mains[0].body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
        ]
    for node in body:
        value = node.value if isinstance(node, ast.Assign | ast.Expr) else None
        return value if isinstance(value, ast.Call) else None
    return None


def _roles_of(call: ast.Call, path: Path) -> set[str]:
    """Resolve the roles a page passes: string literals, or *NAME / *module.NAME from the page's imports."""
    module = ast.parse(path.read_text())
    names: dict[str, Any] = {}
    for node in module.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            mod = importlib.import_module(node.module)
            for alias in node.names:
                name = alias.asname or alias.name
                if hasattr(mod, alias.name):
                    names[name] = getattr(mod, alias.name)
                else:  # a submodule: `from analytics import session`
                    names[name] = importlib.import_module(f"{node.module}.{alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name] = importlib.import_module(alias.name)
    roles: set[str] = set()
    for arg in call.args:
        if isinstance(arg, ast.Constant):
            roles.add(arg.value)
        elif isinstance(arg, ast.Starred):
            target = arg.value
            if isinstance(target, ast.Name):
                roles |= set(names[target.id])
            elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
                roles |= set(getattr(names[target.value.id], target.attr))
    return roles


PAGE_FILES = sorted(p for p in (ROOT / "pages").glob("*.py") if p.name not in ("__init__.py", "ui.py"))


@pytest.mark.parametrize("path", PAGE_FILES, ids=lambda p: p.name)
def test_every_page_first_requires_exactly_its_navigation_roles(path: Path) -> None:
    call = _first_statement_call(path)
    assert call is not None and ast.unparse(call.func) == "session.require_role", (
        f"{path.name}: the first statement after the imports must be session.require_role(...)"
    )
    rel = str(path.relative_to(ROOT))
    assert _roles_of(call, path) == set(access.roles_for(rel)), (
        f"{rel} checks other roles than its navigation"
    )


def test_every_page_file_is_registered() -> None:
    # A page file the navigation does not know could be reached through Streamlit's pages/ directory mode.
    registered = {p.path for p in access.PAGES}
    assert {str(p.relative_to(ROOT)) for p in PAGE_FILES} <= registered


@pytest.mark.parametrize(
    "path", [*PAGE_FILES, ROOT / "app.py", ROOT / "pages" / "ui.py"], ids=lambda p: p.name
)
def test_no_raw_html_rendering(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            fn = ast.unparse(node.func)
            assert not fn.endswith(("st.html", "components.html", "components.iframe")), f"{path.name}: {fn}"
            for kw in node.keywords:
                if kw.arg == "unsafe_allow_html":
                    assert isinstance(kw.value, ast.Constant) and kw.value.value is False, (
                        f"{path.name}: {fn}"
                    )


# -- stored text never becomes HTML -----------------------------------------------------------------------------

PAYLOADS = (
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=2">',
    "[click me](javascript:window.__xss=3)",
    '<a href="javascript:window.__xss=4">link</a>',
    ":red[**spoofed TLP:CLEAR banner**]",
)


def _plant_payloads(store: StoreBuilder) -> None:
    for k, payload in enumerate(PAYLOADS):
        store.incident(
            title=f"Title {payload}",
            summary=f"Summary {payload}",
            affected_system=f"System {payload}",
            developer=f"Developer {payload}",
            category=f"Category {k} {payload}",
            actor_type=f"Actor {payload}",
            status="new",
            tlp="GREEN",
        )


def _unsafe_fragments(text: str) -> list[str]:
    """Payload pieces that would act if this markdown were rendered: raw tags, links to javascript:, directives."""
    found = []
    for rx in (r"(?<!\\)<(?:script|img|a)\b", r"\]\(javascript:", r"(?<!\\):red\[", r"(?<!\\)\[click me\]"):
        found += re.findall(rx, text, flags=re.I)
    return found


def test_payloads_in_stored_text_render_inert_on_every_analyst_page(
    store: StoreBuilder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    _plant_payloads(store)
    monkeypatch.setenv("THREAT_DB", str(store.store.path))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.user = {"is_logged_in": True, "email": UK_ANALYST.email}
    at.run()
    for spec in access.pages_for(UK_ANALYST.role):
        at.switch_page(spec.path).run()
        assert not at.exception, (spec.path, [e.message for e in at.exception])
        assert not at.get("html"), spec.path
        for el in [
            *at.markdown,
            *at.caption,
            *at.sidebar.markdown,
            *at.info,
            *at.warning,
            *at.error,
            *at.success,
        ]:
            body = str(getattr(el, "value", "") or getattr(el, "body", ""))
            if el.proto.allow_html if hasattr(el.proto, "allow_html") else False:
                assert not any(p in body for p in PAYLOADS), (spec.path, body)
            assert not _unsafe_fragments(body), (spec.path, body)


# -- search and sort values are inert ---------------------------------------------------------------------------

SEARCHES = ["'; drop table incidents; --", "%", "_", "' or '1'='1", "\\", "Title <script>", "$f_text"]


@pytest.mark.parametrize("text", SEARCHES)
def test_search_text_is_a_bound_value(store: StoreBuilder, text: str) -> None:
    _plant_payloads(store)
    store.incident(title="100% certain", summary="under_score")
    con = store.cursor()
    where, params = Filters(text=text).sql_where(UK_ANALYST, TODAY)
    got = con.execute(f"select count(*) from incidents i where {where}", params).fetchone()[0]
    expected = con.execute(
        "select count(*) from incidents where contains(lower(title), ?) or contains(lower(coalesce(summary, '')), ?)",
        [text.strip().lower()] * 2,
    ).fetchone()[0]
    assert got == expected
    assert con.execute("select count(*) from incidents").fetchone() == (len(PAYLOADS) + 1,)


def test_wildcards_match_literally(store: StoreBuilder) -> None:
    store.incident(title="100% certain")
    store.incident(title="ordinary")
    con = store.cursor()
    for text, n in (("%", 1), ("_", 0), ("100%", 1)):
        where, params = Filters(text=text).sql_where(UK_ANALYST, TODAY)
        assert con.execute(f"select count(*) from incidents i where {where}", params).fetchone() == (n,)


@pytest.mark.parametrize(
    "sort", ["i.title; drop table incidents", "title", "1", "Title desc", "random()", ""]
)
def test_sort_names_outside_the_allow_list_are_refused(store: StoreBuilder, sort: str) -> None:
    store.incident()
    with pytest.raises(ValueError, match="cannot sort by"):
        incident_explorer.incident_page(store.cursor(), UK_ANALYST, Filters(), TODAY, sort=sort)
    assert store.cursor().execute("select count(*) from incidents").fetchone() == (1,)


def test_allow_listed_sort_orders_rows(store: StoreBuilder) -> None:
    for title in ("b", "c", "a"):
        store.incident(title=title)
    page = incident_explorer.incident_page(
        store.cursor(), UK_ANALYST, Filters(), TODAY, sort="Title", descending=False
    )
    assert list(page.data["title"]) == ["a", "b", "c"]


HOSTILE_QUERY = {
    "cat": "'; drop table incidents; --",
    "sev": "not-a-number",
    "from": "2026-13-45",
    "to": "yesterday",
    "q": "%' or 1=1 --" + "x" * 500,
    "tlp": "RED' or '1'='1",
    "orig": "UK,AU",
    "preset": "../../etc/passwd",
}


def test_hostile_url_parameters_are_harmless(store: StoreBuilder, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    store.incident(title="visible")
    monkeypatch.setenv("THREAT_DB", str(store.store.path))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.user = {"is_logged_in": True, "email": UK_ANALYST.email}
    for k, v in HOSTILE_QUERY.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert store.cursor().execute("select count(*) from incidents").fetchone() == (1,)
    assert len(at.text_input(key="flt_text").value) <= 200


# -- the app's connection is locked down ------------------------------------------------------------------------


def test_the_apps_store_is_hardened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    db = tmp_path / "app.duckdb"
    seed = Store(db)  # migrated and closed: the app is the first in this process to open it
    with seed.transaction() as tx:
        tx.execute(
            "insert into users (email, name, institute, role) values ('analyst@uk.example', 'P', 'UK', 'analyst')"
        )
    seed.close()
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    monkeypatch.setenv("THREAT_DB", str(db))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.user = {"is_logged_in": True, "email": "analyst@uk.example"}
    at.run()
    assert not at.exception
    app_store = open_store(db)  # the same process-wide instance the app opened
    assert app_store.hardened
    con = app_store.cursor()
    for sql in (
        f"select * from read_csv('{secret}')",
        f"select * from read_text('{secret}')",
        f"select * from read_parquet('{tmp_path / 'x.parquet'}')",
        f"attach '{tmp_path / 'other.duckdb'}' as other",
        f"copy incidents to '{tmp_path / 'out.csv'}'",
        f"copy (select 1) to '{tmp_path / 'out.parquet'}' (format parquet)",
        f"export database '{tmp_path / 'dump'}'",
        "set enable_external_access = true",
        "set lock_configuration = false",
        "set memory_limit = '64GB'",
        "install httpfs",
        "load httpfs",
    ):
        with pytest.raises(duckdb.Error):
            con.execute(sql)
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "dump").exists()
    close_all()
