"""Benchmark cases for imports (see analytics.bench.harness for how they are run).

`import.csv_100k` imports a 100,000-row partner CSV (read, decode, map, validate every cell, check ids against
the store, insert, record the batch) — target ≤ 5 s. `import.stix_10k` imports a 10,000-object STIX 2.1 bundle
(stix2 parses and checks every object, references are resolved, incidents and techniques inserted) — target
≤ 10 s.

Imports write, so they run against a store of their own next to the bench store (never the bench store, whose
size the other cases depend on). Every timed run imports a fresh file variant with new ids, so each is a real
import that adds every row; the variants are generated during the untimed warm-up run. The store therefore
grows by one file per run, as a store in use does.

Baselines: `raw` is DuckDB's own CSV reader loading the same file into a temporary table (the floor for
getting 100k rows off disk, with none of the checks); pandas has no meaningful equivalent of validation and
is not timed.
"""

from __future__ import annotations

import csv
import json
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from analytics.bench.harness import BenchContext, case
from analytics.export.stix import attack_pattern, institute_identity, tlp_marking_definition
from analytics.ingest.stix.commit import import_stix
from analytics.ingest.tabular.commit import import_tabular
from analytics.stix_vocabulary import INSTITUTE_IDENTITIES, TLP2_IDS
from analytics.store.database import Store
from analytics.vocab import CATEGORIES, SECTORS

CSV_ROWS = 100_000
STIX_INCIDENTS = 4_000  # + 4,000 relationships + 1,950 notes + 40 attack patterns + identities/markings ≈ 10k
VARIANTS = 8  # warm-up + up to 7 timed runs


@dataclass
class _Files:
    csv: list[Path] = field(default_factory=list)
    stix: list[Path] = field(default_factory=list)


@dataclass
class _Target:
    store: Store
    next_csv: int = 0
    next_stix: int = 0


_FILES: dict[str, _Files] = {}  # per work folder: the variants, shared by every store size
_TARGETS: dict[tuple[str, int], _Target] = {}  # per work folder and size: the store imported into


def _files(ctx: BenchContext) -> _Files:
    return _FILES.setdefault(str(ctx.workdir), _Files())


def _target(ctx: BenchContext) -> _Target:
    key = (str(ctx.workdir), ctx.size)
    if key not in _TARGETS:
        path = ctx.workdir / f"exchange-bench-{ctx.size}.duckdb"
        for p in (path, Path(str(path) + ".wal")):
            p.unlink(missing_ok=True)
        _TARGETS[key] = _Target(Store(path))
    return _TARGETS[key]


def _write_csv(path: Path, variant: int) -> None:
    start = date(2024, 1, 1)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "id",
                "title",
                "summary",
                "occurred_on",
                "category",
                "severity",
                "sectors",
                "countries",
                "techniques",
                "tlp",
                "releasable_to",
            ]
        )
        for k in range(CSV_ROWS):
            day = start + timedelta(days=k % 900)
            w.writerow(
                [
                    f"B{variant}-{k:07d}",
                    f"Partner report {k}: {CATEGORIES[k % len(CATEGORIES)].lower()}",
                    "Reported through the partner's weekly sharing spreadsheet.",
                    day.strftime("%d/%m/%Y"),
                    CATEGORIES[k % len(CATEGORIES)],
                    1 + k % 5,
                    f"{SECTORS[k % len(SECTORS)]}; {SECTORS[(k * 7) % len(SECTORS)]}",
                    "GB;AU" if k % 3 else "US",
                    '["AML.T0051.000", "AML.T0024"]' if k % 2 else "AML.T0054",
                    ("GREEN", "AMBER", "CLEAR")[k % 3],
                    "UK,AU" if k % 4 else "UK",
                ]
            )


def _write_bundle(path: Path, variant: int) -> None:
    techniques = [f"AML.T{n:04d}" for n in range(10, 50)]
    objects: list[dict[str, Any]] = [tlp_marking_definition(t) for t in ("CLEAR", "GREEN", "AMBER")]
    objects += [institute_identity(i) for i in ("UK", "AU")]
    objects += [attack_pattern(t, None) for t in techniques]
    note_budget = 10_000 - len(objects) - 2 * STIX_INCIDENTS
    notes = 0
    for k in range(STIX_INCIDENTS):
        inc_id = f"incident--{uuid.uuid4()}"
        stamp = f"2025-{1 + k % 12:02d}-{1 + k % 28:02d}T09:00:00.000Z"
        marking = [TLP2_IDS[("GREEN", "AMBER", "CLEAR")[k % 3]]]
        objects.append(
            {
                "type": "incident",
                "spec_version": "2.1",
                "id": inc_id,
                "created": stamp,
                "modified": stamp,
                "created_by_ref": INSTITUTE_IDENTITIES["AU" if k % 2 else "UK"],
                "name": f"Shared incident {variant}-{k}",
                "description": "From the partner instance.",
                "labels": [CATEGORIES[k % len(CATEGORIES)].lower()],
                "object_marking_refs": marking,
                "x_ukau_id": f"S{variant}-{k:06d}",
                "x_ukau_severity": 1 + k % 5,
                "x_ukau_sectors": [SECTORS[k % len(SECTORS)]],
                "x_ukau_releasable_to": ["AU", "UK"],
            }
        )
        ap = objects[5 + k % len(techniques)]["id"]
        objects.append(
            {
                "type": "relationship",
                "spec_version": "2.1",
                "id": f"relationship--{uuid.uuid4()}",
                "created": stamp,
                "modified": stamp,
                "relationship_type": "uses",
                "source_ref": inc_id,
                "target_ref": ap,
                "object_marking_refs": marking,
            }
        )
        if k % 2 == 0 and notes < note_budget:
            notes += 1
            objects.append(
                {
                    "type": "note",
                    "spec_version": "2.1",
                    "id": f"note--{uuid.uuid4()}",
                    "created": stamp,
                    "modified": stamp,
                    "content": "Partner analyst comment.",
                    "object_refs": [inc_id],
                    "object_marking_refs": marking,
                }
            )
    assert len(objects) == 10_000
    bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}
    path.write_text(json.dumps(bundle))


def _raw_csv(ctx: BenchContext) -> Any:
    files = _files(ctx)
    if not files.csv:
        return None
    con = _target(ctx).store.cursor()
    con.execute(f"create or replace temp table raw_csv as select * from read_csv('{files.csv[0]}')")
    return con.execute("select count(*) from raw_csv").fetchall()


@case("import.csv_100k", raw=_raw_csv, runs=3)
def import_csv_100k(ctx: BenchContext) -> Any:
    files = _files(ctx)
    if not files.csv:  # the warm-up run: make every variant first
        for v in range(VARIANTS):
            path = ctx.workdir / f"partner-{v}.csv"
            _write_csv(path, v)
            files.csv.append(path)
    target = _target(ctx)
    path = files.csv[target.next_csv % VARIANTS]
    target.next_csv += 1
    report = import_tabular(target.store, path, actor="bench", institute="UK", tlp=None, releasable=None)
    assert report.added == CSV_ROWS, report.summary()
    return report


@case("import.stix_10k", runs=3)
def import_stix_10k(ctx: BenchContext) -> Any:
    files = _files(ctx)
    if not files.stix:
        for v in range(VARIANTS):
            path = ctx.workdir / f"bundle-{v}.json"
            _write_bundle(path, v)
            files.stix.append(path)
    target = _target(ctx)
    path = files.stix[target.next_stix % VARIANTS]
    target.next_stix += 1
    # The bundle holds both institutes' records (a replica): the store's operator imports it for no institute,
    # keeping each record's origin; an import for one institute refuses the other's claims (issue 22).
    report = import_stix(target.store, path, actor="bench", institute=None, tlp=None, releasable=None)
    assert report.added == STIX_INCIDENTS, report.summary()
    return report
