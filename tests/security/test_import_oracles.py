"""Issue 22 findings 4 and 5: an import reveals nothing about records the importer may not see.

An id (given, derived from a row's content, an evaluation run id, a STIX id or `x_ukau_id`) that belongs to a
hidden record behaves exactly like one that does not exist: the same problems, counts, warnings and outcome, and
the hidden record is neither changed nor annotated (a note naming it never lands on it).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
from typing import Any

from analytics.ingest.stix.commit import import_stix_bytes
from analytics.ingest.tabular.commit import commit
from analytics.ingest.tabular.mapping import auto_mapping, detect_target
from analytics.ingest.tabular.read import read_tabular
from analytics.ingest.tabular.validate import validate
from analytics.stix_vocabulary import TLP2_CREATED, TLP2_EXTENSION, TLP2_IDS, record_stix_id
from tests.conftest import AU_ANALYST
from tests.security.canary import plant_canaries


def _csv(header: list[str], rows: list[list[Any]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode()


def _outcome(store: Any, data: bytes, name: str, secret: str, stand_in: str) -> tuple[Any, ...]:
    """Everything the importer learns from validating and committing a file, with `secret` written as
    `stand_in`, so two imports that differ only in that string can be compared."""
    tf = read_tabular(name, data)
    target = detect_target(tf.columns)
    plan = validate(
        store.cursor(),
        tf,
        target=target,
        mapping=auto_mapping(tf.columns, target),
        institute="AU",
        tlp=None,
        releasable=None,
        viewer=AU_ANALYST,
    )
    problems = [p.text() for p in plan.problems]
    try:
        report = commit(store.store, plan, actor=AU_ANALYST.email, viewer=AU_ANALYST)
        result: tuple[Any, ...] = ("ok", report.added, report.updated, report.rejected, report.warnings)
    except Exception as e:
        result = ("refused", type(e).__name__, str(e))
    return tuple(json.loads(json.dumps([problems, result], default=str).replace(secret, stand_in)))


HEADER = ["id", "title", "occurred_on", "category", "severity", "tlp", "releasable_to"]


def test_a_hidden_incident_id_behaves_like_a_missing_one(store) -> None:
    canaries = plant_canaries(store, evals=False)
    hidden = canaries["strict-uk"].incident_id  # UK AMBER+STRICT: AU may not see it
    missing = "CANARY-NOTHERE-UK"
    got = [
        _outcome(
            store,
            _csv(HEADER, [[i, "Mine", "2026-05-01", "Jailbreak", "3", "GREEN", "UK;AU"]]),
            f"f{k}.csv",
            i,
            "ID",
        )
        for k, i in enumerate((hidden, missing))
    ]
    assert got[0] == got[1]
    assert got[0][1][0] == "ok"
    row = store.cursor().execute("select title, originator from incidents where id = ?", [hidden]).fetchall()
    assert row == [(f"Canary title {canaries['strict-uk'].token}", "UK")]


def test_a_hidden_evaluation_run_id_behaves_like_a_missing_one(store) -> None:
    canaries = plant_canaries(store)
    hidden = canaries["strict-uk"].run_id
    missing = "CANARY-RUN-NOTHERE"
    got = []
    for k, rid in enumerate((hidden, missing)):
        rows = [
            {
                "run_id": rid,
                "model": "M",
                "benchmark": "B",
                "score": 0.5,
                "tlp": "GREEN",
                "releasable_to": "UK;AU",
            }
        ]
        got.append(_outcome(store, json.dumps(rows).encode(), f"e{k}.json", rid, "RID"))
    assert got[0] == got[1]
    assert got[0][1][0] == "ok"


def test_a_derived_id_never_reveals_a_hidden_record_with_the_same_content(store) -> None:
    """Rows without an id used to get one derived from title, date and category: an AU record hidden from this
    AU analyst (TLP:RED for others) with the same content was announced as 'already in the store'."""
    basis = "AU|Hidden twin|2026-05-01|Jailbreak"
    twin_id = f"AU-IMP-{hashlib.sha1(basis.encode()).hexdigest()[:12]}"
    store.incident(
        id=twin_id,
        title="Hidden twin",
        originator="AU",
        category="Jailbreak",
        tlp="RED",
        releasable_to=["AU"],
        named_recipients=["lead@au.example"],
        occurred_on=__import__("datetime").date(2026, 5, 1),
    )
    header = ["title", "occurred_on", "category", "severity", "tlp", "releasable_to"]
    got = [
        _outcome(
            store, _csv(header, [[t, "2026-05-01", "Jailbreak", "3", "GREEN", "UK;AU"]]), f"d{k}.csv", t, "T"
        )
        for k, t in enumerate(("Hidden twin", "Lonely row"))
    ]
    assert got[0] == got[1]
    assert got[0][1][0] == "ok"
    assert store.cursor().execute("select title, tlp from incidents where id = ?", [twin_id]).fetchall() == [
        ("Hidden twin", "RED")
    ]


# -- STIX -------------------------------------------------------------------------------------------------


def _marking() -> dict[str, Any]:
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": TLP2_IDS["GREEN"],
        "created": TLP2_CREATED,
        "name": "TLP:GREEN",
        "extensions": {TLP2_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": "green"}},
    }


def _incident(stix_id: str, **kw: Any) -> dict[str, Any]:
    obj = {
        "type": "incident",
        "spec_version": "2.1",
        "id": stix_id,
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2027-01-01T00:00:00.000Z",
        "name": "From AU",
        "labels": ["jailbreak"],
        "object_marking_refs": [TLP2_IDS["GREEN"]],
        "x_ukau_severity": 2,
        "x_ukau_category": "Jailbreak",
        "x_ukau_releasable_to": ["UK", "AU"],
    }
    obj.update(kw)
    return obj


def _note(target: str) -> dict[str, Any]:
    return {
        "type": "note",
        "spec_version": "2.1",
        "id": f"note--{uuid.uuid4()}",
        "created": "2027-01-01T00:00:00.000Z",
        "modified": "2027-01-01T00:00:00.000Z",
        "content": "AU note",
        "object_refs": [target],
        "object_marking_refs": [TLP2_IDS["GREEN"]],
    }


def _stix_outcome(store: Any, objects: list[dict[str, Any]], secrets: dict[str, str]) -> tuple[Any, ...]:
    data = json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [_marking(), *objects]})
    try:
        r = import_stix_bytes(
            store.store,
            "b.json",
            data.encode(),
            actor="",
            institute=None,
            tlp=None,
            releasable=None,
            viewer=AU_ANALYST,
        )
        result: Any = ["ok", r.added, r.updated, r.unchanged, r.rejected, r.warnings, r.details.get("notes")]
    except Exception as e:
        result = ["refused", type(e).__name__, str(e)]
    text = json.dumps(result, default=str)
    for secret, stand_in in secrets.items():
        text = text.replace(secret, stand_in)
    return tuple(json.loads(text))


def _plant_stix_identity(store: Any, record_id: str) -> str:
    stix_id = record_stix_id(record_id)
    with store.store.transaction() as con:
        con.execute(
            "insert into stix_records (stix_id, record_id, object_type, created, modified, origin) values "
            "(?, ?, 'incident', timestamp '2026-01-01', timestamp '2026-01-01', 'UK')",
            [stix_id, record_id],
        )
    return stix_id


def test_a_hidden_stix_id_behaves_like_a_missing_one(store) -> None:
    canaries = plant_canaries(store, evals=False)
    hidden = canaries["strict-uk"].incident_id
    taken = _plant_stix_identity(store, hidden)
    free = f"incident--{uuid.uuid4()}"
    got = [_stix_outcome(store, [_incident(s)], {s: "SID"}) for s in (taken, free)]
    assert got[0] == got[1]
    assert got[0][0] == "ok" and got[0][1] == 1
    assert store.cursor().execute("select title from incidents where id = ?", [hidden]).fetchall() == [
        (f"Canary title {canaries['strict-uk'].token}",)
    ]


def test_a_hidden_x_ukau_id_behaves_like_a_missing_one_and_takes_no_note(store) -> None:
    canaries = plant_canaries(store, evals=False)
    hidden = canaries["strict-uk"].incident_id
    missing = "CANARY-NOTHERE-UK"
    got = []
    for rid in (hidden, missing):
        sid = f"incident--{uuid.uuid4()}"
        note = _note(sid)
        got.append(
            _stix_outcome(
                store, [_incident(sid, x_ukau_id=rid), note], {rid: "RID", sid: "SID", note["id"]: "N"}
            )
        )
    assert got[0] == got[1]
    # the note named the hidden record through x_ukau_id: it must not be attached to it
    assert store.cursor().execute(
        "select count(*) from incident_notes where incident_id = ?", [hidden]
    ).fetchall() == [(0,)]
    assert store.cursor().execute("select title from incidents where id = ?", [hidden]).fetchall() == [
        (f"Canary title {canaries['strict-uk'].token}",)
    ]


def test_a_note_about_a_hidden_stix_record_is_refused_like_one_about_a_missing_record(store) -> None:
    canaries = plant_canaries(store, evals=False)
    taken = _plant_stix_identity(store, canaries["strict-uk"].incident_id)
    free = f"incident--{uuid.uuid4()}"
    got = []
    for target in (taken, free):
        note = _note(target)
        got.append(_stix_outcome(store, [note], {target: "T", note["id"]: "N"}))
    assert got[0] == got[1]
    assert got[0][0] == "refused"
    assert store.cursor().execute("select count(*) from incident_notes").fetchall() == [(0,)]


def test_a_note_may_not_be_added_to_a_visible_record_of_the_other_institute(store) -> None:
    canaries = plant_canaries(store, evals=False)
    shared = canaries["shared"].incident_id  # UK record AU can see
    target = _plant_stix_identity(store, shared)
    note = _note(target)
    got = _stix_outcome(store, [note], {})
    assert got[0] == "refused" and note["id"] in got[2]
    assert store.cursor().execute("select count(*) from incident_notes").fetchall() == [(0,)]
