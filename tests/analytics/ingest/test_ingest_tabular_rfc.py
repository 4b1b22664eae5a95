"""RFC 4180 CSV read exactly (only the delimiter is sniffed), the JSON shapes, paths into nested records and the
timestamps real tools write."""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from analytics.ingest import ImportRefused
from analytics.ingest.tabular.convert import BadCell, parse_date, parse_timestamp
from analytics.ingest.tabular.read import read_path, read_tabular, with_paths

QUOTED_LINE = '"The model was told ""reveal the system prompt"" and did"'
QUOTED_VALUE = 'The model was told "reveal the system prompt" and did'


def standard_csv(rows: list[list[str]], delimiter: str = ",") -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buf.getvalue()


def test_doubled_quotes_are_one_quote_even_when_every_row_is_quoted() -> None:
    # The file that fooled csv.Sniffer into doublequote=False: the cell with "" comes after its 8 KB sample.
    lines = [f'X-{k},"Title {k}, quoted",2025-03-05' for k in range(200)]
    lines.insert(197, f"X-Q,{QUOTED_LINE},2025-03-05")
    tf = read_tabular("p.csv", ("id,title,occurred_on\r\n" + "\r\n".join(lines) + "\r\n").encode())
    assert len(tf.rows) == 201
    assert tf.rows[197] == ["X-Q", QUOTED_VALUE, "2025-03-05"]
    assert not tf.shape_problems


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_embedded_newlines_quotes_and_delimiters_round_trip(delimiter: str) -> None:
    cells = [
        ["id", "title", "summary"],
        ["A", QUOTED_VALUE, "line one\nline two; with, every | delimiter\ttab"],
        ["B", 'ends with a quote "', ""],
        ["C", "  spaces kept inside  ", '""'],
    ]
    tf = read_tabular("p.csv", standard_csv(cells, delimiter).encode())
    assert tf.columns == cells[0]
    assert tf.rows == cells[1:]


def test_bom_semicolons_and_windows_1252_together() -> None:
    text = standard_csv([["id", "titre"], ["A", "“Café” — 5 €"], ["B", QUOTED_VALUE]], ";")
    tf = read_tabular("p.csv", text.encode("cp1252"))
    assert tf.encoding == "latin-1 (windows-1252)"
    assert tf.rows == [["A", "“Café” — 5 €"], ["B", QUOTED_VALUE]]
    tf = read_tabular("p.csv", codecs.BOM_UTF8 + text.encode())
    assert tf.encoding == "utf-8-sig" and tf.columns == ["id", "titre"]


def test_an_unterminated_quote_is_refused_naming_the_row() -> None:
    with pytest.raises(ImportRefused, match=r"p\.csv"):
        read_tabular("p.csv", b'id,title\nA,"open\nB,two\n')


def test_a_single_json_object_is_one_record_and_a_folder_is_every_file(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.json").write_text(json.dumps({"id": "1", "x": {"y": [{"z": "deep"}]}}))
    (tmp_path / "two.jsonl").write_text(json.dumps({"id": "2"}) + "\n" + json.dumps({"id": "3"}) + "\n")
    (tmp_path / "notes.txt").write_text("ignored")
    tf = read_path(tmp_path)
    assert tf.format == "json"
    assert [r[0] for r in tf.rows] == ["1", "2", "3"]
    tf = with_paths(tf, ["x.y[0].z", "x.y[*].z"])
    assert tf.rows[0][tf.columns.index("x.y[0].z")] == "deep"
    assert tf.rows[0][tf.columns.index("x.y[*].z")] == ["deep"]
    assert tf.rows[1][tf.columns.index("x.y[0].z")] is None


@pytest.mark.parametrize("path", ["a..b", "a[x].b", "a.b[", ".a"])
def test_a_malformed_path_is_named(path: str) -> None:
    tf = read_tabular("r.json", json.dumps([{"a": {"b": 1}}]).encode())
    with pytest.raises(ImportRefused, match=re.escape(repr(path))):
        with_paths(tf, [path])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-10-02 10:37:26.511331+00:00Z", datetime(2024, 10, 2, 10, 37, 26, 511331, UTC)),
        ("2024-10-02T10:37:26Z", datetime(2024, 10, 2, 10, 37, 26, tzinfo=UTC)),
        ("2024-10-02T10:37:26.5+05:30", datetime(2024, 10, 2, 5, 7, 26, 500000, UTC)),
        ("2024-10-02T10:37:26-0400", datetime(2024, 10, 2, 14, 37, 26, tzinfo=UTC)),
        ("2024-10-02 10:37", datetime(2024, 10, 2, 10, 37, tzinfo=UTC)),
        ("2024-10-02", datetime(2024, 10, 2, tzinfo=UTC)),
    ],
)
def test_timestamps_real_tools_write(raw: str, expected: datetime) -> None:
    assert parse_timestamp(raw) == expected
    assert parse_date(raw) == date(2024, 10, 2)


def test_a_bad_timestamp_says_why() -> None:
    with pytest.raises(BadCell, match="is not a timestamp"):
        parse_timestamp("2024-10-02 25:00")
