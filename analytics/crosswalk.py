"""Crosswalk from MITRE ATLAS techniques to this dashboard's incident categories (analytics.vocab.CATEGORIES).

Why: a partner's STIX incident often names its ATLAS techniques (attack patterns) but none of our categories. The
importer then infers the category from the techniques: the category whose techniques it shares most of (ties go
to the category listed first in analytics.vocab). Real records must be classified with product vocabulary that
is stated, owned and tested, never with the demo generator's sampling table, so the table lives here with the
other vocabularies; the demo draws its synthetic techniques from it, not the other way round.

Where it comes from: for each category, the ATLAS 5.6 techniques (Apache-2.0, https://atlas.mitre.org/) whose
published descriptions match it, most characteristic first. It was first written for the demo data set and is
adopted here unchanged, so imports classify as before; it is this project's judgement, not part of ATLAS. When
ATLAS or the categories change, change it here and in tests/analytics/test_crosswalk.py.
"""

from __future__ import annotations

from collections.abc import Iterable

from analytics import vocab

CATEGORY_TECHNIQUES: dict[str, tuple[str, ...]] = {
    "AI-enabled cyber intrusion": (
        "AML.T0102",  # Generate Malicious Commands
        "AML.T0049",  # Exploit Public-Facing Application
        "AML.T0052",  # Phishing
        "AML.T0072",  # Reverse Shell
        "AML.T0025",  # Exfiltration via Cyber Means
        "AML.T0017",  # Develop Capabilities
    ),
    "Agentic system misuse": ("AML.T0053", "AML.T0103", "AML.T0086", "AML.T0101", "AML.T0098", "AML.T0080"),
    "Prompt injection": (
        "AML.T0051.001",  # Indirect
        "AML.T0051.000",  # Direct
        "AML.T0051",  # LLM Prompt Injection
        "AML.T0070",  # RAG Poisoning
        "AML.T0057",  # LLM Data Leakage
        "AML.T0056",  # Extract LLM System Prompt
    ),
    "Jailbreak": ("AML.T0054", "AML.T0065", "AML.T0068", "AML.T0040", "AML.T0048"),
    "Disinformation campaign": ("AML.T0048", "AML.T0047", "AML.T0088", "AML.T0016", "AML.T0073"),
    "Deepfake fraud": ("AML.T0088", "AML.T0073", "AML.T0052", "AML.T0048"),
    "Data poisoning": ("AML.T0020", "AML.T0019", "AML.T0070", "AML.T0031", "AML.T0110"),
    "Model theft": ("AML.T0024", "AML.T0035", "AML.T0044", "AML.T0025", "AML.T0055"),
    "Privacy and data leakage": ("AML.T0057", "AML.T0024", "AML.T0056", "AML.T0040"),
    "Safety failure": ("AML.T0048", "AML.T0047", "AML.T0031", "AML.T0015"),
}


def category_for_techniques(techniques: Iterable[str]) -> str | None:
    """The category sharing the most of `techniques` (the first in vocab order on a tie); None if none shares
    any."""
    given = set(techniques)
    if not given:
        return None
    scores = {cat: len(given & set(techs)) for cat, techs in CATEGORY_TECHNIQUES.items()}
    best = max(vocab.CATEGORIES, key=lambda c: scores.get(c, 0))
    return best if scores.get(best, 0) > 0 else None
