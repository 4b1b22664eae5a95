"""JailbreakBench importer against the real artifacts in ../shared/data/jailbreakbench: one run per attack method x
threat model x target model with the published attack success rate, each behaviour a sample with prompt, goal and
response, read back from the artifact files; idempotence, PUBLIC origin, the credit, and a malformed artifact
refused naming file and field with the store unchanged."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from analytics.evals.runs import run_detail
from analytics.ingest import ImportRefused
from analytics.ingest.jailbreakbench import METRIC, import_jailbreakbench
from analytics.sources import JAILBREAKBENCH, source_credits
from tests.conftest import SHARED_DATA, UK_ANALYST

JBB = SHARED_DATA / "jailbreakbench"
ARTIFACTS = JBB / "attack-artifacts"
pytestmark = pytest.mark.skipif(not JBB.exists(), reason="needs ../shared/data/jailbreakbench")

TABLES = ("eval_runs", "eval_samples", "import_batches", "audit_log")


def _artifacts() -> list[Path]:
    return sorted(p for p in ARTIFACTS.glob("*/*/*.json"))


def _snapshot(store: Any) -> dict[str, list[str]]:
    con = store.cursor()
    return {t: sorted(map(repr, con.execute(f"select * from {t}").fetchall())) for t in TABLES}


def test_one_run_per_artifact_with_the_published_attack_success_rate(store) -> None:
    report = import_jailbreakbench(store.store, JBB, actor="analyst@uk.example", institute="UK")
    files = _artifacts()
    assert report.added == len(files) == 19
    con = store.cursor()
    for f in files:
        doc = json.loads(f.read_text(encoding="utf-8"))
        p = doc["parameters"]
        rid = f"jbb-{f.parent.parent.name}-{f.parent.name}-{f.stem}"
        got = con.execute(
            "select model, metric, score, n_samples, eval_date, institute, tlp, stderr, "
            "(details->>'higher_is_better')::boolean, benchmark from eval_runs where run_id = ?",
            [rid],
        ).fetchone()
        assert got is not None, rid
        assert got[0] == p["model"] and got[1] == METRIC and "lower is better" in METRIC
        assert got[2] == pytest.approx(p["attack_success_rate"])
        assert got[3] == len(doc["jailbreaks"])
        assert got[4] == date.fromisoformat(p["evaluation_date"])
        assert got[5:8] == ("PUBLIC", "CLEAR", None) and got[8] is False
        assert f.parent.parent.name in got[9] and p["attack_type"] in got[9]
    audit = con.execute("select action, object from audit_log where action = 'import jailbreakbench'")
    assert audit.fetchall() == [("import jailbreakbench", report.batch_id)]


def test_each_behaviour_is_a_sample_with_prompt_goal_and_response(store) -> None:
    f = ARTIFACTS / "PAIR" / "black_box" / "vicuna-13b-v1.5.json"
    import_jailbreakbench(store.store, f, actor="test")
    doc = json.loads(f.read_text(encoding="utf-8"))
    con = store.cursor()
    rows = {
        r[0]: r[1:]
        for r in con.execute(
            "select sample_id, score, value, input, target, output, metadata->>'category' from eval_samples "
            "where run_id = 'jbb-PAIR-black_box-vicuna-13b-v1.5'"
        ).fetchall()
    }
    assert len(rows) == len(doc["jailbreaks"]) == 100
    for j in doc["jailbreaks"]:
        score, value, prompt, goal, response, category = rows[str(j["index"])]
        assert score == (1.0 if j["jailbroken"] else 0.0)
        assert value == ("jailbroken" if j["jailbroken"] else "not jailbroken")
        assert (prompt, goal, response, category) == (j["prompt"], j["goal"], j["response"], j["category"])
    share = con.execute(
        "select avg(s.score), any_value(r.details->>'jailbroken_share')::double from eval_samples s "
        "join eval_runs r using (run_id) where run_id = 'jbb-PAIR-black_box-vicuna-13b-v1.5'"
    ).fetchone()
    assert share[0] == pytest.approx(sum(j["jailbroken"] for j in doc["jailbreaks"]) / 100) == share[1]


def test_second_import_changes_nothing(store) -> None:
    import_jailbreakbench(store.store, JBB, actor="test")
    before = _snapshot(store)
    again = import_jailbreakbench(store.store, JBB, actor="test")
    assert (again.added, again.updated, again.unchanged) == (0, 0, 19)
    after = _snapshot(store)
    assert after["eval_runs"] == before["eval_runs"] and after["eval_samples"] == before["eval_samples"]


def test_credit_comes_through_source_credits(store) -> None:
    import_jailbreakbench(store.store, ARTIFACTS / "GCG", actor="test")
    detail = run_detail(store.cursor(), UK_ANALYST, "jbb-GCG-transfer-gpt-4-0125-preview")
    assert detail is not None and detail.marking.sources == ("jailbreakbench",)
    assert source_credits(detail.marking) == (JAILBREAKBENCH.credit,)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d["parameters"].update(attack_success_rate=1.7), "field 'parameters.attack_success_rate'"),
        (lambda d: d["parameters"].pop("model"), "field 'parameters.model'"),
        (lambda d: d["jailbreaks"][3].update(jailbroken="yes"), "field 'jailbreaks[3].jailbroken'"),
        (lambda d: d.pop("jailbreaks"), "field 'jailbreaks'"),
        (lambda d: d["parameters"].update(evaluation_date="March"), "field 'parameters.evaluation_date'"),
    ],
)
def test_malformed_artifact_refused_naming_file_and_field(
    store, tmp_path: Path, change: Any, named: str
) -> None:
    root = tmp_path / "attack-artifacts"
    shutil.copytree(ARTIFACTS / "GCG", root / "GCG")
    bad = root / "GCG" / "white_box" / "vicuna-13b-v1.5.json"
    doc = json.loads(bad.read_text(encoding="utf-8"))
    change(doc)
    bad.write_text(json.dumps(doc))
    before = _snapshot(store)
    with pytest.raises(ImportRefused) as e:
        import_jailbreakbench(store.store, root, actor="test")
    msg = str(e.value)
    assert "\n" not in msg and "GCG/white_box/vicuna-13b-v1.5.json" in msg and named in msg
    assert _snapshot(store) == before


def test_public_data_cannot_be_marked_red(store) -> None:
    with pytest.raises(ImportRefused, match="TLP:RED"):
        import_jailbreakbench(store.store, JBB, actor="test", tlp="RED")


# -- the same runs through the generic mapping (issue 16: `import json --records eval_runs --map/--set/--source`) --

COMPARED = (
    "model, benchmark, metric, score, eval_date, n_samples, institute, source, tlp, releasable_to, stderr"
)


def test_generic_mapping_gives_the_same_runs(store, tmp_path: Path, capsys) -> None:
    """PAIR's black-box artifacts imported by the dedicated importer and, into a second store, through
    `import json --records eval_runs --source jailbreakbench --map parameters.* --set ...`, give the same runs.
    (Run ids and samples come from the folder layout and the behaviours, which a mapping cannot express.)"""
    from analytics.cli import main
    from analytics.store.database import Store

    src = ARTIFACTS / "PAIR" / "black_box"
    import_jailbreakbench(store.store, src, actor="test")
    folder = tmp_path / "black_box"
    shutil.copytree(src, folder)
    n_behaviours = {len(json.loads(f.read_text())["jailbreaks"]) for f in folder.glob("*.json")}
    assert n_behaviours == {100}
    db = tmp_path / "generic.duckdb"
    code = main(
        [
            "import", "json", str(folder), "--db", str(db), "--create", "--records", "eval_runs",
            "--source", "jailbreakbench",
            "--map", "parameters.model=model",
            "--map", "parameters.attack_success_rate=score",
            "--map", "parameters.evaluation_date=eval_date",
            "--set", "benchmark=JailbreakBench PAIR (black_box)",
            "--set", f"metric={METRIC}",
            "--set", "n_samples=100",
        ]
    )  # fmt: skip
    _out, err = capsys.readouterr()
    assert code == 0, err
    sql = f"select {COMPARED} from eval_runs order by model"
    dedicated = store.cursor().execute(sql).fetchall()
    other = Store(db)
    try:
        generic = other.cursor().execute(sql).fetchall()
    finally:
        other.close()
    assert len(dedicated) == 4
    assert generic == dedicated
