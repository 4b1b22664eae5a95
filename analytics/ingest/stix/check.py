"""Checking a STIX bundle: parsed with the stix2 library and every reason to refuse it listed; no store touched.

Why a module of its own: the Data page checks a bundle before offering to import it (and the CLI before handing
it to the inbox), so checking must not need the store or the importer. A bundle is refused as a whole, with every
reason, when the stix2 library rejects an object (bad ids, timestamps, missing properties), a marking definition
is unknown, or a reference does not resolve (except the target of a `derived-from` relationship: the third-party
object an export's incident or note was made from, which the receiver need not hold).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import stix2
import stix2.exceptions

from analytics.ingest import ImportRefused, load_json
from analytics.stix_vocabulary import INSTITUTE_IDENTITIES, KNOWN_MARKINGS
from analytics.wording import counted

MAX_BYTES = 48 * 1024 * 1024  # as for spreadsheets: below the server's 50 MB upload cap
_BUNDLE_ID = re.compile(r"bundle--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_REF_KEY = re.compile(r".*_refs?$")
# Types the importer reads (the others are counted in a warning): MISP's unpublished events are groupings, its
# ATLAS galaxy clusters x-misp-galaxy-cluster; our exports declare their x_ukau_ fields in an extension-definition.
STORED_TYPES = frozenset(
    {
        "incident",
        "report",
        "grouping",
        "attack-pattern",
        "x-misp-galaxy-cluster",
        "identity",
        "note",
        "relationship",
        "marking-definition",
        "extension-definition",
    }
)


@dataclass
class BundleCheck:
    """A parsed bundle and what is wrong with it. `reasons` empty means it can be imported."""

    name: str
    objects: dict[str, Any] = field(default_factory=dict)  # id -> stix2 object (repeated ids are refused)
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.reasons

    def summary(self) -> str:
        parts = ", ".join(f"{n} {t}" for t, n in sorted(self.counts.items()))
        return f"{self.name}: {counted(sum(self.counts.values()), 'object')} ({parts})"


def refusal(name: str, reasons: list[str], limit: int = 40) -> str:
    """The one message of a refused bundle: how many problems, then the first `limit` of them."""
    lines = [f"{name}: refused, {counted(len(reasons), 'problem')}", *reasons[:limit]]
    if len(reasons) > limit:
        lines.append(f"... and {len(reasons) - limit} more")
    return "\n".join(lines)


def check_bundle(name: str, data: bytes, *, known_ids: Iterable[str] = ()) -> BundleCheck:
    """Parse and check a bundle without touching a store. `known_ids` are STIX ids already in the store, which
    references may point to."""
    label = Path(name).name or "bundle"
    check = BundleCheck(label)
    if len(data) > MAX_BYTES:
        raise ImportRefused(
            f"{label} is {len(data) / 1_048_576:.0f} MB; the limit is {MAX_BYTES / 1_048_576:.0f} MB per bundle"
        )
    try:
        doc = load_json(label, data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ImportRefused(f"{label}: not a JSON document ({e})") from None
    if not isinstance(doc, dict) or doc.get("type") != "bundle":
        raise ImportRefused(f'{label}: not a STIX bundle (the top level must have "type": "bundle")')
    if not isinstance(doc.get("id"), str) or not _BUNDLE_ID.fullmatch(doc["id"]):
        check.reasons.append(f"bundle id {doc.get('id')!r} is not a valid STIX identifier")
    raw_objects = doc.get("objects") or []
    if not isinstance(raw_objects, list):
        raise ImportRefused(f"{label}: 'objects' must be a list")
    _parse_objects(check, raw_objects)
    _check_references(check, set(known_ids) | set(KNOWN_MARKINGS) | set(INSTITUTE_IDENTITIES.values()))
    other = {t: n for t, n in check.counts.items() if t not in STORED_TYPES}
    if other:
        kinds = ", ".join(f"{t} ({n})" for t, n in sorted(other.items()))
        check.warnings.append(
            f"ignored {counted(sum(other.values()), 'object')} of types not stored here: {kinds}"
        )
    return check


def _describe(obj: Mapping[str, Any], k: int) -> str:
    oid = obj.get("id") if isinstance(obj, Mapping) else None
    return f"object {k} ({oid})" if oid else f"object {k}"


def _parse_objects(check: BundleCheck, raw_objects: list[Any]) -> None:
    """Each object through stix2 into check.objects, or a reason naming it."""
    first_at: dict[str, int] = {}
    for k, raw in enumerate(raw_objects, start=1):
        if not isinstance(raw, dict):
            check.reasons.append(f"object {k} is not a JSON object")
            continue
        where = _describe(raw, k)
        if raw.get("spec_version") not in (None, "2.1") and raw.get("type") != "marking-definition":
            check.reasons.append(f"{where}: spec_version {raw.get('spec_version')!r} is not 2.1")
            continue
        try:
            obj = stix2.parse(raw, allow_custom=True, version="2.1")
        except (stix2.exceptions.STIXError, ValueError, TypeError, KeyError) as e:
            check.reasons.append(f"{where}: {e}")
            continue
        oid = obj["id"]
        check.counts[obj["type"]] += 1
        created, modified = obj.get("created"), obj.get("modified")
        if created is not None and modified is not None and modified < created:
            check.reasons.append(f"{where}: modified {modified} is earlier than created {created}")
            continue
        if oid in first_at:
            # Which of two objects with one id is meant is a guess (the first? the newer?): refuse instead.
            check.reasons.append(
                f"{where}: the id {oid} appears more than once in the bundle (first as object {first_at[oid]})"
            )
            continue
        first_at[oid] = k
        check.objects[oid] = obj


def _check_references(check: BundleCheck, known: set[str]) -> None:
    """Every marking understood and every reference resolved, in the bundle or among `known` ids."""
    for oid, obj in check.objects.items():
        if obj["type"] == "marking-definition" and oid not in KNOWN_MARKINGS:
            check.reasons.append(
                f"{oid}: unknown marking definition ({obj.get('name') or obj.get('definition_type') or 'unnamed'});"
                " only TLP 2.0 and TLP 1.0 markings are understood"
            )
        for key in obj:
            if not _REF_KEY.match(key) or key == "external_references":
                continue
            if (
                key == "target_ref"
                and obj["type"] == "relationship"
                and obj["relationship_type"] == "derived-from"
            ):
                continue  # provenance: the object ours was made from (a MISP event), which the receiver need not hold
            refs = obj[key] if isinstance(obj[key], list) else [obj[key]]
            for ref in refs:
                ref_id = str(ref)
                if ref_id in check.objects or ref_id in known:
                    continue
                if ref_id.startswith("marking-definition--"):
                    check.reasons.append(f"{oid}: {key} names an unknown marking definition {ref_id}")
                else:
                    check.reasons.append(f"{oid}: {key} refers to {ref_id}, which is not in the bundle")
        for gm in obj.get("granular_markings") or []:
            ref = gm.get("marking_ref")
            if ref and ref not in KNOWN_MARKINGS and ref not in check.objects:
                check.reasons.append(f"{oid}: granular marking names an unknown marking definition {ref}")
