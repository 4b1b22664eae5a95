"""The Data exchange page in Chromium: upload a partner CSV, see the validation report, import the valid rows,
download the rejected rows and a STIX bundle, and undo the batch. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.browser.conftest import BUSY, Server, build_demo_db, open_expander, rerun, sign_in, wait_idle

PARTNER_CSV = (
    "Ref,Headline,Incident Date,Threat Type,Impact,Industry,Marking,Releasability\n"
    "CERT-101,Voice-clone CFO fraud at regional bank,05/03/2026,Deepfake fraud,4,finance,AMBER,UK;AU\n"
    "CERT-102,Agent exfiltrated CRM records via tool call,12/03/2026,Agentic system misuse,5,finance; retail,"
    "GREEN,UK;AU\n"
    "CERT-103,Jailbreak kit sold on forum,31/02/2026,Jailbreak,3,technology,GREEN,UK;AU\n"
    "CERT-104,Poisoned fine-tuning set,20/03/2026,Data poisoning,9,banking,GREEN,UK;AU\n"
)


@pytest.fixture(scope="module")
def data_server(tmp_path_factory: pytest.TempPathFactory):
    # A server of its own: this test writes to the store.
    db = build_demo_db(tmp_path_factory.mktemp("data-page") / "data.duckdb", incidents=1500)
    s = Server(db)
    yield s
    s.stop()


def open_data_page(page, server) -> None:
    page.set_viewport_size({"width": 1400, "height": 2400})
    sign_in(page, server.url, "analyst@uk.example")
    with rerun(page):
        page.get_by_test_id("stSidebarNav").get_by_text("Data exchange", exact=True).click()
    page.get_by_test_id("stMain").get_by_text("TLP:").first.wait_for(timeout=BUSY)


def test_upload_validate_import_valid_rows_and_undo(page, data_server, shots, tmp_path: Path) -> None:
    open_data_page(page, data_server)
    page.screenshot(path=str(shots / "data-exchange-start.png"))

    src = tmp_path / "CERT-AU_weekly_2026-03.csv"
    src.write_text(PARTNER_CSV, encoding="utf-8-sig")
    with rerun(page):
        page.locator("input[type=file]").first.set_input_files(str(src))
    main = page.get_by_test_id("stMain")
    main.get_by_text("3 problems in 2 of 4 rows").wait_for(timeout=BUSY)
    assert page.get_by_test_id("stException").count() == 0
    page.screenshot(path=str(shots / "data-exchange-validation.png"))

    # the mapping the page chose, as the file `python -m analytics import csv --mapping FILE` reads
    open_expander(page, main.get_by_test_id("stExpander").filter(has_text="Column mapping"))
    with page.expect_download() as dl:
        main.get_by_test_id("stDownloadButton").filter(has_text="Download this mapping").click()
    saved = json.loads(Path(dl.value.path()).read_text())
    assert saved["format"] == "ukau-column-mapping" and saved["target"] == "incidents"
    assert saved["mapping"]["Headline"] == "title" and saved["mapping"]["Threat Type"] == "category"
    assert saved["source"] == "cert au weekly"

    with page.expect_download() as dl:
        main.get_by_test_id("stDownloadButton").filter(has_text="Rejected rows").click()
    rejected = Path(dl.value.path()).read_text(encoding="utf-8-sig")
    marking_line, _, body = rejected.partition("\n")
    assert marking_line.startswith("# TLP:")  # a marked export like every other
    rows = list(csv.reader(io.StringIO(body)))
    assert [r[0] for r in rows[1:]] == ["3", "4"]
    assert "not a real date" in rows[1][-1]

    with rerun(page):
        main.get_by_text("Import only the 2 valid rows").click()
    with rerun(page):
        main.get_by_role("button", name="Import valid rows").click()
    main.get_by_text("2 added").first.wait_for(timeout=BUSY)
    wait_idle(page)
    page.screenshot(path=str(shots / "data-exchange-imported.png"))

    # the new records go out in the partner bundle
    with page.expect_download() as dl:
        main.get_by_test_id("stDownloadButton").filter(has_text="STIX bundle for AU").click()
    bundle = json.loads(Path(dl.value.path()).read_text())
    assert dl.value.suggested_filename.startswith("stix-for-AU_TLP-")
    ids = {o.get("x_ukau_id") for o in bundle["objects"] if o["type"] == "incident"}
    assert {"UK-CERT-101", "UK-CERT-102"} <= ids  # stored in the importer's namespace (docs/access-model.md)

    page.get_by_role("tab", name="Import history").click()
    wait_idle(page)
    main.get_by_text("Undo an import").wait_for(timeout=BUSY)
    page.screenshot(path=str(shots / "data-exchange-history.png"))
    with rerun(page):
        main.get_by_text("Remove every record this batch added").click()
    with rerun(page):
        main.get_by_role("button", name="Undo batch").click()
    main.get_by_text("2 records removed").wait_for(timeout=BUSY)
    wait_idle(page)
    assert page.get_by_test_id("stException").count() == 0
    page.screenshot(path=str(shots / "data-exchange-undone.png"))
    page.get_by_role("tab", name="Inbox").click()
    wait_idle(page)
    page.screenshot(path=str(shots / "data-exchange-inbox.png"))
