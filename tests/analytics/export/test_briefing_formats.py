"""Choosing a writer by format name: every offered format renders, and an unknown one is refused."""

from __future__ import annotations

import pytest

from analytics.export.briefing.formats import FORMAT_LABELS, FORMATS, render
from tests.analytics.export.briefing_samples import sample_briefing


def test_render_refuses_unknown_format(chart_png) -> None:
    with pytest.raises(ValueError, match="unknown briefing format"):
        render(sample_briefing(chart_png, draft=False), "odp")


def test_every_offered_format_renders_a_file_of_its_kind(chart_png) -> None:
    b = sample_briefing(chart_png, draft=False, charts_n=1)
    assert list(FORMAT_LABELS) == list(FORMATS)
    magic = {"pptx": b"PK", "docx": b"PK", "pdf": b"%PDF", "md": b"**TLP:AMBER**"}
    for fmt in FORMATS:
        assert render(b, fmt).startswith(magic[fmt]), fmt
