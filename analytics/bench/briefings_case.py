"""Benchmark cases for briefing exports (targets from issue 7: warm chart export ≤ 0.5 s, 10-slide deck ≤ 5 s).

`export.chart_png` is what a chart's PNG button does once the process's chart drawer has started its browser
(the harness's warm-up run starts it): provenance, the 16:9 image with banner and footer, the audit entry.
`export.chart_draw` is the part of an export that waits for the browser: a chart no cache holds, drawn by the
process's chart drawer, whose page stays loaded between charts. `export.chart_draw_reloading` draws the same
charts with the page reloaded after each, as kaleido itself does: the baseline of the first, in the same run
(analytics/export/chart_drawer.py says why).
`briefing.pptx_10` is a whole 10-slide deck from scratch: two charts queried and rendered (slide and print
shapes), five key judgements, written as PPTX.
"""

from __future__ import annotations

import atexit
import functools
import itertools
from typing import TYPE_CHECKING, Any

from analytics.bench.harness import BenchContext, case
from analytics.export import chart_image as chart_export
from analytics.export.briefing import builder as briefing_builder
from analytics.export.briefing import content as briefing
from analytics.export.briefing.slides import to_pptx
from analytics.filters import Filters

if TYPE_CHECKING:
    from analytics.export.chart_drawer import ChartDrawer

_RECENT = Filters(preset="12m")


@case("export.chart_png", runs=5)
def chart_png(ctx: BenchContext) -> Any:
    drawn = briefing_builder.draw_chart(
        ctx.store.cursor(), ctx.viewer, "by_category|current", _RECENT, ctx.today
    )
    return chart_export.export_and_record(
        ctx.store,
        ctx.viewer,
        drawn.data,
        drawn.marking,
        fmt="png",
        preset="slide",
        filters=_RECENT,
        today=ctx.today,
        obj="chart:bench",
    )


_DRAW_W, _DRAW_H = 1280, 640  # the slide preset's chart area
_DRAW_OPTS = {"format": "png", "width": _DRAW_W, "height": _DRAW_H, "scale": 1.5}
_numbers = itertools.count()
_specs: dict[int, dict[str, Any]] = {}  # the bench chart's print spec, by store size: only drawing is timed


def _new_chart(ctx: BenchContext) -> dict[str, Any]:
    """The bench chart with a title no earlier run had, so no cache of drawn charts can answer."""
    if ctx.size not in _specs:
        drawn = briefing_builder.draw_chart(
            ctx.store.cursor(), ctx.viewer, "by_category|current", _RECENT, ctx.today
        )
        _specs[ctx.size] = chart_export.print_spec(drawn.data, _DRAW_W, _DRAW_H)
    spec = dict(_specs[ctx.size])
    spec["layout"] = {**spec["layout"], "title": {"text": f"Incidents by category ({next(_numbers)})"}}
    return spec


@functools.cache
def _reloading_drawer() -> ChartDrawer:
    from analytics.export.chart_drawer import ChartDrawer  # kaleido: imported by the cases that draw

    drawer = ChartDrawer(reload_every=1)
    atexit.register(drawer.close)
    return drawer


@case("export.chart_draw", runs=10)
def chart_draw(ctx: BenchContext) -> bytes:
    from analytics.export.chart_drawer import DRAWER

    return DRAWER.draw(_new_chart(ctx), _DRAW_OPTS)


@case("export.chart_draw_reloading", runs=10)
def chart_draw_reloading(ctx: BenchContext) -> bytes:
    return _reloading_drawer().draw(_new_chart(ctx), _DRAW_OPTS)


@case("briefing.pptx_10", runs=3)
def pptx_10(ctx: BenchContext) -> Any:
    b = briefing_builder.build_briefing(
        ctx.store,
        ctx.viewer,
        title="Benchmark briefing",
        chart_keys=("by_category|current", "by_month|current"),
        current=_RECENT,
        today=ctx.today,
    )
    judgements = tuple(
        briefing.KeyJudgement(
            n, f"Judgement {n} about agentic intrusion.", "likely", "moderate", "likely (55–75%)"
        )
        for n in range(1, 6)
    )
    deck = briefing.make_briefing(
        b.title,
        bottom_line="It is likely that intrusions will rise.",
        judgements=judgements,
        charts=b.charts,
        base_marking=b.marking,
    )
    assert deck.slide_count == 12  # 10 slides, and an editable native chart before each of the two images
    return to_pptx(deck)
