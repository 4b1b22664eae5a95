"""Chart images for briefings: size presets, the marking banner, the provenance footer, scoping, audit."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime

import pytest
from PIL import Image

from analytics import charts
from analytics.access.markings import Marking
from analytics.export import audit as exports_audit
from analytics.export import chart_image as chart_export
from analytics.export.audit import record_export
from analytics.filters import Filters
from analytics.incidents import base as incident_base
from analytics.sources import source_credits
from tests.conftest import AU_ANALYST, TODAY, UK_ANALYST

SVG = "{http://www.w3.org/2000/svg}"
NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
NO_FILTERS = Filters()


def _figure(store, viewer, f: Filters = NO_FILTERS):
    scoped = incident_base.counts_by_originator_and_category(store.cursor(), viewer, f, TODAY)
    return charts.counts_by_originator_and_category(scoped.data), scoped.marking


def _prov(viewer, marking, f: Filters = NO_FILTERS, as_of=datetime(2026, 11, 19, 8, 0)):
    return chart_export.provenance_for(viewer, marking, filters=f, today=TODAY, as_of=as_of, now=NOW)


def _svg_text(svg: bytes) -> str:
    root = ET.fromstring(svg)
    return " ".join("".join(el.itertext()) for el in root.iter(f"{SVG}text"))


def _near(pixel: tuple[int, ...], colour: str, tol: int = 40) -> bool:
    target = tuple(int(colour.lstrip("#")[k : k + 2], 16) for k in (0, 2, 4))
    return all(abs(a - b) <= tol for a, b in zip(pixel[:3], target, strict=True))


@pytest.fixture
def amber_store(store):
    store.incident(category="Jailbreak", tlp="AMBER", source="aiid")
    store.incident(category="Jailbreak", originator="AU")
    store.incident(category="Data poisoning", originator="AU", source="atlas")
    return store


@pytest.mark.parametrize("preset", list(chart_export.PRESETS))
def test_png_has_preset_size_black_banner_and_tlp_coloured_label(amber_store, preset: str) -> None:
    fig, marking = _figure(amber_store, UK_ANALYST)
    assert marking.tlp == "AMBER"
    png = chart_export.export_chart(fig, marking, _prov(UK_ANALYST, marking), "png", preset)
    img = Image.open(io.BytesIO(png)).convert("RGB")
    assert img.size == chart_export.pixel_size(preset)
    band = chart_export.banner_height_px(preset)
    w, _ = img.size
    # the band is black across the full width (corners and middle), white just below it
    for x in (2, w // 4, w - 3):
        assert img.getpixel((x, 2)) == (0, 0, 0)
        assert img.getpixel((x, band - 2)) == (0, 0, 0)
    assert img.getpixel((2, band + 3)) == (255, 255, 255)
    band_pixels = list(img.crop((0, 0, w, band)).get_flattened_data())
    amber = sum(_near(p, "#FFC000") for p in band_pixels)
    red = sum(_near(p, "#FF2B2B") for p in band_pixels)
    assert amber > 200 and red == 0
    # the footer holds dark grey text below the chart
    footer = img.crop((0, img.size[1] - band * 2, w // 2, img.size[1]))
    assert sum(_near(p, chart_export.FOOTER_TEXT, 60) for p in footer.get_flattened_data()) > 100


def test_red_marking_draws_red_label(store) -> None:
    store.incident(tlp="RED", named_recipients=["analyst@uk.example"])
    fig, marking = _figure(store, UK_ANALYST)
    assert marking.tlp == "RED"
    img = Image.open(
        io.BytesIO(chart_export.export_chart(fig, marking, _prov(UK_ANALYST, marking), "png", "a4half"))
    ).convert("RGB")
    band = list(img.crop((0, 0, img.size[0], chart_export.banner_height_px("a4half"))).get_flattened_data())
    assert sum(_near(p, "#FF2B2B") for p in band) > 200
    assert sum(_near(p, "#FFC000") for p in band) == 0


def test_svg_parses_with_banner_chart_and_provenance_footer(amber_store) -> None:
    f = Filters(preset="12m", categories=("Jailbreak", "Data poisoning"), text='<script>alert("x")</script>')
    fig, marking = _figure(amber_store, UK_ANALYST, Filters(categories=("Jailbreak", "Data poisoning")))
    svg = chart_export.export_chart(fig, marking, _prov(UK_ANALYST, marking, f), "svg", "slide")
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert (root.get("width"), root.get("height")) == ("1280", "720")
    banner = root.find(f"{SVG}rect[@id='marking-banner']")
    assert banner is not None and banner.get("fill") == "#000000"
    assert root.find(f"{SVG}svg") is not None, "Plotly's chart is nested below the banner"
    text = _svg_text(svg)
    assert "TLP:AMBER" in text and "releasable to AU and UK" in text
    footer = " ".join(
        "".join(t.itertext()) for t in root.find(f"{SVG}g[@id='provenance']").iter(f"{SVG}text")
    )
    assert f"Filters: {f.describe(TODAY)}" in footer
    assert "Data as of 2026-11-19 08:00" in footer
    assert "generated 2026-11-20 09:30 UTC by Priya Shah (analyst@uk.example, UK analyst)" in footer
    assert "Sources: MITRE ATLAS, Apache-2.0; AI Incident Database, CC BY-SA 4.0" in footer
    # the search phrase is text, not markup
    assert root.find(f".//{SVG}script") is None and b"<script>" not in svg
    assert '<script>alert("x")</script>' in text


def test_sources_are_credited_only_when_their_rows_are_used(store) -> None:
    store.incident(source="institute")
    fig, marking = _figure(store, UK_ANALYST)
    svg = chart_export.export_chart(fig, marking, _prov(UK_ANALYST, marking), "svg")
    assert "Sources:" not in _svg_text(svg)
    assert source_credits(Marking(sources=("epoch", "stix", "aiid"))) == (
        "AI Incident Database, CC BY-SA 4.0",
        "Epoch AI Benchmarking Hub, CC BY 4.0",
    )


def test_export_by_person_not_cleared_never_contains_the_record(store) -> None:
    store.incident(
        category="Model theft",
        originator="UK",
        tlp="AMBER+STRICT",
        releasable_to=["UK"],
        updated_at=datetime(2026, 11, 18, 12, 0),
    )
    store.incident(category="Jailbreak", originator="AU", updated_at=datetime(2026, 10, 1, 9, 0))
    fig_au, m_au = _figure(store, AU_ANALYST)
    as_of_au = chart_export.data_as_of(store.cursor(), AU_ANALYST)
    svg_au = chart_export.export_chart(fig_au, m_au, _prov(AU_ANALYST, m_au, as_of=as_of_au), "svg")
    fig_uk, m_uk = _figure(store, UK_ANALYST)
    as_of_uk = chart_export.data_as_of(store.cursor(), UK_ANALYST)
    svg_uk = chart_export.export_chart(fig_uk, m_uk, _prov(UK_ANALYST, m_uk, as_of=as_of_uk), "svg")
    assert "Model theft" in _svg_text(svg_uk) and "TLP:AMBER+STRICT" in _svg_text(svg_uk)
    assert "Model theft" not in _svg_text(svg_au)
    assert "TLP:GREEN" in _svg_text(svg_au) and "AMBER" not in _svg_text(svg_au)
    # "data as of" is the newest change the viewer may see, so it does not betray the newer UK-only record
    assert as_of_uk == datetime(2026, 11, 18, 12, 0)
    assert as_of_au == datetime(2026, 10, 1, 9, 0)
    assert "Data as of 2026-10-01 09:00" in _svg_text(svg_au)


def test_file_name_carries_date_title_and_marking() -> None:
    m = Marking("AMBER+STRICT", ("UK",))
    assert (
        chart_export.export_filename(
            "Incidents by category & reporting institute", m, "png", date(2026, 11, 20)
        )
        == "2026-11-20_incidents-by-category-reporting-institute_TLP-AMBER-STRICT_REL-UK.png"
    )
    assert (
        chart_export.export_filename("", Marking(), "svg", NOW)
        == "2026-11-20_untitled_TLP-CLEAR_REL-UK-AU.svg"
    )


def test_unknown_format_is_refused(amber_store) -> None:
    fig, marking = _figure(amber_store, UK_ANALYST)
    with pytest.raises(ValueError, match="png or svg"):
        chart_export.export_chart(fig, marking, _prov(UK_ANALYST, marking), "gif")  # type: ignore[arg-type]


def test_export_is_audited_with_who_what_marking_and_filters(store) -> None:
    f = Filters(categories=("Jailbreak",))
    m = Marking("AMBER", ("AU", "UK"))
    record_export(
        store.store, UK_ANALYST, kind="chart", obj="chart:by_category", fmt="png", marking=m, filters=f
    )
    email, action, obj, detail = (
        store.cursor()
        .execute("select email, action, object, detail from audit_log where action = 'export'")
        .fetchone()
    )
    assert (email, action, obj) == ("analyst@uk.example", "export", "chart:by_category")
    assert json.loads(detail) == {
        "kind": "chart",
        "format": "png",
        "marking": "TLP:AMBER · releasable to AU and UK",
        "tlp": "AMBER",
        "releasable_to": ["AU", "UK"],
        # which filters were set, and a digest of their values; never the values (they can be record text)
        "filter_fields": ["cat"],
        "filters_digest": exports_audit.filters_detail(f)["filters_digest"],
    }
    assert "Jailbreak" not in detail


def test_figures_drawn_under_streamlits_template_export_in_the_print_template() -> None:
    import plotly.express as px
    import plotly.graph_objects as go

    # Streamlit makes its own template the process default; it leaves axis automargin off.
    bare = go.layout.Template(layout={"font": {"color": "#31333F"}})
    fig = px.bar(x=[3, 1], y=["AI-enabled cyber intrusion", "Jailbreak"], orientation="h", template=bare)
    spec = chart_export.print_spec(fig, 960, 600)
    layout = spec["layout"]
    assert (layout["width"], layout["height"]) == (960, 600)
    assert layout["template"]["layout"]["yaxis"]["automargin"] is True
    assert layout["xaxis"]["automargin"] is True and layout["yaxis"]["automargin"] is True
    assert fig.layout.template.layout.font.color == "#31333F", "the on-screen figure is left alone"


@pytest.fixture
def drawn(monkeypatch) -> list[dict]:
    """Every figure the chart drawer is asked to draw in this test (each is still drawn)."""
    from analytics.export.chart_drawer import DRAWER

    asked: list[dict] = []
    real = DRAWER.draw

    def counting(spec, *args, **kwargs):
        asked.append(spec)
        return real(spec, *args, **kwargs)

    monkeypatch.setattr(DRAWER, "draw", counting)
    return asked


def test_the_same_chart_is_drawn_once_and_each_export_keeps_its_own_footer(
    amber_store, monkeypatch, drawn
) -> None:
    monkeypatch.setattr(chart_export, "_DRAWN", type(chart_export._DRAWN)())  # an empty cache for this test
    fig, marking = _figure(amber_store, UK_ANALYST)
    mine = chart_export.export_chart(fig, marking, _prov(UK_ANALYST, marking), "svg", "slide")
    theirs = chart_export.export_chart(fig, marking, _prov(AU_ANALYST, marking), "svg", "slide")
    assert len(drawn) == 1  # a colleague's export of the same chart at the same size waits for no new drawing
    assert "Priya Shah" in _svg_text(mine) and "Priya Shah" not in _svg_text(theirs)
    assert _svg_text(mine).replace("Priya Shah", "") != _svg_text(theirs)

    other, _ = _figure(amber_store, UK_ANALYST, Filters(categories=("Jailbreak",)))
    chart_export.export_chart(other, marking, _prov(UK_ANALYST, marking), "svg", "slide")
    chart_export.export_chart(fig, marking, _prov(UK_ANALYST, marking), "svg", "a4half")
    assert len(drawn) == 3  # other data, or another size, is drawn anew


def test_replicas_on_one_machine_draw_a_chart_once(amber_store, monkeypatch, tmp_path, drawn) -> None:
    monkeypatch.setenv("THREAT_CACHE_DIR", str(tmp_path / "shared"))
    fig, marking = _figure(amber_store, UK_ANALYST)
    monkeypatch.setattr(chart_export, "_DRAWN", type(chart_export._DRAWN)())
    one = chart_export.export_chart(fig, marking, _prov(UK_ANALYST, marking), "png", "slide")
    monkeypatch.setattr(chart_export, "_DRAWN", type(chart_export._DRAWN)())  # another replica: nothing drawn
    other = chart_export.export_chart(fig, marking, _prov(UK_ANALYST, marking), "png", "slide")
    assert len(drawn) == 1 and one == other
    assert [p.suffix for p in (tmp_path / "shared").glob("chart-*.pickle")] == [".pickle"]
