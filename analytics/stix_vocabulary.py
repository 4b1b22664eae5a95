"""The STIX vocabulary both directions of the exchange share: fixed ids, TLP marking definitions, timestamps.

Why a module of its own, below ingest and export: the STIX import and the STIX export must agree on every id
(the institutes' identities, a record's incident id, an ATLAS technique's attack-pattern id) and marking
definition, or a bundle from one institute's instance would not round-trip into the other's. Before, the export
imported these from the importer (an export -> ingest dependency); now both import them from here.

What it owns: the namespace of this dashboard's deterministic STIX ids, the two institutes' identities, the
identities of the public sources (public data is created by its source, never by an institute), the joint
service that publishes the x_ukau extension-definition (built by analytics/export/stix.py), the TLP 2.0 (and, for reading, TLP 1.0)
marking-definition ids, the source names that mark an ATLAS reference, and STIX's timestamp format. Nothing here
reads a store or parses a bundle.

Ids are UUIDv5 in this dashboard's namespace, not UUIDv4: the same record has the same id in both institutes'
instances and in every export, so a partner recognises an update (STIX 2.1 says identifiers SHOULD be v4 for
SDOs; the validator's warning about it is documented in docs/exchange.md).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import stix2

from analytics.access.markings import INSTITUTES

# TLP 2.0 marking definitions (FIRST, published by OASIS; stix2 3.0.2 ships only TLP 1.0).
TLP2_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP2_CREATED = "2022-10-01T00:00:00.000Z"
TLP2_IDS: dict[str, str] = {
    "CLEAR": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "GREEN": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "AMBER": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "AMBER+STRICT": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "RED": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
# TLP 1.0, as older MISP and OpenCTI instances still send it; read (WHITE becomes CLEAR), never written.
TLP1_IDS: dict[str, str] = {
    "CLEAR": stix2.TLP_WHITE.id,
    "GREEN": stix2.TLP_GREEN.id,
    "AMBER": stix2.TLP_AMBER.id,
    "RED": stix2.TLP_RED.id,
}
KNOWN_MARKINGS: dict[str, str] = {v: k for k, v in TLP2_IDS.items()} | {v: k for k, v in TLP1_IDS.items()}

# Fixed identities of the two institutes, the same in every instance, so either side recognises the other.
STIX_NAMESPACE = uuid.UUID("6f1f3f4e-9c53-4e0b-8a57-2f1d6b1f0a11")
INSTITUTE_NAMES: dict[str, str] = {"UK": "UK AI Security Institute", "AU": "Australian AI Safety Institute"}
INSTITUTE_IDENTITIES: dict[str, str] = {
    inst: f"identity--{uuid.uuid5(STIX_NAMESPACE, f'institute:{inst}')}" for inst in INSTITUTES
}
# The joint service of the pact: the publisher of the extension-definition below (both institutes use it).
JOINT_IDENTITY = f"identity--{uuid.uuid5(STIX_NAMESPACE, 'joint:extension publisher')}"
JOINT_NAME = "UK-AU AI Security Pact joint service"
# The extension-definition declaring the x_ukau_ properties is built, with its id, by analytics/export/stix.py
# (it follows from the record columns); this is its type of extension.
UKAU_EXTENSION_TYPE = "toplevel-property-extension"
# external_references source names that mark an ATLAS technique (spellings seen from MISP, OpenCTI and ATLAS).
ATLAS_SOURCE_NAMES = frozenset({"mitre-atlas", "atlas", "mitre atlas", "mitre-atlas-matrix"})


def public_source_identity(key: str) -> str:
    """The identity that creates the records of public source `key` (ATLAS, AIID ...: analytics/sources.py): public
    data is created by its source, never by an institute; fixed, so both instances recognise it."""
    return f"identity--{uuid.uuid5(STIX_NAMESPACE, f'public source:{key}')}"


def record_stix_id(record_id: str) -> str:
    """The STIX id of an incident that was created in this dashboard (deterministic, same in both instances)."""
    return f"incident--{uuid.uuid5(STIX_NAMESPACE, f'incident:{record_id}')}"


def technique_stix_id(technique_id: str, name: str | None = None) -> str:
    """The attack-pattern id of an ATLAS technique (deterministic, same in both instances). The name is part of
    it: a store without the ATLAS taxonomy names the technique by its id, and one STIX id must never carry two
    different contents (two versions of one object)."""
    key = f"atlas:{technique_id}" if name is None else f"atlas:{technique_id}:{name}"
    return f"attack-pattern--{uuid.uuid5(STIX_NAMESPACE, key)}"


def stix_time(value: datetime) -> str:
    """STIX timestamp, UTC, to the millisecond, or to the microsecond when the value has one (STIX asks for at
    least millisecond precision; keeping microseconds makes the round trip exact)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    fraction = f"{value.microsecond:06d}" if value.microsecond % 1000 else f"{value.microsecond // 1000:03d}"
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + fraction + "Z"
