"""The demo generator: deterministic for a seed, realistic shapes, fast enough for benchmark stores."""

from __future__ import annotations

from pathlib import Path

from analytics.demo.generator import build_demo
from analytics.store.database import Store


def _fingerprint(path: Path) -> tuple:
    s = Store(path)
    con = s.cursor()
    out = (
        con.execute(
            "select count(*), sum(hash(id, title, occurred_on, tlp, severity)) from incidents"
        ).fetchone(),
        con.execute(
            "select count(*), sum(hash(incident_id, technique_id)) from incident_techniques"
        ).fetchone(),
        con.execute("select count(*), sum(score) from eval_samples").fetchone(),
    )
    s.close()
    return out


def test_same_seed_same_store(tmp_path: Path) -> None:
    for name in ("a", "b"):
        build_demo(Store(tmp_path / f"{name}.duckdb"), incidents=2000, seed=3)
    build_demo(Store(tmp_path / "c.duckdb"), incidents=2000, seed=4)
    assert _fingerprint(tmp_path / "a.duckdb") == _fingerprint(tmp_path / "b.duckdb")
    assert _fingerprint(tmp_path / "a.duckdb") != _fingerprint(tmp_path / "c.duckdb")


def test_distributions_are_realistic(demo_store) -> None:
    con = demo_store.cursor()
    by_year = dict(con.execute("select year(occurred_on), count(*) from incidents group by 1").fetchall())
    assert by_year[2025] > 4 * by_year[2019]  # growth
    uk_share = con.execute("select avg((originator = 'UK')::int) from incidents").fetchone()[0]
    assert 0.50 < uk_share < 0.60
    share = dict(
        con.execute(
            "select year(occurred_on) >= 2025, avg((category in ('Agentic system misuse', 'Prompt injection', "
            "'AI-enabled cyber intrusion'))::int) from incidents group by 1"
        ).fetchall()
    )
    assert share[True] > share[False] + 0.2  # mix shifts towards agentic misuse, injection, intrusion
    tlps = dict(con.execute("select tlp, count(*) from incidents group by 1").fetchall())
    assert set(tlps) == {"CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"}
    assert con.execute(
        "select count(*) from incidents where tlp = 'RED' and len(named_recipients) = 0"
    ).fetchone() == (0,)
    assert con.execute(
        "select count(*) from incidents where tlp = 'AMBER+STRICT' and releasable_to <> [originator]"
    ).fetchone() == (0,)
    # severity depends on category: intrusion is more severe than jailbreak on average
    sev = dict(con.execute("select category, avg(severity) from incidents group by 1").fetchall())
    assert sev["AI-enabled cyber intrusion"] > sev["Jailbreak"] + 0.5
    # every technique is a real ATLAS id present in the taxonomy
    assert con.execute(
        "select count(*) from incident_techniques where technique_id not in (select id from atlas_techniques)"
    ).fetchone() == (0,)
    # evals: ~30 models, 12 benchmarks, some pairs run by both institutes, scores agree with samples
    assert con.execute(
        "select count(distinct model), count(distinct benchmark) from eval_runs"
    ).fetchone() == (30, 12)
    both = con.execute(
        "select count(*) from (select model, benchmark from eval_runs group by all having count(distinct institute) = 2)"
    ).fetchone()[0]
    assert both >= 10
    mismatch = con.execute(
        "select count(*) from eval_runs r join (select run_id, avg(score) s from eval_samples group by 1) x "
        "using (run_id) where abs(r.score - x.s) > 1e-9"
    ).fetchone()[0]
    assert mismatch == 0
    growth = con.execute(
        "select corr(score, epoch_ms(model_release_date)) from eval_runs where benchmark = 'SWE-bench Verified'"
    ).fetchone()[0]
    assert growth > 0.5


def test_empty_demo_has_users_only(tmp_path: Path) -> None:
    s = Store(tmp_path / "e.duckdb")
    assert build_demo(s, incidents=0) == {"incidents": 0, "eval_runs": 0, "eval_samples": 0}
    assert s.cursor().execute("select count(*) from users").fetchone() == (7,)
    s.close()
