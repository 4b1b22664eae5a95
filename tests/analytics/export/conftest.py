"""Fixtures of the export tests: one rendered chart image per test session (kaleido takes a while to start)."""

from __future__ import annotations

import pytest

from tests.analytics.export.briefing_samples import render_chart_png


@pytest.fixture(scope="session")
def chart_png() -> bytes:
    return render_chart_png()
