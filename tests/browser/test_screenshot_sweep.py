"""Every page for every persona at 1400 and 1024 px wide (issue 20): screenshots in artifacts/screenshots/ (looked at
by a person: docs/ui-review.md), no exception box, no main content cut off at the right, no truncated metric
label, and the overview's tables whole (the rising table was clipped at 1024 px).

A tall viewport, because Streamlit scrolls inside the main area and a full-page screenshot sees only the viewport.
"""

from __future__ import annotations

from typing import Any

import pytest

from analytics.access import pages as access
from tests.browser.conftest import BUSY, rerun, sign_in
from tests.conftest import PERSONAS

WIDTHS = (1400, 1024)

# Whatever in the main area reaches past its right edge (+1 px of rounding), and whatever it scrolls sideways:
# charts and tables are measured by their own boxes (a table may scroll inside itself, see TABLES_WHOLE).
CLIPPED = """() => {
    const main = document.querySelector('[data-testid="stMain"]');
    const block = main.querySelector('[data-testid="stMainBlockContainer"]') || main;
    const right = block.getBoundingClientRect().right + 1;
    const out = [];
    if (main.scrollWidth > main.clientWidth + 1) out.push(`main scrolls sideways: ${main.scrollWidth} > ${main.clientWidth}`);
    for (const el of block.querySelectorAll('*')) {
        if (!el.checkVisibility() || el.parentElement.closest('[data-testid="stDataFrame"], .js-plotly-plot')) continue;
        const r = el.getBoundingClientRect();
        if (r.width > 0 && r.right > right) out.push(`${el.tagName}.${el.className} ${Math.round(r.right)} > ${Math.round(right)}: ${(el.innerText || '').slice(0, 40)}`);
    }
    return out.slice(0, 5);
}"""

# A metric's label, value or change cut short with an ellipsis (an element narrower than its own text).
TRUNCATED_LABELS = """() => Array.from(document.querySelectorAll('[data-testid="stMetric"] *'))
    .filter(el => el.checkVisibility() && el.scrollWidth > el.clientWidth + 1)
    .map(el => el.innerText)"""

# A row of buttons (a segmented control, pills) wider than its column: the group keeps its column's width and its
# buttons run on past it (overflow visible), under the next column or off the page.
BUTTON_ROWS_CUT = """() => Array.from(document.querySelectorAll('[data-testid="stButtonGroup"]'))
    .filter(el => el.checkVisibility())
    .map(el => [el, Math.max(...Array.from(el.querySelectorAll('button')).map(b => b.getBoundingClientRect().right))])
    .filter(([el, right]) => right > el.getBoundingClientRect().right + 1)
    .map(([el, right]) => `${el.innerText.replace(/\\s+/g, ' ').slice(0, 40)}: ${Math.round(right)} > `
        + `${Math.round(el.getBoundingClientRect().right)}`)"""

# Tables that must show every column without scrolling sideways (the overview's: short, and read at a glance).
TABLES_WHOLE = """() => Array.from(document.querySelectorAll('[data-testid="stDataFrame"] .dvn-scroller'))
    .filter(el => el.checkVisibility() && el.scrollWidth > el.clientWidth + 1)
    .map(el => `${el.scrollWidth} > ${el.clientWidth}`)"""


# The explorer's tabs drawn on their own (a tab's content is drawn only when it is open).
EXPLORER_TABS = ("UK and AU", "Breakdowns", "Incidents")
# What an analyst reads a row by: visible without scrolling the table sideways at 1400 px.
KEY_COLUMNS = ("Id", "Date", "Title", "By", "Category", "Severity")
# The columns a table has drawn (the grid draws only those in view, for its accessibility table).
DRAWN_COLUMNS = """() => Array.from(document.querySelectorAll('[data-testid="stDataFrame"]'))
    .filter(d => d.checkVisibility())
    .map(d => Array.from(d.querySelectorAll('th')).map(h => h.innerText.trim()))"""


def _check(page: Any, title: str, problems: list[str], *, whole_tables: bool = False) -> None:
    if page.get_by_test_id("stException").count():
        problems.append(f"{title}: exception box")
    clipped = page.evaluate(CLIPPED)
    if clipped:
        problems.append(f"{title}: clipped {clipped}")
    truncated = page.evaluate(TRUNCATED_LABELS)
    if truncated:
        problems.append(f"{title}: truncated metric text {truncated}")
    rows_cut = page.evaluate(BUTTON_ROWS_CUT)
    if rows_cut:
        problems.append(f"{title}: button rows cut off {rows_cut}")
    if whole_tables:
        cut = page.evaluate(TABLES_WHOLE)
        if cut:
            problems.append(f"{title}: tables scroll sideways {cut}")


def _visit(page: Any, spec: access.PageSpec, many: bool) -> None:
    if many:  # Streamlit shows no navigation for a single page
        with rerun(page):
            page.get_by_test_id("stSidebarNav").get_by_text(spec.title, exact=True).click()
    page.get_by_test_id("stMain").get_by_role("heading").first.wait_for(timeout=BUSY)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("email", list(PERSONAS))
def test_every_page_at_width(browser, server, shots, email: str, width: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": 2400})
    page = context.new_page()
    try:
        sign_in(page, server.url, email)
        specs = access.pages_for(PERSONAS[email].role)
        problems: list[str] = []
        for spec in specs:
            _visit(page, spec, len(specs) > 1)
            who = email.replace("@", "-").replace(".example", "")
            page.screenshot(path=str(shots / f"{spec.url_path}-{who}-{width}.png"))
            _check(page, spec.title, problems, whole_tables=spec.url_path == "overview")
            if spec.url_path != "explorer":
                continue
            for tab in EXPLORER_TABS:
                with rerun(page):
                    page.get_by_test_id("stMain").get_by_role("tab", name=tab).click()
                name = tab.lower().replace(" ", "-")
                page.screenshot(path=str(shots / f"{spec.url_path}-{name}-{who}-{width}.png"))
                _check(page, f"{spec.title} / {tab}", problems)
                if tab == "Incidents" and width >= 1400:
                    # the grid fills its header a moment after the run: wait for it, not for time
                    page.wait_for_function(f"() => ({DRAWN_COLUMNS})().some(h => h.length)", timeout=BUSY)
                    drawn = page.evaluate(DRAWN_COLUMNS)
                    missing = [c for c in KEY_COLUMNS if not drawn or c not in drawn[0]]
                    if missing:
                        problems.append(f"incident table at {width} px hides {missing} (drawn: {drawn})")
            with rerun(page):  # back to the first tab, as the next visit expects
                page.get_by_test_id("stMain").get_by_role("tab", name="Trend").click()
        assert not problems, problems
    finally:
        context.close()
