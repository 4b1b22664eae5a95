"""The Markdown writer: marking first and last, judgements with their estimates, the draft notice."""

from __future__ import annotations

from analytics.export.briefing.markdown import to_markdown
from tests.analytics.export.briefing_samples import sample_briefing


def test_markdown_carries_marking_judgements_and_draft_notice(chart_png) -> None:
    md = to_markdown(sample_briefing(chart_png, draft=True))
    lines = md.splitlines()
    mark = "**TLP:AMBER** · releasable to UK · **UK OFFICIAL · AU OFFICIAL**"
    assert lines[0] == mark and lines[-1] == mark
    assert "> **DRAFT** — not approved" in md
    assert "   *Yardstick:* **likely (55–75%)** · *Confidence:* **moderate**" in lines
    assert "- AI Incident Database, CC BY-SA 4.0" in lines
    assert "DRAFT" not in to_markdown(sample_briefing(chart_png, draft=False))
