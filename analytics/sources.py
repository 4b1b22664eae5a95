"""The public sources this dashboard imports, in one registry: key, display name, licence and credit line.

Why: each public source's licence asks that what is built from it credits it (ATLAS: Apache-2.0, AIID: CC BY-SA
4.0, Epoch: CC BY 4.0). The key is what its importer writes to `source` on every record, so a result's Marking
knows which sources it came from; every screen and export (the matrix, the evaluation pages, chart images, CSV
headers, briefings) turns those keys into credit lines through `source_credits`, the one place they are spelt,
without importing the importers. Add a public source here first, then its importer.
"""

from __future__ import annotations

from typing import NamedTuple

from analytics.access.markings import Marking


class PublicSource(NamedTuple):
    key: str  # incidents.source / eval_runs.source of its records
    name: str
    licence: str
    url: str

    @property
    def credit(self) -> str:
        """The credit line shown with results built from this source."""
        return f"{self.name}, {self.licence}"


ATLAS = PublicSource("atlas", "MITRE ATLAS", "Apache-2.0", "https://atlas.mitre.org/")
AIID = PublicSource("aiid", "AI Incident Database", "CC BY-SA 4.0", "https://incidentdatabase.ai/")
EPOCH = PublicSource(
    "epoch", "Epoch AI Benchmarking Hub", "CC BY 4.0", "https://epoch.ai/data/ai-benchmarking-dashboard"
)

AVID = PublicSource("avid", "AI Vulnerability Database (AVID)", "MIT", "https://avidml.org/")
GARAK = PublicSource("garak", "garak (NVIDIA)", "Apache-2.0", "https://github.com/NVIDIA/garak")
JAILBREAKBENCH = PublicSource(
    "jailbreakbench", "JailbreakBench (Chao et al., 2024)", "MIT", "https://jailbreakbench.github.io/"
)

# In the order credits are listed.
PUBLIC_SOURCES: tuple[PublicSource, ...] = (ATLAS, AIID, EPOCH, AVID, GARAK, JAILBREAKBENCH)
PUBLIC_SOURCE_KEYS: frozenset[str] = frozenset(s.key for s in PUBLIC_SOURCES)

# Records of a public source are nobody's institute reporting: their originator (incidents.originator,
# eval_runs.institute) is this, whoever imported them (issue 15, migration 008).
PUBLIC_ORIGINATOR = "PUBLIC"


def public_source(key: str) -> PublicSource | None:
    """The registered public source with this `source` key, or None for institute reporting and other imports."""
    return next((s for s in PUBLIC_SOURCES if s.key == key), None)


def source_credits(*markings: Marking) -> tuple[str, ...]:
    """The credit lines of the public sources behind a result (the `sources` of its markings), in registry order.

    Other sources (the institutes' own records, STIX and spreadsheet imports) need no licence credit; stored text
    is never part of a credit."""
    keys = {key for marking in markings for key in marking.sources}
    return tuple(s.credit for s in PUBLIC_SOURCES if s.key in keys)
