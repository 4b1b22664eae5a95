"""The result cache's classification of query functions: every function a page runs through `session.query`
says (through its module) whether it reads only the records, and none that reads assessments, saved views or the
audit log claims to. A wrong "records only" would serve a stale result after an assessment save; a missing one
would silently stop caching.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from analytics import session
from analytics.access.markings import visible_sql

ROOT = Path(__file__).resolve().parents[2]
PAGE_FILES = sorted([*ROOT.glob("pages/**/*.py"), ROOT / "app.py"])

# Tables written with `changes_records=False` or `changes_data=False` (assessments, saved views, the audit log):
# a cached result that reads them must follow every write, never only the records' generation.
NOT_RECORDS = re.compile(r"\b(from|join)\s+(assessment\w*|saved_views|audit_log)\b", re.IGNORECASE)


def _imported_names(tree: ast.Module) -> dict[str, str]:
    """Local name -> dotted target, for the imports a page makes."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                names[a.asname or a.name] = a.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                names[a.asname or a.name] = f"{node.module}.{a.name}"
    return names


def _resolve(dotted: str) -> Any:
    """A dotted name as an object: the longest importable module prefix, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise LookupError(dotted)


def page_queries() -> Iterator[tuple[str, Callable[..., Any]]]:
    """(where, function) for every first argument of `session.query(...)` and `session.later(...)` in the pages
    and app.py."""
    for path in PAGE_FILES:
        tree = ast.parse(path.read_text(), str(path))
        names = _imported_names(tree)
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("query", "later")
                and isinstance(node.func.value, ast.Name)
                and names.get(node.func.value.id) == "analytics.session"
            ):
                continue
            target = node.args[0]
            assert isinstance(target, ast.Attribute | ast.Name), (
                f"{path.name}:{node.lineno}: not a named function"
            )
            dotted = ast.unparse(target)
            head, _, rest = dotted.partition(".")
            full = names.get(head, head) + (f".{rest}" if rest else "")
            yield f"{path.name}:{node.lineno}", _resolve(full)


def _module_of(fn: Callable[..., Any]) -> ModuleType:
    return sys.modules[fn.__module__]


def test_pages_run_queries_through_the_cache() -> None:
    found = list(page_queries())
    assert len(found) >= 30  # the scan sees the pages' calls; an empty scan would prove nothing
    modules = {fn.__module__ for _, fn in found}
    assert {"analytics.incidents.explorer", "analytics.assessments.reads"} <= modules


@pytest.mark.parametrize("where,fn", list(page_queries()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_page_query_is_classified(where: str, fn: Callable[..., Any]) -> None:
    declared = getattr(_module_of(fn), "READS_ONLY_RECORDS", None)
    assert isinstance(declared, bool), (
        f"{where}: {fn.__module__} declares no READS_ONLY_RECORDS (True only if none of its queries reads "
        "assessments, saved views or the audit log)"
    )
    assert session.reads_only_records(fn) is declared


def _reads_not_records(path: Path) -> list[str]:
    """SQL text in the module at `path` that reads a table outside the records."""
    tree = ast.parse(path.read_text())
    return [
        m.group(0)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        for m in [NOT_RECORDS.search(node.value)]
        if m
    ]


def misclassified(modules: set[ModuleType]) -> list[str]:
    """Modules that say READS_ONLY_RECORDS but read assessments, saved views or the audit log (in their SQL or
    through the modules that own those tables)."""
    wrong = []
    for module in modules:
        if getattr(module, "READS_ONLY_RECORDS", None) is not True:
            continue
        path = Path(module.__file__ or "")
        imported = _imported_names(ast.parse(path.read_text())).values()
        through = [m for m in imported if m.startswith(("analytics.assessments", "analytics.views"))]
        if _reads_not_records(path) or through:
            wrong.append(f"{module.__name__}: {_reads_not_records(path) + through}")
    return wrong


def test_records_only_modules_read_no_assessments_views_or_audit() -> None:
    modules = {_module_of(fn) for _, fn in page_queries()}
    assert any(
        getattr(m, "READS_ONLY_RECORDS", None) is True for m in modules
    )  # incidents, evaluations, matrix
    assert misclassified(modules) == []


def test_a_module_reading_assessments_views_or_audit_cannot_claim_records_only(tmp_path: Path) -> None:
    for n, sql in enumerate(
        [
            "select * from assessments",
            "select 1 from incidents i join assessment_pins p on true",
            "select * from saved_views",
            "select count(*) from audit_log",
        ]
    ):
        path = tmp_path / f"stray_{n}.py"
        path.write_text(f"READS_ONLY_RECORDS = True\nSQL = {sql!r}\n")
        spec = importlib.util.spec_from_file_location(f"stray_{n}", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert misclassified({module}) != [], sql
        module.READS_ONLY_RECORDS = False  # declared honestly, it is fine
        assert misclassified({module}) == []
    # and every page query whose module reads those tables follows every write
    for where, fn in page_queries():
        if _reads_not_records(Path(_module_of(fn).__file__ or "")):
            assert not session.reads_only_records(fn), where


def test_an_undeclared_module_follows_every_write() -> None:
    def stray(con: Any, viewer: Any) -> None:
        return None

    stray.__module__ = "tests.nowhere"  # a function whose module never declared anything
    assert session.reads_only_records(stray) is False


def test_one_run_reads_the_data_version_once_and_again_after_its_own_write(tmp_path: Path) -> None:
    """Inside `one_data_version` (app.py's signed-in run) the store's data version is read once, not once per
    cached query (each read is a round trip to a served store, issue 21); a write this process makes during the
    run moves its counters, and the next query reads the version again, so the run sees its own write."""
    from analytics.incidents import base as incident_base
    from analytics.store.database import Store
    from analytics.views import list_views
    from tests.conftest import StoreBuilder

    b = StoreBuilder(Store(tmp_path / "t.duckdb"))
    s = b.store
    reads: list[tuple[int, int]] = []
    plain = s.data_version

    def counted() -> tuple[int, int]:
        reads.append(plain())
        return reads[-1]

    s.data_version = counted  # type: ignore[method-assign]
    with session.one_data_version():
        for fn in (incident_base.filter_options, list_views, incident_base.store_totals):
            session.generation_for(fn, s)
        assert len(reads) == 1
        b.incident()  # a write through this store, during the run
        assert session.generation_for(incident_base.filter_options, s) == plain()[1]
        assert len(reads) == 2
    session.generation_for(list_views, s)  # outside a run: every query reads it
    session.generation_for(list_views, s)
    assert len(reads) == 4
    s.close()


def test_reference_reads_are_only_for_records_only_modules() -> None:
    """session.reference shares a result between viewers: refused for a function whose module may read
    assessments, saved views or the audit log (or says nothing), whatever it is."""
    from analytics.views import list_views

    with pytest.raises(ValueError, match="records-only"):
        session.reference(list_views)


def _counted(module: str, calls: list[str]) -> Callable[..., Any]:
    """A read that records who computed it, as if it lived in `module` (whose declaration then applies)."""

    def read(con: Any, viewer: Any, question: str) -> tuple[int, str]:
        calls.append(viewer.email)
        row = con.execute(
            "select count(*) from incidents i where " + visible_sql(viewer)[0], visible_sql(viewer)[1]
        ).fetchone()
        return int(row[0]), question

    read.__module__ = module
    read.__qualname__ = f"counted_read_{len(calls)}_{module.replace('.', '_')}"
    return read


def _ask(viewer: Any, fn: Callable[..., Any], question: str) -> Any:
    import streamlit as st

    st.session_state["viewer"] = viewer
    return session.query(fn, question)


def test_colleagues_with_the_same_access_share_a_records_read_and_nobody_else_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A records-only read is computed once for everyone in one audience (institute, role, the TLP:RED records
    naming them); someone named on a RED record, another institute or another role gets their own; a read that
    is not records-only is never shared between people."""
    from analytics.access.viewer import Viewer
    from analytics.store.database import Store
    from tests.conftest import StoreBuilder

    db = tmp_path / "share.duckdb"
    b = StoreBuilder(Store(db))
    b.incident()
    b.incident(tlp="RED", named_recipients=["analyst@uk.example"])
    b.store.close()
    monkeypatch.setenv("THREAT_DB", str(db))
    priya = Viewer("analyst@uk.example", "Priya Shah", "UK", "analyst")  # named on the RED incident
    ana = Viewer("ana@uk.example", "Ana", "UK", "analyst")
    ben = Viewer("ben@uk.example", "Ben", "UK", "analyst")
    lead = Viewer("lead@uk.example", "Tom", "UK", "lead")
    au = Viewer("analyst@au.example", "Liam", "AU", "analyst")

    calls: list[str] = []
    records = _counted("analytics.incidents.base", calls)
    assert session.reads_only_records(records)
    assert _ask(ana, records, "q1") == (1, "q1")
    assert _ask(ben, records, "q1") == (1, "q1")  # Ana's computation
    assert calls == ["ana@uk.example"]
    assert _ask(priya, records, "q1") == (2, "q1")  # she sees the RED incident: her own
    assert _ask(lead, records, "q1") == (1, "q1")
    assert _ask(au, records, "q1") == (1, "q1")
    assert _ask(ben, records, "q2") == (1, "q2")  # another question: computed
    assert calls == [
        "ana@uk.example",
        "analyst@uk.example",
        "lead@uk.example",
        "analyst@au.example",
        "ben@uk.example",
    ]

    personal: list[str] = []
    other = _counted("analytics.views", personal)  # not records-only: may read what is someone's own
    assert not session.reads_only_records(other)
    _ask(ana, other, "q1")
    _ask(ben, other, "q1")
    _ask(ana, other, "q1")
    assert personal == ["ana@uk.example", "ben@uk.example"]
    session.store().close()


def _ana_and_ben(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any, Any]:
    """The app's store (THREAT_DB) holding one GREEN incident, and two UK analysts named on nothing."""
    from analytics.access.viewer import Viewer
    from analytics.store.database import Store
    from tests.conftest import StoreBuilder

    db = tmp_path / "colleagues.duckdb"
    Store(db).close()
    monkeypatch.setenv("THREAT_DB", str(db))
    b = StoreBuilder(session.store())
    b.incident()
    return (
        b,
        Viewer("ana@uk.example", "Ana", "UK", "analyst"),
        Viewer("ben@uk.example", "Ben", "UK", "analyst"),
    )


def test_being_named_on_a_red_record_moves_someone_out_of_the_shared_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that names Ben on a TLP:RED record changes the records' version, and with it his audience: his
    next read is his own and shows the record, while Ana's still does not."""
    b, ana, ben = _ana_and_ben(tmp_path, monkeypatch)
    calls: list[str] = []
    records = _counted("analytics.incidents.base", calls)
    assert _ask(ana, records, "q") == (1, "q")
    assert _ask(ben, records, "q") == (1, "q")
    b.incident(tlp="RED", named_recipients=["ben@uk.example"])
    assert _ask(ben, records, "q") == (2, "q")
    assert _ask(ana, records, "q") == (1, "q")
    assert calls == ["ana@uk.example", "ben@uk.example", "ana@uk.example"]
    session.store().close()


def test_a_read_bound_for_later_runs_outside_the_script_cached_for_the_audience(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`session.later` (what an export button builds on click, in Streamlit's worker thread with no session
    state): bound to the person signed in when the page ran, shared with colleagues of the same access as a
    page's read is, and keyed by the data version when it runs, so a write in between is seen."""
    from concurrent.futures import ThreadPoolExecutor

    import streamlit as st

    b, ana, ben = _ana_and_ben(tmp_path, monkeypatch)
    calls: list[str] = []
    records = _counted("analytics.incidents.base", calls)
    st.session_state["viewer"] = ana
    for_ana = session.later(records, "q")
    st.session_state["viewer"] = ben
    for_ben = session.later(records, "q")
    del st.session_state["viewer"]
    with ThreadPoolExecutor(1) as worker:
        assert worker.submit(for_ana).result() == (1, "q")
        assert worker.submit(for_ben).result() == (1, "q")  # Ana's computation
        assert calls == ["ana@uk.example"]
        b.incident()
        assert worker.submit(for_ben).result() == (2, "q")  # the records moved: read again
    assert calls == ["ana@uk.example", "ben@uk.example"]
    session.store().close()


PERSONAL = re.compile(r"\b(viewer|v)\.(email|name|label)\b")


def test_records_only_page_queries_use_no_personal_detail_of_the_viewer() -> None:
    """What lets colleagues share a records-only read (session.query keys it by their audience): the read may
    use the viewer through the markings SQL, their institute and their role, never their email, name or label
    directly (a result built from those would be served to a colleague). Writes in such modules may, and are
    never page queries."""
    import inspect

    checked = 0
    for where, fn in page_queries():
        if session.reads_only_records(fn):
            checked += 1
            for called in _analytics_functions_called_by(fn):
                assert not PERSONAL.search(inspect.getsource(called)), f"{where}: {called.__qualname__}"
    assert checked >= 15
    assert PERSONAL.search("audit.record(con, viewer.email, ...)")  # the pattern can see one
    # The scan follows what a read calls: rows_behind's SQL lives in chart_image's functions.
    from analytics.export import chart_image
    from analytics.export.rows_behind import rows_behind

    assert chart_image.red_recipients in set(_analytics_functions_called_by(rows_behind))


def _analytics_functions_called_by(fn: Callable[..., Any], depth: int = 3) -> Iterator[Callable[..., Any]]:
    """`fn` and the analytics functions it calls by name or through a module, `depth` calls deep. The markings
    (analytics.access) are left out: they use the email for TLP:RED rows, which the audience accounts for."""
    import inspect
    import textwrap

    seen: set[Any] = set()
    stack = [(fn, 0)]
    while stack:
        f, d = stack.pop()
        if f in seen:
            continue
        seen.add(f)
        yield f
        if d >= depth:
            continue
        for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(f)))):
            if not isinstance(node, ast.Call):
                continue
            target: Any = None
            if isinstance(node.func, ast.Name):
                target = f.__globals__.get(node.func.id)
            elif isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
                owner = f.__globals__.get(node.func.value.id)
                target = getattr(owner, node.func.attr, None) if isinstance(owner, ModuleType) else None
            module = getattr(target, "__module__", "") or ""
            if (
                inspect.isfunction(target)
                and module.startswith("analytics.")
                and not module.startswith("analytics.access")
            ):
                stack.append((target, d + 1))


@pytest.mark.parametrize("moment", ["while the audience is read", "while the result is computed"])
def test_a_red_naming_committed_mid_read_is_never_served_to_colleagues(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moment: str
) -> None:
    """An import names Ben on a TLP:RED record just as his question is being answered. His answer may show the
    record (it is his), but it was computed under the old version's audience key, where Ana (never named) would
    find it: it must be neither cached nor shared. Ana, asking next, sees only what she may."""
    from analytics.access.audience import Audience

    b, ana, ben = _ana_and_ben(tmp_path, monkeypatch)
    fired: list[str] = []

    def name_ben_once() -> None:
        if not fired:
            fired.append(moment)
            b.incident(tlp="RED", named_recipients=["ben@uk.example"])

    calls: list[str] = []
    plain = _counted("analytics.incidents.base", calls)
    read = plain
    if moment == "while the audience is read":
        real = session.audience_of

        def racing(con: Any, viewer: Any) -> Any:
            found = real(con, viewer)
            if viewer.email == "ben@uk.example":
                name_ben_once()
            return found

        monkeypatch.setattr(session, "audience_of", racing)
    else:

        def read(con: Any, viewer: Any, question: str) -> tuple[int, str]:
            if viewer.email == "ben@uk.example":
                name_ben_once()
            result: tuple[int, str] = plain(con, viewer, question)
            return result

        read.__module__, read.__qualname__ = plain.__module__, plain.__qualname__

    before = session.store().data_version()[1]
    with session.one_data_version():
        assert _ask(ben, read, "q") == (2, "q")  # the store as it is now: his RED record included
    assert fired == [moment]
    # What a colleague's run that read the version before the write asks (on a served store another
    # replica's write does not move this process's counters, so such a run keeps the old version): the old
    # version holds no entry for the shared audience: it is computed afresh, and refused because the records
    # have moved on since (in query() the person is then answered uncached).
    key = f"{read.__module__}.{read.__qualname__}"
    old_key = (str(session.store().path), before)
    with pytest.raises(session._RecordsMoved):
        session._cached(key, Audience("UK", "analyst", ""), old_key, ("q",), (), ana)
    with session.one_data_version():
        assert _ask(ana, read, "q") == (1, "q")
    with session.one_data_version():
        assert _ask(ben, read, "q") == (2, "q")
    session.store().close()
