"""`python -m analytics sync` end to end against a real TAXII 2.1 server: medallion (the OASIS reference server,
memory backend) on 127.0.0.1, with two collections (theirs to us, ours to them) behind Basic auth, driven by
taxii2-client. Records move both ways, a second sync moves nothing, and a refused page leaves the store as it
was before that page."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from taxii2client.v21 import Collection

from analytics.cli import main
from analytics.export.stix import build_bundle
from analytics.store.database import open_store
from analytics.sync import taxii
from analytics.sync.config import PartnerTaxii, partner_config
from tests.conftest import StoreBuilder
from tests.servers import HOST, free_port

USER, PASSWORD = "ukau-sync", "not-a-real-secret-4f1c"
THEIRS = "c1a9f6a2-7d3e-4a55-9a0b-0a1b2c3d4e01"  # the partner's collection we read (AU to us)
OURS = "c1a9f6a2-7d3e-4a55-9a0b-0a1b2c3d4e02"  # the collection we write to (us to AU)
MEDIA = "application/stix+json;version=2.1"
LAUNCHER = Path(__file__).with_name(
    "medallion_run.py"
)  # medallion as released, one upstream bug worked around


@dataclass
class Taxii:
    port: int

    @property
    def api_root(self) -> str:
        return f"http://{HOST}:{self.port}/api1/"

    def collection(self, cid: str) -> Collection:
        return Collection(f"{self.api_root}collections/{cid}/", user=USER, password=PASSWORD)

    def config(self, password: str = PASSWORD) -> PartnerTaxii:
        return PartnerTaxii("AU", self.api_root, THEIRS, OURS, USER, password)

    def objects(self, cid: str) -> list[dict[str, Any]]:
        """Every version of every object in the collection (TAXII returns only the latest unless asked)."""
        return list(self.collection(cid).get_objects(version="all").get("objects", []))

    def post(self, cid: str, objects: list[dict[str, Any]]) -> None:
        status = self.collection(cid).add_objects({"objects": objects})
        assert status.status == "complete"


def _server_data(port: int) -> dict[str, Any]:
    def collection(cid: str, title: str) -> dict[str, Any]:
        return {
            "id": cid,
            "title": title,
            "can_read": True,
            "can_write": True,
            "media_types": [MEDIA],
            "objects": [],
            "manifest": [],
        }

    return {
        "/discovery": {
            "title": "AU test TAXII server",
            "default": f"http://{HOST}:{port}/api1/",
            "api_roots": [f"http://{HOST}:{port}/api1/"],
        },
        "api1": {
            "information": {
                "title": "AU exchange",
                "versions": ["application/taxii+json;version=2.1"],
                "max_content_length": 10_000_000,
            },
            "status": [],
            "collections": [collection(THEIRS, "AU to UK-AU dashboard"), collection(OURS, "dashboard to AU")],
        },
    }


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Taxii]:
    """medallion on a free loopback port, in a subprocess; ready once its discovery endpoint answers."""
    port = free_port()
    data = tmp_path / "taxii-data.json"
    data.write_text(json.dumps(_server_data(port)))
    config = tmp_path / "medallion.json"
    config.write_text(
        json.dumps(
            {
                "backend": {
                    "module": "medallion.backends.memory_backend",
                    "module_class": "MemoryBackend",
                    "filename": str(data),
                },
                "users": {USER: PASSWORD},
                "taxii": {"max_page_size": 100},
            }
        )
    )
    log = (tmp_path / "medallion.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, str(LAUNCHER), "--host", HOST, "--port", str(port), str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_discovery(proc, port, tmp_path / "medallion.log")
        yield Taxii(port)
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def _wait_for_discovery(proc: subprocess.Popen[bytes], port: int, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    url = f"http://{HOST}:{port}/taxii2/"
    headers = {"Accept": "application/taxii+json;version=2.1"}
    while time.monotonic() < deadline:
        try:
            if requests.get(url, auth=(USER, PASSWORD), headers=headers, timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass  # not listening yet
        try:  # between two questions, wait for the other condition that ends the wait: the server exiting
            proc.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            continue
        raise AssertionError(f"medallion exited: {log.read_text()}")
    raise AssertionError(f"medallion did not answer on {url} within {timeout} s: {log.read_text()}")


@pytest.fixture
def ours(store: StoreBuilder) -> StoreBuilder:
    """The dashboard's store: what may go to AU, and what never may."""
    s = store
    s.incident(id="UK-GREEN", tlp="GREEN", techniques=["AML.T0051.000", "AML.T0024"])
    s.incident(id="UK-AMBER", tlp="AMBER", techniques=["AML.T0043"])
    s.incident(id="UK-RED", tlp="RED", named_recipients=["lead@au.example", "lead@uk.example"])
    s.incident(id="UK-STRICT", tlp="AMBER+STRICT")
    s.incident(id="UK-ONLY", tlp="GREEN", releasable_to=["UK"])
    return s


def partner_bundle(tmp_path: Path, numbers: range, *, name: str = "theirs") -> list[dict[str, Any]]:
    """What the AU institute's own system publishes: AU records AU-<n> (with ATLAS techniques), built by a store
    of theirs with the same exchange format."""
    theirs = StoreBuilder(open_store(tmp_path / f"{name}.duckdb"))
    for k in numbers:
        theirs.incident(
            id=f"AU-{k:03d}",
            originator="AU",
            title=f"AU record {k}",
            tlp="GREEN" if k % 2 else "AMBER",
            techniques=TECHNIQUES[k % 2],
        )
    return list(build_bundle(theirs.cursor(), None, "UK").bundle["objects"])


TECHNIQUES = {0: ["AML.T0051.000"], 1: ["AML.T0043", "AML.T0051.000"]}


def incidents(s: StoreBuilder, where: str = "true") -> list[str]:
    return [
        r[0] for r in s.cursor().execute(f"select id from incidents where {where} order by id").fetchall()
    ]


def pushed_ids(server: Taxii) -> list[str]:
    return sorted(o["x_ukau_id"] for o in server.objects(OURS) if o["type"] == "incident")


def store_state(s: StoreBuilder) -> dict[str, Any]:
    con = s.cursor()
    tables = ("incidents", "incident_techniques", "stix_records", "incident_notes", "import_batches")
    state = {t: sorted(map(str, con.execute(f"select * from {t}").fetchall())) for t in tables}
    state["sync"] = con.execute("select partner, pulled_until from partner_sync_state").fetchall()
    state["exchanged"] = con.execute("select count(*) from partner_sync_objects").fetchone()
    return state


def test_sync_moves_records_both_ways_and_a_second_sync_moves_nothing(
    server: Taxii, ours: StoreBuilder, tmp_path: Path
) -> None:
    server.post(THEIRS, partner_bundle(tmp_path, range(1, 8)))
    first = taxii.sync_partner(
        ours.store, "AU", actor="ops@joint.example", config=server.config(), page_size=4
    )

    # pulled: every AU record, as AU's, with its techniques (pages of 4 split records from their relationships)
    au = [f"AU-{k:03d}" for k in range(1, 8)]
    assert incidents(ours, "originator = 'AU'") == au
    techniques = (
        ours.cursor()
        .execute(
            "select incident_id, list(technique_id order by technique_id) from incident_techniques "
            "where incident_id like 'AU-%' group by 1 order by 1"
        )
        .fetchall()
    )
    assert techniques == [(rid, TECHNIQUES[k % 2]) for k, rid in enumerate(au, 1)]
    assert (first.added, first.rejected) == (7, 0) and first.pages > 1

    # pushed: what may go to AU under the default AMBER ceiling, none of their own records back
    assert pushed_ids(server) == ["UK-AMBER", "UK-GREEN"]
    tlps = {o["name"] for o in server.objects(OURS) if o["type"] == "marking-definition"}
    assert "TLP:RED" not in tlps and "TLP:AMBER+STRICT" not in tlps
    assert first.pushed == len(server.objects(OURS))
    assert first.withheld is not None and first.withheld.counts["red"] == 1

    # the cursor is the server's date of the last object pulled
    assert taxii.pulled_until(ours.store, "AU")

    before = store_state(ours), len(server.objects(OURS))
    second = taxii.sync_partner(
        ours.store, "AU", actor="ops@joint.example", config=server.config(), page_size=4
    )
    assert (second.pulled, second.added, second.updated, second.pushed) == (0, 0, 0, 0)
    after = store_state(ours)
    assert {k: v for k, v in after.items() if v != before[0][k]} == {}
    assert len(server.objects(OURS)) == before[1]

    entries = (
        ours.cursor()
        .execute("select email, object, detail from audit_log where action = 'taxii sync' order by id")
        .fetchall()
    )
    details = [json.loads(d) for _, _, d in entries]
    assert [(e, o) for e, o, _ in entries] == [("ops@joint.example", "partner:AU")] * 2
    assert [(d["status"], d["added"], d["pushed"]) for d in details] == [
        ("complete", 7, first.pushed),
        ("complete", 0, 0),
    ]
    assert details[0]["withheld_red"] == 1 and details[0]["withheld_amber_strict"] == 1


def test_only_what_was_added_since_the_last_sync_is_pulled(
    server: Taxii, ours: StoreBuilder, tmp_path: Path
) -> None:
    server.post(THEIRS, partner_bundle(tmp_path, range(1, 4)))
    taxii.sync_partner(ours.store, "AU", actor="cli", config=server.config())
    # the partner publishes a new record (the server keeps one copy of the markings and identities it holds),
    # and one of ours changes
    later = partner_bundle(tmp_path, range(4, 5), name="theirs-later")
    held = len(server.objects(THEIRS))
    server.post(THEIRS, later)
    new_objects = len(server.objects(THEIRS)) - held
    with ours.store.transaction() as con:
        con.execute("update incidents set severity = 5, updated_at = now() where id = 'UK-GREEN'")
    again = taxii.sync_partner(ours.store, "AU", actor="cli", config=server.config())
    assert (again.pulled, again.added, again.updated, again.unchanged) == (new_objects, 1, 0, 0)
    assert incidents(ours, "originator = 'AU'") == ["AU-001", "AU-002", "AU-003", "AU-004"]
    # the changed record goes again as a new version (with its relationships), nothing else
    sent = [o for o in server.objects(OURS) if o.get("x_ukau_id") == "UK-GREEN"]
    assert len(sent) == 2 and {o["x_ukau_severity"] for o in sent} == {3, 5}
    assert pushed_ids(server) == ["UK-AMBER", "UK-GREEN", "UK-GREEN"]


def test_a_refused_page_leaves_the_store_as_it_was_before_that_page(
    server: Taxii, ours: StoreBuilder, tmp_path: Path
) -> None:
    good = partner_bundle(tmp_path, range(1, 4))
    server.post(THEIRS, good)
    bad = partner_bundle(tmp_path, range(4, 6), name="theirs-bad")
    wrong = next(o for o in bad if o.get("x_ukau_id") == "AU-005")
    wrong["object_marking_refs"] = [f"marking-definition--{uuid.uuid4()}"]  # a marking nobody defined
    server.post(THEIRS, bad)
    before = store_state(ours)

    with pytest.raises(taxii.SyncFailed, match=r"sync with AU stopped at page 2 of the pull: .*refused"):
        taxii.sync_partner(ours.store, "AU", actor="cli", config=server.config(), page_size=len(good))
    after = store_state(ours)
    # the first page went in whole, techniques and all; the refused page (AU-004 is good, AU-005 is not) changed
    # nothing
    assert incidents(ours, "originator = 'AU'") == ["AU-001", "AU-002", "AU-003"]
    assert ours.cursor().execute(
        "select count(*) from incident_techniques where incident_id like 'AU-%'"
    ).fetchone()[0] == sum(len(TECHNIQUES[k % 2]) for k in (1, 2, 3))
    assert after["sync"] == before["sync"] == []  # the cursor did not move: the next sync asks again
    assert len(after["import_batches"]) == 1
    assert ours.cursor().execute(
        "select json_extract_string(detail, '$.status') from audit_log where action = 'taxii sync'"
    ).fetchall() == [("failed",)]
    assert server.objects(OURS) == []  # nothing pushed after a failed pull

    # a single refused page: nothing at all changes
    fresh = StoreBuilder(open_store(tmp_path / "fresh.duckdb"))
    fresh_before = store_state(fresh)
    with pytest.raises(taxii.SyncFailed, match="refused"):
        taxii.sync_partner(fresh.store, "AU", actor="cli", config=server.config(), page_size=100)
    assert store_state(fresh) == fresh_before


def test_wrong_credentials_are_refused_and_audited(server: Taxii, ours: StoreBuilder) -> None:
    before = store_state(ours)
    with pytest.raises(taxii.SyncFailed, match="401"):
        taxii.sync_partner(ours.store, "AU", actor="cli", config=server.config(password="wrong"))
    assert store_state(ours) == before
    assert "wrong" not in json.dumps(ours.cursor().execute("select * from audit_log").fetchall(), default=str)


def test_the_cli_syncs_with_credentials_from_the_environment(
    server: Taxii, ours: StoreBuilder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    server.post(THEIRS, partner_bundle(tmp_path, range(1, 3)))
    for key, value in {
        "API_ROOT": server.api_root,
        "PULL_COLLECTION": THEIRS,
        "PUSH_COLLECTION": OURS,
        "USER": USER,
        "PASSWORD": PASSWORD,
    }.items():
        monkeypatch.setenv(f"THREAT_TAXII_AU_{key}", value)
    monkeypatch.setenv("THREAT_SECRETS", str(tmp_path / "no-secrets.toml"))
    assert (
        main(["sync", "--partner", "AU", "--db", str(ours.store.path), "--actor", "ops@joint.example"]) == 0
    )
    out = capsys.readouterr().out
    assert "pulled from AU: " in out and "2 added" in out and "pushed to AU: " in out
    assert "withheld: 1 TLP:RED" in out
    assert PASSWORD not in out


def test_settings_come_from_the_secrets_file_and_the_environment_wins(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        '[taxii.AU]\napi_root = "https://taxii.au.example/api1/"\npull_collection = "in"\n'
        'push_collection = "out"\nuser = "dashboard"\npassword = "from-secrets"\n'
    )
    cfg = partner_config("au", env={"THREAT_TAXII_AU_PASSWORD": "from-env"}, secrets_path=secrets)
    assert (cfg.api_root, cfg.pull_collection, cfg.push_collection, cfg.user, cfg.password) == (
        "https://taxii.au.example/api1/",
        "in",
        "out",
        "dashboard",
        "from-env",
    )
    assert "from-env" not in repr(cfg)
    with pytest.raises(ValueError, match=r"TAXII sync with UK is not configured: set api_root"):
        partner_config("UK", env={}, secrets_path=secrets)
    with pytest.raises(ValueError, match="must be https"):
        partner_config(
            "AU", env={"THREAT_TAXII_AU_API_ROOT": "http://taxii.au.example/api1/"}, secrets_path=secrets
        )


def test_public_records_in_the_partners_collection_are_left_out_and_the_rest_comes_in(
    server: Taxii, ours: StoreBuilder, tmp_path: Path
) -> None:
    """A partner's store holds public data (AIID, ATLAS ...) and publishes it, CLEAR and releasable to us. Our
    import is for the partner's institute, which never vouches for public data: those records are left out (they
    come in from their source), and the partner's own records still arrive — refusing the page would make every
    exchange between stores holding public data fail."""
    theirs = StoreBuilder(open_store(tmp_path / "with-public.duckdb"))
    theirs.incident(id="AU-001", originator="AU", tlp="GREEN")
    theirs.incident(id="AIID-7", originator="PUBLIC", source="aiid", tlp="CLEAR", title="Public incident")
    server.post(THEIRS, list(build_bundle(theirs.cursor(), None, "UK").bundle["objects"]))
    report = taxii.sync_partner(ours.store, "AU", actor="ops@joint.example", config=server.config())
    assert incidents(ours, "originator = 'AU'") == ["AU-001"]
    assert incidents(ours, "originator = 'PUBLIC'") == []
    assert (report.added, report.rejected) == (1, 0)


def test_what_was_pulled_is_recorded_in_the_same_transaction_as_the_records(
    server: Taxii, ours: StoreBuilder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If recording the pull fails, the pulled records are not in the store either: records in without the record
    of their pull would be pushed back to the partner by the next sync."""
    server.post(THEIRS, partner_bundle(tmp_path, range(1, 3)))

    def fail(*_: Any) -> None:
        raise RuntimeError("disk full while recording the pull")

    monkeypatch.setattr(taxii, "_remember_in", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        taxii.sync_partner(ours.store, "AU", actor="ops@joint.example", config=server.config())
    assert incidents(ours, "originator = 'AU'") == []
