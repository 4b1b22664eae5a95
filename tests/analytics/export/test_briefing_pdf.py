"""The PDF writer: read the pages back with pdftotext and check every page's marking and the draft watermark."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from analytics.export.briefing.pdf import to_pdf
from tests.analytics.export.briefing_samples import JUDGEMENTS, sample_briefing


def _pdf_pages(tmp_path: Path, pdf: bytes) -> list[str]:
    path = tmp_path / "b.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, check=True, text=True)
    return [p for p in out.stdout.split("\f") if p.strip()]


@pytest.mark.parametrize("draft", [False, True])
def test_pdf_every_page_marked_and_draft_watermarked(chart_png, tmp_path, draft: bool) -> None:
    b = sample_briefing(chart_png, draft=draft, charts_n=3)
    pages = _pdf_pages(tmp_path, to_pdf(b))
    assert len(pages) >= 2
    for page in pages:
        assert page.count("TLP:AMBER") >= 2, "banner at the top and the bottom of every page"
        # the watermark itself, and the footer line
        assert page.count("DRAFT") == (2 if draft else 0)
    text = "\n".join(pages)
    for j in JUDGEMENTS:
        assert j.statement in " ".join(text.split())
    # pdftoppm renders it (the test suite leaves the PNGs for a person to look at)
    subprocess.run(
        ["pdftoppm", "-r", "40", "-png", str(tmp_path / "b.pdf"), str(tmp_path / "page")], check=True
    )
    assert len(list(tmp_path.glob("page-*.png"))) == len(pages)
