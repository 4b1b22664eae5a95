"""The audit log holds no record content: every audited action, run with marked canary text in every free-text
input it takes (titles, notes, rationales, benchmark and file names, search text, filter values, comments), leaves
none of that text in any column of `audit_log`.

The administrators who read the log (JOINT staff, AMBER, releasable to AU and UK) are not cleared for TLP:RED or
AMBER+STRICT records, so the log may hold only people, actions, ids, field names, markings and counts.

`SWEEPS` names one scenario per action; `test_every_audited_action_has_a_sweep` compares it with
`analytics.store.audit.ACTIONS`, so an action added without a sweep here fails the suite.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import pytest

from analytics import views
from analytics.access.markings import Marking
from analytics.access.viewer import AccessDenied
from analytics.accounts import identity, users
from analytics.assessments.model import AssessmentDraft, EditConflict, EvidenceRef, JudgementDraft
from analytics.assessments.reads import get_assessment
from analytics.assessments.workflow import (
    add_comment,
    create_assessment,
    return_for_changes,
    save_version,
    sign_off,
    submit_for_review,
)
from analytics.evals import queries as evals
from analytics.export import chart_image as chart_export
from analytics.export import partners
from analytics.export import stix as stix_export
from analytics.export import table as table_export
from analytics.export.briefing import builder as briefing_builder
from analytics.filters import Filters
from analytics.ingest import aiid, atlas, avid, garak, inbox, jailbreakbench
from analytics.ingest import history as imports
from analytics.ingest.stix.commit import import_stix, import_stix_bytes
from analytics.ingest.tabular.commit import import_tabular
from analytics.links import queries as links
from analytics.matrix import queries as matrix
from analytics.store import audit, backup
from tests.analytics.accounts.test_identity import navigation_mode  # noqa: F401 - autouse for the admin page run
from tests.analytics.matrix.test_matrix import seed
from tests.conftest import (
    ADMIN,
    AU_ANALYST,
    AU_LEAD,
    ROOT,
    TODAY,
    UK_ANALYST,
    UK_LEAD,
    UK_POLICY,
    StoreBuilder,
)
from tests.security.canary import Canary, plant_canaries

SHARED = ROOT.parent / "shared" / "data"


class Sweep:
    """What one scenario needs: the store, the canaries, and free text carrying the marked ones."""

    def __init__(self, store: StoreBuilder, canaries: dict[str, Canary], tmp: Path) -> None:
        self.store = store
        self.canaries = canaries
        self.tmp = tmp
        red, strict = canaries["red-named"].token, canaries["strict-uk"].token
        self.word = red  # a single token: what an id-shaped field would let through
        self.text = f"Canary {red} and {strict}"  # free text with spaces
        self.bench = f"Bench-{canaries['red-named'].token}"  # a RED run's benchmark, named by the canary

    def tx(self, write: Callable[[Any], object]) -> object:
        with self.store.store.transaction() as con:
            return write(con)

    def judgement(self, evidence: tuple[EvidenceRef, ...]) -> JudgementDraft:
        return JudgementDraft(
            f"{self.text} will rise.",
            term="likely",
            confidence="moderate",
            reasoning=f"Because {self.text}.",
            evidence=evidence,
        )

    def draft(self) -> AssessmentDraft:
        """A draft citing the RED canary incident (the UK analyst is a named recipient), canary text throughout."""
        inc = EvidenceRef("incident", self.canaries["red-named"].incident_id)
        return AssessmentDraft(
            title=f"{self.text} title",
            question=f"Will {self.text} rise?",
            bluf=f"{self.text} is likely to rise.",
            judgements=(self.judgement((inc,)),),
            assumptions=(f"{self.text} assumption",),
            alternatives=(f"{self.text} alternative",),
            indicators=(f"{self.text} indicator",),
        )

    def joint_draft(self) -> AssessmentDraft:
        """A draft both institutes' leads may read (cites the shared GREEN canary), canary text in every field."""
        inc = EvidenceRef("incident", self.canaries["shared"].incident_id)
        d = self.draft()
        return AssessmentDraft(
            title=d.title,
            question=d.question,
            bluf=d.bluf,
            judgements=(self.judgement((inc,)),),
            assumptions=d.assumptions,
            alternatives=d.alternatives,
            indicators=d.indicators,
        )

    def assessment(self) -> int:
        return create_assessment(self.store.store, UK_ANALYST, self.joint_draft(), today=TODAY)

    def in_review(self) -> int:
        aid = self.assessment()
        submit_for_review(self.store.store, UK_ANALYST, aid, 1)
        return aid

    def approved(self) -> int:
        aid = self.in_review()
        sign_off(self.store.store, UK_LEAD, aid, 1)
        sign_off(self.store.store, AU_LEAD, aid, 1)
        return aid

    def csv_file(self) -> Path:
        path = self.tmp / f"{self.word} partner feed.csv"
        path.write_text(
            "id,title,summary,occurred_on,category,severity\n"
            f"P-1,{self.text},{self.text} summary,2026-10-01,Jailbreak,3\n"
        )
        return path

    def stix_file(self) -> Path:
        path = self.tmp / f"{self.word} bundle.json"
        bundle = {
            "type": "bundle",
            "id": "bundle--6f9a8b8e-2a44-4c55-9d1e-0f8a3b1c2d3e",
            "objects": [
                {
                    "type": "incident",
                    "spec_version": "2.1",
                    "id": "incident--0c7b5b88-8e0e-4ad5-a1f2-2d0a4a6b9c11",
                    "created": "2026-03-01T09:00:00.000Z",
                    "modified": "2026-03-01T09:00:00.000Z",
                    "name": self.text,
                    "description": f"{self.text} description",
                    "x_ukau_category": "Jailbreak",
                }
            ],
        }
        path.write_text(json.dumps(bundle))
        return path


def _refused(s: Sweep) -> None:
    with pytest.raises(AccessDenied):
        s.tx(lambda con: evals.set_threshold(con, UK_POLICY, s.bench, 0.5, s.text))
    with pytest.raises(AccessDenied):
        s.tx(lambda con: links.add_mapping(con, UK_POLICY, s.bench, "AML.T0051", s.text))
    with pytest.raises(AccessDenied):
        path = s.stix_file()
        import_stix_bytes(s.store.store, path.name, path.read_bytes(), actor=UK_POLICY.email,
                               institute="UK", tlp="AMBER", releasable=["UK"], viewer=UK_POLICY)  # fmt: skip
    with pytest.raises(AccessDenied):
        s.tx(lambda con: views.save_view(con, UK_POLICY, s.text, "pages/explorer.py", Filters(text=s.text)))


def _search_audit(s: Sweep, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("THREAT_DB", str(s.store.store.path))
    monkeypatch.delenv("THREAT_DEMO_MODE", raising=False)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.user = {"is_logged_in": True, "email": ADMIN.email}
    at.run()
    at.switch_page("pages/admin.py").run()
    at.text_input(key="audit_text").set_value(s.text)
    at.text_input(key="audit_person").set_value(s.word)
    at.button(key="audit_submit").click().run()
    assert not at.exception, [e.message for e in at.exception]


def _import_csv(s: Sweep) -> None:
    import_tabular(
        s.store.store, s.csv_file(), actor=UK_ANALYST.email, institute="UK", tlp="AMBER", releasable=["UK"]
    )


def _import_stix(s: Sweep) -> None:
    import_stix(s.store.store, s.stix_file(), actor=UK_ANALYST.email, institute="UK", tlp="AMBER",
                     releasable=["UK"])  # fmt: skip


def _undo(s: Sweep) -> None:
    _import_csv(s)
    batch = (
        s.store.cursor().execute("select batch_id from import_batches order by 1 desc limit 1").fetchone()[0]
    )
    imports.undo_batch(s.store.store, batch, actor=UK_ANALYST.email, viewer=UK_ANALYST)


def _inbox(s: Sweep, outcome: str) -> None:
    source = s.csv_file() if outcome == "imported" else s.tmp / f"{s.word} broken.csv"
    if outcome != "imported":
        source.write_text(f"nothing,{s.text}\n\x00{s.text}\n")
    inbox.hand_over(s.store.store.path, source, kind="csv", actor=UK_ANALYST.email, institute="UK", tlp="AMBER",
                    releasable=["UK"])  # fmt: skip
    results = inbox.process_inbox(s.store.store)
    assert [r.outcome for r in results] == [outcome]


def _import_epoch(s: Sweep) -> None:
    """An Epoch CSV whose model names carry the canary, in a folder named by it."""
    from analytics.ingest.epoch import import_epoch

    src = SHARED / "epoch-benchmarks" / "cybench_external.csv"
    if not src.exists():
        pytest.skip("no Epoch export in ../shared/data")
    dst = s.tmp / f"{s.word} epoch" / "cybench_external.csv"
    dst.parent.mkdir()
    dst.write_text(src.read_text().replace("claude-opus-4-6_unknown", f"claude-{s.word}"))
    import_epoch(s.store.store, dst.parent, actor=UK_ANALYST.email)


def _import_inspect(s: Sweep) -> None:
    """A real Inspect log of a model named by the canary, in a folder named by it."""
    from analytics.ingest.inspect_logs import import_inspect
    from tests.analytics.ingest.test_ingest_inspect import run_eval

    log = run_eval(s.tmp / f"{s.word} logs", s.word.lower())
    import_inspect(s.store.store, Path(log.location), actor=UK_ANALYST.email, institute="UK", tlp="AMBER",
                   releasable=["UK"])  # fmt: skip


def _import_public(s: Sweep, kind: str) -> None:
    if kind == "atlas":
        src = SHARED / "atlas" / "ATLAS.yaml"
        if not src.exists():
            pytest.skip("no ATLAS release in ../shared/data")
        dst = s.tmp / f"{s.word} ATLAS.yaml"
        shutil.copy(src, dst)
        atlas.import_atlas(s.store.store, dst, actor=UK_ANALYST.email)
    elif kind == "aiid":
        src = SHARED / "aiid"
        if not src.exists():
            pytest.skip("no AIID snapshot in ../shared/data")
        dst = s.tmp / f"{s.word} aiid"
        shutil.copytree(src, dst)
        aiid.import_aiid(s.store.store, dst, actor=UK_ANALYST.email)
    else:
        _import_public_evidence(s, kind)


def _import_public_evidence(s: Sweep, kind: str) -> None:
    """AVID reports, a garak report, JailbreakBench artifacts: copied under a canary name and imported."""
    src = {
        "avid": SHARED / "avid" / "reports" / "2022",
        "garak": SHARED / "garak" / "reports" / "test.report.jsonl",
        "jailbreakbench": SHARED / "jailbreakbench" / "attack-artifacts" / "test-artifact",
    }[kind]
    if not src.exists():
        pytest.skip(f"no {kind} data in ../shared/data")
    if kind == "garak":
        dst = s.tmp / f"{s.word}.report.jsonl"
        shutil.copy(src, dst)
        garak.import_garak(s.store.store, dst, actor=UK_ANALYST.email)
    elif kind == "avid":
        dst = s.tmp / f"{s.word} avid"
        shutil.copytree(src, dst)
        avid.import_avid(s.store.store, dst, actor=UK_ANALYST.email)
    else:
        dst = s.tmp / f"{s.word} jbb" / "test-artifact"
        shutil.copytree(src, dst)
        jailbreakbench.import_jailbreakbench(s.store.store, dst.parent, actor=UK_ANALYST.email)


def _backup(s: Sweep) -> None:
    out = s.tmp / f"{s.word} backups"
    backup.backup_store(s.store.store, out, actor=f"{ADMIN.email}")


def _restore(s: Sweep) -> None:
    result = backup.backup_store(s.store.store, s.tmp / "backups", actor=ADMIN.email)
    named = s.tmp / f"{s.word} copy.duckdb"
    shutil.copy(result.path, named)
    if Path(result.manifest).exists():
        shutil.copy(
            result.manifest,
            s.tmp / f"{named.name}{Path(result.manifest).name[len(Path(result.path).name) :]}",
        )
    target = s.tmp / "restored" / f"{s.word}.duckdb"
    target.parent.mkdir()
    backup.restore(named, target, actor=ADMIN.email)
    s.extra_stores.append(target)  # type: ignore[attr-defined]


def _exports(s: Sweep) -> None:
    f = Filters(text=s.text, categories=(s.word,), sectors=(s.text,))
    table_export.incidents_csv(
        s.store.store, UK_ANALYST, f, TODAY, "Title", False, at_least=Marking("RED", ("UK",))
    )
    data = matrix.recompute(s.store.cursor(), UK_ANALYST, f, TODAY).data
    table_export.matrix_csv(
        s.store.store, UK_ANALYST, data, {}, Marking("RED", ("UK",)), f, TODAY, "incidents"
    )
    fig = go.Figure(go.Bar(x=[s.text], y=[1]), layout={"title": {"text": s.text}})
    chart_export.export_and_record(
        s.store.store, UK_ANALYST, fig, Marking("RED", ("UK",)), fmt="svg", preset="slide", filters=f,
        today=TODAY, obj="chart:xp_trend",
    )  # fmt: skip
    briefing_builder.export_page_slide(
        s.store.store, UK_ANALYST, title=s.text, figures=[(fig, Marking("RED", ("UK",)))], filters=f,
        today=TODAY, page="explorer",
    )  # fmt: skip
    aid = s.assessment()
    briefing_builder.export_briefing(
        s.store.store,
        UK_ANALYST,
        "md",
        title=s.text,
        chart_keys=(),
        current=f,
        today=TODAY,
        assessment_id=aid,
    )


def _conflict(s: Sweep) -> None:
    aid = s.assessment()
    base = get_assessment(s.store.cursor(), UK_ANALYST, aid).to_draft()
    save_version(s.store.store, UK_ANALYST, aid, s.joint_draft(), 1)
    mine = dataclasses.replace(base, title=f"{s.text} mine", bluf=f"{s.text} mine")
    with pytest.raises(EditConflict):
        save_version(s.store.store, AU_ANALYST, aid, mine, 1)


def _threshold(s: Sweep, clear: bool) -> None:
    # the RED canary run names the UK analyst as a recipient: they may set its benchmark's threshold
    s.tx(lambda con: evals.set_threshold(con, UK_ANALYST, s.bench, 0.5, s.text))
    if clear:
        assert s.tx(lambda con: evals.clear_threshold(con, UK_ANALYST, s.bench))


def _map(s: Sweep, remove: bool) -> None:
    s.tx(lambda con: links.add_mapping(con, UK_ANALYST, s.bench, "AML.T0051", s.text))
    if remove:
        s.tx(lambda con: links.remove_mapping(con, UK_ANALYST, s.bench, "AML.T0051"))


def _taxii_sync(s: Sweep) -> None:
    """A sync that cannot reach its server (nothing listens on the port) is audited as failed, with counts only
    (the full exchange runs in tests/analytics/sync/test_taxii_sync.py)."""
    from analytics.sync import taxii
    from analytics.sync.config import PartnerTaxii
    from tests.servers import free_port

    cfg = PartnerTaxii("AU", f"http://127.0.0.1:{free_port()}/{s.word}/", s.word, s.word, "u", s.word)
    with pytest.raises(taxii.SyncFailed):
        taxii.sync_partner(s.store.store, "AU", actor="cli", config=cfg)


SWEEPS: dict[str, Callable[..., None]] = {
    "sign-in": lambda s: identity.record_sign_in(s.store.store, UK_ANALYST, "demo"),
    "sign-in refused": lambda s: identity.record_refused_sign_in(
        s.store.store, "stranger@uk.example", "oidc"
    ),
    "refused": _refused,
    "search audit": _search_audit,
    "enrol user": lambda s: users.enrol(
        s.store.store, ADMIN, email="new@uk.example", name=s.text, institute="UK", role="analyst"
    ),
    "disable user": lambda s: users.set_active(s.store.store, ADMIN, "analyst@au.example", False),
    "enable user": lambda s: (
        users.set_active(s.store.store, ADMIN, "analyst@au.example", False),
        users.set_active(s.store.store, ADMIN, "analyst@au.example", True),
    ),
    "change role": lambda s: users.change_role(s.store.store, ADMIN, "analyst@au.example", "lead"),
    "import": lambda s: (_import_csv(s), _import_stix(s)),
    "import aiid": lambda s: _import_public(s, "aiid"),
    "import atlas": lambda s: _import_public(s, "atlas"),
    "import epoch": lambda s: _import_epoch(s),
    "import inspect": lambda s: _import_inspect(s),
    "import avid": lambda s: _import_public(s, "avid"),
    "import garak": lambda s: _import_public(s, "garak"),
    "import jailbreakbench": lambda s: _import_public(s, "jailbreakbench"),
    "undo import": _undo,
    "inbox imported": lambda s: _inbox(s, "imported"),
    "inbox refused": lambda s: _inbox(s, "refused"),
    "backup": _backup,
    "restore": _restore,
    "export": _exports,
    "export stix": lambda s: stix_export.export_bytes(s.store.store, "AU", UK_ANALYST),
    # the RED canary names the UK analyst: handed to them, one entry per record
    "export red to person": lambda s: partners.export_for_person(
        s.store.store, UK_ANALYST.email, actor="cli"
    ),
    "set export ceiling": lambda s: partners.set_ceiling(
        s.store.store, "AU", "GREEN", actor="x", viewer=ADMIN
    ),
    "taxii sync": _taxii_sync,
    "save view": lambda s: s.tx(
        lambda con: views.save_view(con, UK_ANALYST, s.text, "pages/explorer.py", Filters(text=s.text))
    ),
    "map benchmark": lambda s: _map(s, remove=False),
    "unmap benchmark": lambda s: _map(s, remove=True),
    "eval threshold set": lambda s: _threshold(s, clear=False),
    "eval threshold cleared": lambda s: _threshold(s, clear=True),
    "create assessment": lambda s: create_assessment(s.store.store, UK_ANALYST, s.draft(), today=TODAY),
    "save assessment": lambda s: save_version(s.store.store, UK_ANALYST, s.assessment(), s.joint_draft(), 1),
    "assessment save conflict": _conflict,
    "submit assessment": lambda s: s.in_review(),
    "sign off assessment": lambda s: s.approved(),
    "return assessment": lambda s: return_for_changes(s.store.store, UK_LEAD, s.in_review(), 1, s.text),
    "comment on assessment": lambda s: add_comment(
        s.store.store, AU_ANALYST, s.assessment(), 1, None, s.text
    ),
    "dissent on assessment": lambda s: add_comment(
        s.store.store, AU_LEAD, s.in_review(), 1, None, s.text, dissent=True
    ),
}
# sweeps that drive a page through AppTest take the monkeypatch fixture too
NEEDS_MONKEYPATCH = {"search audit"}


def test_every_audited_action_has_a_sweep() -> None:
    assert set(SWEEPS) == set(audit.ACTIONS), (
        f"actions without a sweep: {sorted(set(audit.ACTIONS) - set(SWEEPS))}; "
        f"sweeps of no action: {sorted(set(SWEEPS) - set(audit.ACTIONS))}"
    )


def _log(path: Path | None, store: StoreBuilder) -> list[tuple[Any, ...]]:
    if path is None:
        return store.cursor().execute("select * from audit_log order by id").fetchall()
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("select * from audit_log order by id").fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("action", sorted(SWEEPS))
def test_no_record_content_reaches_the_audit_log(
    action: str, store: StoreBuilder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    canaries = plant_canaries(store)
    seed(store)  # the ATLAS techniques a mapping names
    s = Sweep(store, canaries, tmp_path)
    s.extra_stores = []  # type: ignore[attr-defined]
    if action in NEEDS_MONKEYPATCH:
        SWEEPS[action](s, monkeypatch)
    else:
        SWEEPS[action](s)
    rows = _log(None, store) + [r for p in s.extra_stores for r in _log(p, store)]  # type: ignore[attr-defined]
    # the sweep really ran the action (so a missing entry cannot pass as "no content")
    assert action in {r[3] for r in rows}, f"{action!r} wrote no audit entry"
    blob = "\n".join(" ".join("" if v is None else str(v) for v in r) for r in rows).lower()
    leaked = {c.case for c in canaries.values() if c.token.lower() in blob}
    assert leaked == set(), f"{action!r}: canary text of {sorted(leaked)} in audit_log"


def test_free_text_is_refused_at_the_mechanism(store: StoreBuilder) -> None:
    """A future call site cannot write content: free text, unknown keys, nested objects and unknown actions are
    refused with a one-line error naming the action and key, and nothing is written."""
    bad: list[tuple[str, Any]] = [
        ("export", {"title": "Canary title"}),  # a key outside the allow-list
        ("export", {"kind": "a chart about Canary"}),  # free text where a vocabulary word belongs
        ("eval threshold set", {"note": "uplift line"}),
        ("save assessment", {"refused_text": {"title": "x"}}),
        ("map benchmark", {"technique": "AML.T0051 because of Canary"}),
        ("import", "import of secret.csv: 1 added"),  # a bare string detail
        ("made-up action", None),
    ]
    for action, detail in bad:
        with pytest.raises(audit.AuditContentError, match=r"audit"), store.store.transaction() as con:
            audit.record(con, "analyst@uk.example", action, "assessment:1", detail)
    assert store.cursor().execute("select count(*) from audit_log").fetchone()[0] == 0
    # names typed by people become opaque ids; anything not id-shaped in the object too
    with store.store.transaction() as con:
        audit.record(con, "a@uk.example", "eval threshold set", "benchmark:Secret Bench", {"new": 0.5})
        audit.record(con, "a@uk.example", "refused", "Secret Bench -> AML.T0051", {"action": "map benchmark"})
    objs = [r[0] for r in store.cursor().execute("select object from audit_log order by id").fetchall()]
    assert objs == [
        f"benchmark:{audit.opaque_id('secretbench')}",
        f"opaque:{audit.opaque_id('Secret Bench -> AML.T0051')}",
    ]
