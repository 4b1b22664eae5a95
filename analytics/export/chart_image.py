"""Briefing-ready chart images: PNG and SVG with the marking banner on top and a provenance footer.

Officials paste charts into slides and papers, where the dashboard's on-screen banner does not follow them. So an
exported chart carries its own marking (a black band with the TLP label in its FIRST colour, as TLP 2.0 asks) and
a footer that says where it came from: the filters in words, how fresh the data was, who made it and when, and
the public sources it credits (ATLAS, AIID, Epoch: analytics.sources.source_credits) when their rows are behind it.

The chart itself is drawn by kaleido with Debian's Chromium. A browser start costs 2 to 6 s, so one browser is
started per process on first use and every export reuses it, one figure at a time (`chart_drawer.DRAWER`, which
also keeps kaleido's page loaded between charts).

Printed, the image must still read as a government paper's figure: it carries a title even when the on-screen
figure has none (`figure_title` names it from its axes), its footer is at least 8 pt at the width each preset is
printed at (`footer_px`, from `SizePreset.print_width_in`), the footer gives the explicit date range of the rows
behind it instead of "all dates" (`records_span`), and a TLP:RED image names its recipients in the banner
(`red_recipients`: the people named on every RED row behind it).

The banner and footer are composed around the rendered chart rather than drawn inside the Plotly figure:
Plotly's automatic margins (long category labels, legends) move the plot area, and a banner placed in "paper"
coordinates would drift or overlap. The chart is rendered at the space left between banner and footer; the PNG is
composed with Pillow, the SVG by nesting Plotly's SVG inside an outer one. Both use one layout computed here, and
the same font metrics (Liberation Sans, metric-compatible with Arial) decide where the footer wraps.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from xml.sax.saxutils import escape

import duckdb
import plotly.graph_objects as go
import plotly.io as pio

from analytics.access.markings import TLP_COLOURS, Marking, visible_sql
from analytics.access.viewer import Viewer
from analytics.charts import inert_figure
from analytics.export.audit import record_export
from analytics.filters import Filters
from analytics.sources import source_credits
from analytics.store.database import Store
from analytics.store.shared_cache import SharedResultCache

if TYPE_CHECKING:
    from collections.abc import Callable

    from PIL import ImageFont

    from analytics.export.rows_behind import RowsBehind

# kaleido (with its browser client) and Pillow are imported where an image is drawn, not here: every page with a
# chart imports this module for its export popover's names and sizes, and the first page after sign-in must not
# pay for a renderer nobody has asked for yet (issue 20; tests/pages/test_first_page_imports.py).

ImageFormat = Literal["png", "svg"]
FORMATS: tuple[ImageFormat, ...] = ("png", "svg")
MIME: dict[str, str] = {"png": "image/png", "svg": "image/svg+xml"}


@dataclass(frozen=True)
class SizePreset:
    """A target in CSS pixels; PNGs are rasterised at `scale` so they stay sharp when printed."""

    key: str
    label: str
    width: int
    height: int
    scale: float
    print_width_in: float  # how wide the image is placed in a briefing (slides.py, docx_writer.py, pdf.py)


PRESETS: dict[str, SizePreset] = {
    # 16:9 fills a widescreen slide's body; 1.5x gives 1920 x 1080, a projector's full resolution, and keeps
    # the warm export inside its 0.5 s budget (2x costs 80 % more pixels to encode for no visible gain).
    # Placed 12.3 in wide on a 13.33 in slide.
    "slide": SizePreset("slide", "16:9 slide", 1280, 720, 1.5, 12.3),
    # A4 text block is about 160 mm wide; half a page is about 120 mm tall (4:3). 1920 px is ~300 dpi there.
    # Placed 150 mm (5.91 in) wide in Word and PDF briefings.
    "a4half": SizePreset("a4half", "A4 half page", 960, 720, 2, 150 / 25.4),
}
FOOTER_MIN_PT = 8.5  # printed size of the footer text; 8 pt is the least a paper's reader is asked to read


def footer_px(preset: str = "slide") -> int:
    """Footer font size in CSS pixels that prints at FOOTER_MIN_PT at the preset's placed width."""
    import math

    p = PRESETS[preset]
    return math.ceil(FOOTER_MIN_PT * p.width / (p.print_width_in * 72))


DEFAULT_PRESET = "slide"

# Layout in CSS pixels (multiplied by the preset's scale for PNG).
BANNER_PX = 30
BANNER_FONT_PX = 15
FOOTER_FONT_PX = 11
FOOTER_PAD_PX = 8
SIDE_PAD_PX = 14
FOOTER_TEXT = "#404040"
FONT_FAMILY = "Liberation Sans, Arial, Helvetica, sans-serif"

_FONT_DIRS = (Path("/usr/share/fonts/truetype/liberation"), Path("/usr/share/fonts/truetype/dejavu"))
_FONT_FILES = {
    "regular": ("LiberationSans-Regular.ttf", "DejaVuSans.ttf"),
    "bold": ("LiberationSans-Bold.ttf", "DejaVuSans-Bold.ttf"),
}


@dataclass(frozen=True)
class Provenance:
    """Where an exported chart came from, in words a reader of the briefing can check."""

    filters: str
    data_as_of: datetime | date | None
    generated_at: datetime
    generated_by: str
    sources: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ()  # named recipients, shown in the banner of a TLP:RED image

    def lines(self, marking: Marking) -> list[str]:
        """The footer text, one logical line each (wrapped to the image width when drawn)."""
        as_of = _when(self.data_as_of) if self.data_as_of else "no records in view"
        out = [
            f"Filters: {self.filters}",
            f"Data as of {as_of} · generated {_when(self.generated_at)} by {self.generated_by} · {marking.label}",
        ]
        if self.sources:
            out.append("Sources: " + "; ".join(self.sources))
        return out


def _when(value: datetime | date) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
            return value.strftime("%Y-%m-%d %H:%M UTC")
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def data_as_of(con: duckdb.DuckDBPyConnection, viewer: Viewer) -> datetime | None:
    """The newest change among the records this viewer may see (incidents and evaluation runs).

    Scoped by the viewer, so the footer never reveals that something newer, invisible to them, exists.
    """
    inc, p1 = visible_sql(viewer, "incidents", "i")
    ev, p2 = visible_sql(viewer, "eval_runs", "r")
    # Both predicates use the same parameter names with the same values, so one dict serves both.
    row = con.execute(
        f"select greatest((select max(i.updated_at) from incidents i where {inc}), "
        f"(select max(r.created_at) from eval_runs r where {ev}))",
        {**p1, **p2},
    ).fetchone()
    return row[0] if row and row[0] is not None else None


def records_span(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters, today: date
) -> tuple[date, date] | None:
    """First and last incident date among the rows this viewer may see under `filters` (None when none)."""
    where, params = filters.sql_where(viewer, today)
    row = con.execute(
        f"select min(i.occurred_on), max(i.occurred_on) from incidents i where {where}", params
    ).fetchone()
    return (row[0], row[1]) if row and row[0] is not None else None


def red_recipients(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, filters: Filters, today: date
) -> tuple[str, ...]:
    """The people named on every TLP:RED incident behind a chart (whoever else holds the image must not)."""
    where, params = filters.sql_where(viewer, today)
    # Each name's RED rows counted against all RED rows, not the lists folded with list_intersect: the fold
    # took 30 s (15k rows) to 186 s (49k rows) at 1M incidents on DuckDB 1.5.5, this 0.1-0.3 s
    # (docs/benchmarks.md). list_distinct: a name twice in one row is still one row.
    row = con.execute(
        "with red as materialized (select list_distinct(i.named_recipients) as names from incidents i "
        f"where {where} and i.tlp = 'RED'), "
        "per_name as (select name, count(*) as rows from (select unnest(names) as name from red) group by name) "
        "select list(name order by name) from per_name where rows = (select count(*) from red)",
        params,
    ).fetchone()
    return tuple(sorted(row[0])) if row and row[0] else ()


def explicit_range(filters: Filters, today: date, span: tuple[date, date] | None) -> str:
    """The filters in words with the date range spelled out: an open end is the records' first or last date."""
    described = filters.describe(today)
    start, end = filters.date_range(today)
    said = f"{start or '…'} to {end or '…'}" if (start or end) else "all dates"
    if span is None:
        return (
            described if said != "all dates" else described.replace("all dates", "all dates (no records)", 1)
        )
    first, last = start or span[0], end or span[1]
    return described.replace(said, f"{first} to {last}", 1)


def provenance_for(
    viewer: Viewer,
    marking: Marking,
    *,
    filters: Filters | str | None,
    today: date,
    as_of: datetime | date | None,
    now: datetime | None = None,
    span: tuple[date, date] | None = None,
    recipients: tuple[str, ...] = (),
) -> Provenance:
    """The footer for an export by `viewer` of something marked `marking`, drawn under `filters`; `span` (the
    records' first and last dates, `records_span`) spells out an open date range, and `recipients`
    (`red_recipients`) are named on a TLP:RED image."""
    if isinstance(filters, Filters):
        described = explicit_range(filters, today, span)
    else:
        described = filters or "none (not drawn from filtered records)"
    return Provenance(
        filters=described,
        data_as_of=as_of,
        generated_at=now or datetime.now(UTC),
        generated_by=f"{viewer.name} ({viewer.email}, {viewer.institute} {viewer.role})",
        sources=source_credits(marking),
        recipients=tuple(recipients) if marking.tlp == "RED" else (),
    )


# -- file names ------------------------------------------------------------------------------------------------


def slug(text: str, limit: int = 60) -> str:
    """Lower-case, ASCII, hyphenated; safe in a file name on every system."""
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return (s[:limit].rstrip("-")) or "untitled"


def export_filename(title: str, marking: Marking, ext: str, when: date | datetime) -> str:
    """'2026-11-20_incidents-by-category_TLP-AMBER_REL-AU-UK.png': date, title and marking, as the issue asks."""
    day = when.date() if isinstance(when, datetime) else when
    return f"{day.isoformat()}_{slug(title)}_{marking.short}.{ext.lstrip('.')}"


def figure_title(fig: go.Figure, default: str = "chart") -> str:
    """The figure's own title; else, unless `default` is "" (asking only for an explicit title), a title from
    its axes ("Incidents by Category"), so an image and its file name are never just "chart"."""
    text = fig.layout.title.text if fig.layout.title else None
    if text:
        return str(text)
    if default == "":
        return ""
    return _axes_title(fig) or default


def _axes_title(fig: go.Figure) -> str:
    y = fig.layout.yaxis.title.text if fig.layout.yaxis and fig.layout.yaxis.title else None
    x = fig.layout.xaxis.title.text if fig.layout.xaxis and fig.layout.xaxis.title else None
    if y and x:
        return f"{y} by {x}"
    return str(y or x or "")


# -- rendering ---------------------------------------------------------------------------------------------------

# Held while a chart is drawn, so an export waiting behind the same chart finds it drawn instead of drawing it
# again (the drawer itself also draws one chart at a time).
_DRAWING_LOCK = threading.Lock()

# Charts already drawn, by what kaleido was asked: the same figure at the same size is drawn once. On a busy
# server the one browser is the queue every export waits in (about 0.1 s a chart), and colleagues export
# the same chart for the same briefing. The key is the whole figure spec, data included, so an entry can only
# be returned to someone who asked for exactly that figure; the banner and footer (who, when, the marking) are
# composed afterwards for each export.
_DRAWN: OrderedDict[str, bytes] = OrderedDict()
_DRAWN_MAX = 64  # about 64 x 150 kB at most
_DRAWN_LOCK = threading.Lock()


def _render(fig: go.Figure, fmt: ImageFormat, width: int, height: int, scale: float) -> bytes:
    """The chart alone: from this process's charts already drawn, or those of the other replicas on this machine
    (THREAT_CACHE_DIR: one replica draws a chart, the others read it), or through the process's chart drawer."""
    from plotly.utils import PlotlyJSONEncoder  # imports Pillow: not on the first page (see above)

    spec = print_spec(fig, width, height)
    opts = {"format": fmt, "width": width, "height": height, "scale": scale}
    key = hashlib.sha256(json.dumps([spec, opts], cls=PlotlyJSONEncoder, sort_keys=True).encode()).hexdigest()
    if (drawn := _drawn(key)) is not None:  # without waiting behind a chart being drawn
        return drawn
    shared = _shared_charts(os.environ.get("THREAT_CACHE_DIR", ""))
    if shared is not None:
        drawn = shared.get_or_compute(f"chart-{key}", lambda: _draw(key, spec, opts))
    else:
        drawn = _draw(key, spec, opts)
    with _DRAWN_LOCK:
        _DRAWN[key] = drawn
        while len(_DRAWN) > _DRAWN_MAX:
            _DRAWN.popitem(last=False)
    return drawn


def _draw(key: str, spec: dict[str, Any], opts: dict[str, Any]) -> bytes:
    from analytics.export.chart_drawer import DRAWER  # imports kaleido: not on the first page (see above)

    with _DRAWING_LOCK:
        if (drawn := _drawn(key)) is not None:  # drawn while this export waited
            return drawn
        return DRAWER.draw(spec, opts)


@functools.cache
def _shared_charts(directory: str) -> SharedResultCache | None:
    """Charts drawn by any replica on this machine. Unlike query results these may be shared in every mode: the
    key is the whole figure and its size, so an entry is exactly what kaleido would draw for it."""
    return SharedResultCache(directory) if directory else None


def _drawn(key: str) -> bytes | None:
    with _DRAWN_LOCK:
        if key in _DRAWN:
            _DRAWN.move_to_end(key)
        return _DRAWN.get(key)


def print_spec(fig: go.Figure, width: int, height: int) -> dict[str, Any]:
    """The figure as kaleido should draw it for a briefing: a copy, at the target size, in the print template.

    Inside the app Streamlit makes its own Plotly template the process default, so figures built there carry
    it; it is meant for Streamlit's themed frontend and, among other things, leaves axis automargin off, which
    cuts long category labels in a static image. Exports therefore always use the same print template
    (plotly_white), whichever process drew the figure, and every axis makes room for its labels.
    """
    # to_plotly_json is already a deep copy (plotly's to_dict), so changing the spec leaves the figure as it was.
    spec = inert_figure(fig).to_plotly_json()
    layout = spec.setdefault("layout", {})
    if not (layout.get("title") or {}).get("text") and (derived := _axes_title(fig)):
        layout["title"] = {"text": derived}  # printed, a figure names itself (on screen the page heading did)
    layout["width"], layout["height"] = width, height
    layout["template"] = pio.templates["plotly_white"].to_plotly_json()
    for name, axis in layout.items():
        if re.fullmatch(r"[xy]axis\d*", name) and isinstance(axis, dict):
            axis.setdefault("automargin", True)
    _briefing_layout(layout)
    return spec


# The printed title's line at the figure's top: its 8 px pad and a line of plotly's title font (about 18 px).
TITLE_BLOCK_PX = 40


def _briefing_layout(layout: dict[str, Any]) -> None:
    """Adjust a copy of the on-screen layout for print: room at the edges, and the title on its own line above
    the legend (on screen a short title and a top legend can share a line; on a slide they collide)."""
    margin = layout.setdefault("margin", {})
    for side, least in (("l", 24), ("r", 24), ("b", 16)):
        margin[side] = max(int(margin.get(side) or 0), least)
    title = layout.get("title")
    if isinstance(title, dict) and title.get("text"):
        title.update({"x": 0, "xref": "container", "xanchor": "left", "pad": {"l": 24, "t": 8}})
        title.update({"y": 1, "yref": "container", "yanchor": "top"})
        margin["t"] = max(int(margin.get("t") or 0), 40) + 24
        legend = layout.get("legend") or {}
        if legend.get("yanchor") == "bottom" and float(legend.get("y", 0)) >= 1:
            # A legend above the plot grows upwards from it as it wraps onto more rows, into the title (a trend
            # with ten categories took three rows). Hung from the figure's top just under the title instead, it
            # pushes the plot down by its own height.
            legend.update({"yref": "container", "y": 1 - TITLE_BLOCK_PX / layout["height"], "yanchor": "top"})
    else:
        margin["t"] = max(int(margin.get("t") or 0), 16)


def _font(weight: str, px: float) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    from PIL import ImageFont

    for name in _FONT_FILES[weight]:
        for d in _FONT_DIRS:
            if (d / name).exists():
                return _cached_font(str(d / name), round(px))
    return ImageFont.load_default(size=px)


_FONTS: dict[tuple[str, int], ImageFont.FreeTypeFont] = {}


def _cached_font(path: str, px: int) -> ImageFont.FreeTypeFont:
    key = (path, px)
    if key not in _FONTS:
        from PIL import ImageFont

        _FONTS[key] = ImageFont.truetype(path, px)
    return _FONTS[key]


def _wrap(text: str, max_px: float, font_px: int = FOOTER_FONT_PX) -> list[str]:
    """Greedy word wrap by measured width (footer font at 1x)."""
    font = _font("regular", font_px)
    out: list[str] = []
    line = ""
    for word in text.split(" "):
        trial = f"{line} {word}" if line else word
        if font.getlength(trial) <= max_px or not line:
            line = trial
        else:
            out.append(line)
            line = word
    if line:
        out.append(line)
    return out


@dataclass(frozen=True)
class _Layout:
    width: int
    height: int
    chart_height: int
    footer_lines: tuple[str, ...]
    font_px: int = FOOTER_FONT_PX
    recipients: tuple[str, ...] = ()

    @property
    def line_px(self) -> int:
        return round(self.font_px * 1.35)

    @property
    def footer_top(self) -> int:
        return BANNER_PX + self.chart_height


def _layout(preset: SizePreset, marking: Marking, provenance: Provenance) -> _Layout:
    font_px = footer_px(preset.key)
    lines: list[str] = []
    for logical in provenance.lines(marking):
        lines += _wrap(logical, preset.width - 2 * SIDE_PAD_PX, font_px)
    footer = FOOTER_PAD_PX * 2 + round(font_px * 1.35) * len(lines)
    chart_h = preset.height - BANNER_PX - footer
    return _Layout(preset.width, preset.height, chart_h, tuple(lines), font_px, provenance.recipients)


def banner_segments(marking: Marking, recipients: tuple[str, ...] = ()) -> list[tuple[str, str, bool]]:
    """(text, colour, bold) pieces of the banner: the TLP label in its FIRST colour, the rest in white; a
    TLP:RED banner names who the image is for."""
    _, tlp_colour = TLP_COLOURS[marking.tlp]
    rel = " and ".join(marking.releasable_to) if marking.releasable_to else "nobody"
    out = [(f"TLP:{marking.tlp}", tlp_colour, True), (f"   releasable to {rel}", "#FFFFFF", False)]
    if marking.tlp == "RED":
        who = f"for {', '.join(recipients)} only" if recipients else "for named recipients only"
        out.append((f"   {who}", "#FFFFFF", False))
    return out


def _png(chart_png: bytes, lay: _Layout, marking: Marking, scale: float) -> bytes:
    from PIL import Image, ImageDraw

    w, h = round(lay.width * scale), round(lay.height * scale)
    canvas = Image.new("RGB", (w, h), "white")
    with Image.open(io.BytesIO(chart_png)) as chart_img:
        # Plotly paints an opaque white paper, so the alpha channel carries nothing: paste the colour bands.
        canvas.paste(chart_img, (0, round(BANNER_PX * scale)))
    draw = ImageDraw.Draw(canvas)
    band_bg, _ = TLP_COLOURS[marking.tlp]
    draw.rectangle((0, 0, w, round(BANNER_PX * scale) - 1), fill=band_bg)
    segments = banner_segments(marking, lay.recipients)
    fonts = [_font("bold" if bold else "regular", BANNER_FONT_PX * scale) for _, _, bold in segments]
    total = sum(f.getlength(t) for (t, _, _), f in zip(segments, fonts, strict=True))
    x = (w - total) / 2
    mid = BANNER_PX * scale / 2
    for (text, colour, _), font in zip(segments, fonts, strict=True):
        draw.text((x, mid), text, fill=colour, font=font, anchor="lm")
        x += font.getlength(text)
    # a hairline separates the footer from the chart
    top = lay.footer_top * scale
    draw.line(
        (SIDE_PAD_PX * scale, top, w - SIDE_PAD_PX * scale, top), fill="#d0d0d0", width=max(1, round(scale))
    )
    foot = _font("regular", lay.font_px * scale)
    for k, line in enumerate(lay.footer_lines):
        y = (lay.footer_top + FOOTER_PAD_PX + lay.line_px * k + lay.line_px / 2) * scale
        draw.text((SIDE_PAD_PX * scale, y), line, fill=FOOTER_TEXT, font=foot, anchor="lm")
    out = io.BytesIO()
    # compress_level 1: under half the encode time of the default; flat chart colours compress well anyway.
    canvas.save(out, format="PNG", compress_level=1, dpi=(96 * scale, 96 * scale))
    return out.getvalue()


_SVG_OPEN = re.compile(rb"<svg\b[^>]*>", re.S)


def _svg(chart_svg: bytes, lay: _Layout, marking: Marking, title: str) -> bytes:
    inner = chart_svg.decode("utf-8")
    inner = re.sub(r"^\s*<\?xml[^>]*\?>", "", inner)
    # Place Plotly's own <svg> below the banner; nested svg elements take x/y.
    m = _SVG_OPEN.search(inner.encode())
    if not m:
        raise ValueError("kaleido returned no SVG element")
    opening = m.group(0).decode()
    placed = opening[:-1].rstrip("/") + f' x="0" y="{BANNER_PX}">'
    inner = inner.replace(opening, placed, 1)
    band_bg, _ = TLP_COLOURS[marking.tlp]
    bold_attr = ' font-weight="bold"'
    spans = "".join(
        f'<tspan fill="{colour}"{bold_attr if bold else ""}>{escape(text)}</tspan>'
        for text, colour, bold in banner_segments(marking, lay.recipients)
    )
    footer = "".join(
        f'<text x="{SIDE_PAD_PX}" y="{lay.footer_top + FOOTER_PAD_PX + lay.line_px * k + lay.line_px / 2}" '
        f'dominant-baseline="middle" font-size="{lay.font_px}" fill="{FOOTER_TEXT}">{escape(line)}</text>'
        for k, line in enumerate(lay.footer_lines)
    )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'width="{lay.width}" height="{lay.height}" viewBox="0 0 {lay.width} {lay.height}" '
        f'font-family="{FONT_FAMILY}">'
        f"<title>{escape(title)} ({escape(marking.label)})</title>"
        f'<rect x="0" y="0" width="{lay.width}" height="{lay.height}" fill="#ffffff"/>'
        f'<rect id="marking-banner" x="0" y="0" width="{lay.width}" height="{BANNER_PX}" fill="{band_bg}"/>'
        f'<text x="{lay.width / 2}" y="{BANNER_PX / 2}" text-anchor="middle" dominant-baseline="middle" '
        f'font-size="{BANNER_FONT_PX}" xml:space="preserve">{spans}</text>'
        f"{inner}"
        f'<line x1="{SIDE_PAD_PX}" y1="{lay.footer_top}" x2="{lay.width - SIDE_PAD_PX}" y2="{lay.footer_top}" '
        f'stroke="#d0d0d0" stroke-width="1"/>'
        f'<g id="provenance">{footer}</g>'
        "</svg>"
    )
    return svg.encode("utf-8")


def export_chart(
    fig: go.Figure,
    marking: Marking,
    provenance: Provenance,
    fmt: ImageFormat = "png",
    preset: str = DEFAULT_PRESET,
) -> bytes:
    """The chart as a briefing image: marking banner, the chart, provenance footer."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown image format {fmt!r}; expected png or svg")
    size = PRESETS[preset]
    lay = _layout(size, marking, provenance)
    if fmt == "png":
        chart = _render(fig, "png", lay.width, lay.chart_height, size.scale)
        return _png(chart, lay, marking, size.scale)
    chart = _render(fig, "svg", lay.width, lay.chart_height, 1)
    return _svg(chart, lay, marking, figure_title(fig))


def pixel_size(preset: str = DEFAULT_PRESET) -> tuple[int, int]:
    """The PNG's size in pixels for a preset."""
    p = PRESETS[preset]
    return round(p.width * p.scale), round(p.height * p.scale)


def banner_height_px(preset: str = DEFAULT_PRESET) -> int:
    return round(BANNER_PX * PRESETS[preset].scale)


def export_summary(fig: go.Figure, marking: Marking, fmt: str, preset: str) -> dict[str, Any]:
    """What an audit entry records about a chart export: fixed vocabulary and the marking, never the chart's
    title (titles can name records, benchmarks or search text; the object id names the chart)."""
    return {"format": fmt, "preset": preset, "marking": marking.label}


def export_and_record(
    store: Store,
    viewer: Viewer,
    fig: go.Figure,
    marking: Marking,
    *,
    fmt: ImageFormat,
    preset: str,
    filters: Filters | str | None,
    today: date,
    obj: str,
    rows_behind: Callable[[], RowsBehind] | None = None,
) -> bytes:
    """What a chart's download button returns: the image, with its provenance read now, and the audit entry of
    the export. Runs outside the page script (Streamlit calls it on click), so it takes the store. The page
    passes `rows_behind` (the provenance reads, cached per audience: `session.later`) with shared filters;
    without it they are read here."""
    con = store.cursor()
    if isinstance(filters, Filters):
        from analytics.export.rows_behind import rows_behind as read_rows_behind  # it imports this module

        behind = rows_behind() if rows_behind else read_rows_behind(con, viewer, filters, today)
        as_of, span, named = behind.as_of, behind.span, behind.recipients
    else:
        as_of, span, named = data_as_of(con, viewer), None, (viewer.email,)
    prov = provenance_for(
        viewer, marking, filters=filters, today=today, as_of=as_of, span=span, recipients=named
    )
    data = export_chart(fig, marking, prov, fmt, preset)
    record_export(
        store,
        viewer,
        kind="chart",
        obj=obj,
        fmt=fmt,
        marking=marking,
        filters=filters if isinstance(filters, Filters) else None,
        extra={"preset": preset},
    )
    return data
