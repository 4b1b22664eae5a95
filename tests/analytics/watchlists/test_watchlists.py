"""Watchlists: a watched saved view shows what arrived since the last visit, once, and only what the person
may read at that visit (issue 20). Real stores, real imports."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from analytics.evals.queries import set_threshold
from analytics.filters import Filters
from analytics.ingest.tabular.commit import import_tabular
from analytics.views import save_view
from analytics.watchlists import unwatch, visit, watch, watched_view_ids
from tests.conftest import AU_ANALYST, TODAY, UK_ANALYST, UK_POLICY, StoreBuilder

HEADER = ["id", "title", "occurred_on", "category", "severity", "sectors", "tlp", "releasable_to"]


def import_csv(
    store: StoreBuilder, tmp_path: Path, name: str, rows: list[dict[str, str]], institute: str
) -> None:
    path = tmp_path / f"{name}.csv"
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, HEADER)
        w.writeheader()
        for r in rows:
            w.writerow({"occurred_on": "2026-11-10", "severity": "3", "sectors": "finance", **r})
    report = import_tabular(store.store, path, actor="t@x", institute=institute, tlp=None, releasable=None)
    assert report.added == len(rows), report.summary()


def jailbreak_view(store: StoreBuilder, viewer=UK_ANALYST) -> int:
    with store.store.transaction(changes_records=False) as con:
        return save_view(con, viewer, "Jailbreaks", "explorer", Filters(categories=("Jailbreak",)))


def test_a_watched_view_shows_a_new_matching_import_once(store: StoreBuilder, tmp_path: Path) -> None:
    store.incident(title="Old jailbreak", category="Jailbreak")
    view = jailbreak_view(store)
    watch(store.store, UK_ANALYST, view)
    assert visit(store.store, UK_ANALYST, TODAY) == []  # what was there when watching is not news

    import_csv(
        store,
        tmp_path,
        "partner",
        [
            {
                "id": "J-1",
                "title": "Roleplay jailbreak of a banking bot",
                "category": "Jailbreak",
                "tlp": "GREEN",
                "releasable_to": "UK,AU",
            },
            {
                "id": "P-1",
                "title": "Injected invoice",
                "category": "Prompt injection",
                "tlp": "GREEN",
                "releasable_to": "UK,AU",
            },
        ],
        institute="AU",
    )
    news = visit(store.store, UK_ANALYST, TODAY)
    assert [n.view.id for n in news] == [view]
    assert news[0].new_incidents == 1
    assert news[0].incidents.data["title"].tolist() == ["Roleplay jailbreak of a banking bot"]
    assert news[0].incidents.marking.tlp == "GREEN"
    assert visit(store.store, UK_ANALYST, TODAY) == []  # shown once


def test_a_record_the_person_may_not_read_never_shows(store: StoreBuilder, tmp_path: Path) -> None:
    view, au_view = jailbreak_view(store), jailbreak_view(store, AU_ANALYST)
    watch(store.store, UK_ANALYST, view)
    watch(store.store, AU_ANALYST, au_view)
    import_csv(
        store,
        tmp_path,
        "au-only",
        [
            {
                "id": "S-1",
                "title": "AU strict jailbreak",
                "category": "Jailbreak",
                "tlp": "AMBER+STRICT",
                "releasable_to": "AU",
            },
            {
                "id": "S-2",
                "title": "AU-only amber jailbreak",
                "category": "Jailbreak",
                "tlp": "AMBER",
                "releasable_to": "AU",
            },
        ],
        institute="AU",
    )
    assert visit(store.store, UK_ANALYST, TODAY) == []
    # The same rows do reach someone who may read them, so the watch did look.
    assert [n.new_incidents for n in visit(store.store, AU_ANALYST, TODAY)] == [2]


def test_a_model_crossing_a_threshold_shows_once(store: StoreBuilder) -> None:
    store.eval_run(model="Basalt-1.0", benchmark="Cybench", score=0.40)
    with store.store.transaction() as con:
        set_threshold(con, UK_ANALYST, "Cybench", 0.6)
        view = save_view(con, UK_ANALYST, "All evaluations", "evaluations", Filters())
    watch(store.store, UK_ANALYST, view)
    assert visit(store.store, UK_ANALYST, TODAY) == []
    store.eval_run(model="Basalt-1.0", benchmark="Cybench", score=0.71)
    store.eval_run(
        model="Corvid-2.0",
        benchmark="Cybench",
        score=0.65,
        tlp="AMBER+STRICT",
        releasable_to=["AU"],
        institute="AU",
    )
    news = visit(store.store, UK_ANALYST, TODAY)
    assert news[0].crossings.data[["model", "benchmark"]].values.tolist() == [["Basalt-1.0", "Cybench"]]
    assert news[0].crossings.data["best_score"].tolist() == [pytest.approx(0.71)]
    assert visit(store.store, UK_ANALYST, TODAY) == []


def test_watching_needs_a_view_one_may_open_and_a_record_readers_role(store: StoreBuilder) -> None:
    view = jailbreak_view(store)
    with pytest.raises(ValueError, match="no saved view"):
        watch(store.store, AU_ANALYST, view)  # a UK view is shared within the UK only
    with pytest.raises(PermissionError):
        watch(store.store, UK_POLICY, view)
    watch(store.store, UK_ANALYST, view)
    assert watched_view_ids(store.cursor(), UK_ANALYST) == {view}
    unwatch(store.store, UK_ANALYST, view)
    assert watched_view_ids(store.cursor(), UK_ANALYST) == set()
