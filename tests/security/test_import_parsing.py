"""Issue 22 findings 12 and 13: hostile files are refused in one line, naming the file, row, object or field.

Deeply nested JSON (a few hundred KB of brackets) used to crash the importers with a RecursionError; a STIX
bundle repeating an id was accepted keeping the first object; NUL and other control characters were stored in
titles. Each is now refused, and nothing is written.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from analytics.ingest import ImportRefused
from analytics.ingest.stix.commit import import_stix, import_stix_bytes
from analytics.ingest.tabular.commit import commit, import_tabular
from analytics.ingest.tabular.mapping import auto_mapping
from analytics.ingest.tabular.read import read_tabular
from analytics.ingest.tabular.validate import validate
from analytics.stix_vocabulary import TLP2_CREATED, TLP2_EXTENSION, TLP2_IDS
from tests.conftest import AU_ANALYST

DEEP = 200_000  # about 400 KB of brackets


def _one_line_naming(e: pytest.ExceptionInfo[ImportRefused], name: str) -> None:
    text = str(e.value)
    assert "\n" not in text and name in text and "deep" in text, text


@pytest.mark.parametrize(
    "name, data",
    [
        ("deep.json", b"[" * DEEP + b"]" * DEEP),
        ("deep-cell.json", b'[{"title": ' + b"[" * DEEP + b"]" * DEEP + b"}]"),
        ("deep.jsonl", b'{"title": "a"}\n{"title": ' + b"[" * DEEP + b"]" * DEEP + b"}\n"),
        ("shallow-but-deep.json", b'[{"title": ' + b'{"a": ' * 100 + b"1" + b"}" * 100 + b"}]"),
    ],
)
def test_deeply_nested_json_is_refused_in_one_line(name: str, data: bytes) -> None:
    with pytest.raises(ImportRefused) as e:
        read_tabular(name, data)
    _one_line_naming(e, name)


def test_deeply_nested_json_through_the_cli_path(store, tmp_path: Path) -> None:
    p = tmp_path / "deep.json"
    p.write_bytes(b"[" * DEEP + b"]" * DEEP)
    with pytest.raises(ImportRefused) as e:
        import_tabular(store.store, p, actor="ops", institute="UK", tlp="GREEN", releasable=["UK"])
    _one_line_naming(e, "deep.json")


def _bundle(*objects: Any) -> bytes:
    return json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": list(objects)}).encode()


def _marking() -> dict[str, Any]:
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": TLP2_IDS["GREEN"],
        "created": TLP2_CREATED,
        "name": "TLP:GREEN",
        "extensions": {TLP2_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": "green"}},
    }


def _incident(**kw: Any) -> dict[str, Any]:
    obj = {
        "type": "incident",
        "spec_version": "2.1",
        "id": f"incident--{uuid.uuid4()}",
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "name": "Incident",
        "labels": ["jailbreak"],
        "object_marking_refs": [TLP2_IDS["GREEN"]],
        "x_ukau_category": "Jailbreak",
        "x_ukau_releasable_to": ["UK", "AU"],
    }
    obj.update(kw)
    return obj


def _import_stix(store: Any, data: bytes) -> Any:
    return import_stix_bytes(
        store.store,
        "hostile.json",
        data,
        actor="",
        institute=None,
        tlp=None,
        releasable=None,
        viewer=AU_ANALYST,
    )


@pytest.mark.parametrize(
    "data",
    [
        b'{"type": "bundle", "objects": ' + b"[" * DEEP + b"]" * DEEP + b"}",
        _bundle(_marking(), _incident(x_ukau_deep=json.loads("[" * 500 + "]" * 500))),
    ],
)
def test_deeply_nested_stix_is_refused_in_one_line(store, data: bytes) -> None:
    with pytest.raises(ImportRefused) as e:
        _import_stix(store, data)
    _one_line_naming(e, "hostile.json")
    assert store.cursor().execute("select count(*) from incidents").fetchall() == [(0,)]


def test_deeply_nested_stix_from_a_file(store, tmp_path: Path) -> None:
    p = tmp_path / "deep-bundle.json"
    p.write_bytes(b"[" * DEEP + b"]" * DEEP)
    with pytest.raises(ImportRefused) as e:
        import_stix(store.store, p, actor="ops", institute="UK", tlp=None, releasable=None)
    _one_line_naming(e, "deep-bundle.json")


def test_a_bundle_with_a_repeated_id_is_refused_naming_it(store) -> None:
    first = _incident(name="First")
    second = dict(first, name="Second")
    with pytest.raises(ImportRefused) as e:
        _import_stix(store, _bundle(_marking(), first, second))
    assert first["id"] in str(e.value) and "more than once" in str(e.value)
    assert store.cursor().execute("select count(*) from incidents").fetchall() == [(0,)]


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x0b"])
def test_control_characters_in_a_spreadsheet_are_refused_naming_row_and_field(store, char: str) -> None:
    data = (
        "id,title,occurred_on,category,severity,tlp,releasable_to\n"
        "C-1,Fine\tline,2026-05-01,Jailbreak,3,GREEN,UK;AU\n"
        f"C-2,Bad{char}title,2026-05-01,Jailbreak,3,GREEN,UK;AU\n"
    ).encode()
    tf = read_tabular("ctl.csv", data)
    plan = validate(
        store.cursor(),
        tf,
        target="incidents",
        mapping=auto_mapping(tf.columns, "incidents"),
        institute="AU",
        tlp=None,
        releasable=None,
        viewer=AU_ANALYST,
    )
    assert [p.text() for p in plan.problems] == [
        f"row 2, column 'title': contains the control character U+{ord(char):04X}; only tab and line breaks "
        "are allowed in text"
    ]
    with pytest.raises(ImportRefused):
        commit(store.store, plan, actor="", viewer=AU_ANALYST)
    assert store.cursor().execute("select count(*) from incidents").fetchall() == [(0,)]


def test_control_characters_in_a_stix_name_are_refused_naming_the_object(store) -> None:
    bad = _incident(name="NUL\x00inside")
    with pytest.raises(ImportRefused) as e:
        _import_stix(store, _bundle(_marking(), bad))
    assert bad["id"] in str(e.value) and "U+0000" in str(e.value)
    assert store.cursor().execute("select count(*) from incidents").fetchall() == [(0,)]
