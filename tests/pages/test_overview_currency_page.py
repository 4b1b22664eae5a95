"""The overview of a store whose data ends early shows no fall and states how current its data is (issue 15,
finding 2): a policymaker's landing page once read "Last 30 days 54, ↓51%" in green on data that simply stopped
16 days before today."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.analytics.incidents.test_overview_currency import bulk
from tests.conftest import ROOT, TODAY, StoreBuilder

PAGE = "pages/overview.py"


def overview_app(store: StoreBuilder, monkeypatch: pytest.MonkeyPatch, email: str) -> Any:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("THREAT_DB", str(store.store.path))
    monkeypatch.delenv("THREAT_DEMO_MODE", raising=False)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.user = {"is_logged_in": True, "email": email}
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


@pytest.mark.parametrize("email", ["policy@uk.example", "analyst@au.example"])
def test_data_ending_early_shows_no_fall_and_states_its_currency(
    store: StoreBuilder, monkeypatch: pytest.MonkeyPatch, navigation_mode: None, email: str
) -> None:
    # Two incidents a day from March until 16 days before today, each reported 0..6 days after it occurred.
    rows, d, k = [], date(2026, 3, 1), 0
    while d <= TODAY - timedelta(days=16):
        for _ in range(2):
            rows.append((d, d + timedelta(days=k % 7)))
            k += 1
        d += timedelta(days=1)
    bulk(store, rows)
    at = overview_app(store, monkeypatch, email)
    metrics = {m.label: m for m in at.metric}
    last30, last90 = metrics["Last 30 days"], metrics["Last 90 days"]
    assert (last30.value, last90.value) == ("60", "180")  # two a day, every day of each window
    assert (last30.delta, last90.delta) == ("+0%", "+0%")  # no fall: the windows end where the data does
    # a change that rounds to zero is neither a red rise nor a green fall (issue 20: "↑ +0%" in red)
    from streamlit.proto.Metric_pb2 import Metric

    flat = (Metric.MetricDirection.Value("NONE"), Metric.MetricColor.Value("GRAY"))
    assert (last30.proto.direction, last30.proto.color) == flat
    captions = " ".join(c.value for c in at.caption).replace("\\", "")  # the line is rendered inert
    assert "Data to 10 Nov 2026 (institute reporting), reported 3 days after occurrence at the median" in (
        captions
    )
    assert "Figures to 4 Nov 2026, the last day by which 90% of incidents are reported" in captions
    assert "Today: 20 Nov 2026 (fixed by THREAT_TODAY)" in captions


def test_the_explorer_gives_no_change_for_a_range_past_the_complete_data(
    store: StoreBuilder, monkeypatch: pytest.MonkeyPatch, navigation_mode: None
) -> None:
    """The explorer's 'Last 30 days' runs to today; with data ending 16 days earlier its count is short, so it
    gives the count and says why there is no change, instead of a fall."""
    rows, d, k = [], date(2026, 3, 1), 0
    while d <= TODAY - timedelta(days=16):
        for _ in range(2):
            rows.append((d, d + timedelta(days=k % 7)))
            k += 1
        d += timedelta(days=1)
    bulk(store, rows)
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("THREAT_DB", str(store.store.path))
    monkeypatch.delenv("THREAT_DEMO_MODE", raising=False)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.user = {"is_logged_in": True, "email": "analyst@uk.example"}
    at.query_params["preset"] = "30d"
    at.run()
    at.switch_page("pages/explorer.py").run()
    assert not at.exception, [e.message for e in at.exception]
    incidents = next(m for m in at.metric if m.label == "Incidents")
    assert incidents.delta is None or incidents.delta == ""
    assert "No change shown: the range runs past 4 Nov 2026" in (incidents.help or "")
