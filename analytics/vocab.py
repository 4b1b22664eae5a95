"""Controlled vocabularies shared by the generator, importers, filters and charts."""

from __future__ import annotations

CATEGORIES: tuple[str, ...] = (
    "AI-enabled cyber intrusion",
    "Agentic system misuse",
    "Prompt injection",
    "Jailbreak",
    "Disinformation campaign",
    "Deepfake fraud",
    "Data poisoning",
    "Model theft",
    "Privacy and data leakage",
    "Safety failure",
)

SECTORS: tuple[str, ...] = (
    "finance",
    "defence",
    "education",
    "healthcare",
    "government",
    "energy",
    "telecommunications",
    "critical infrastructure",
    "technology",
    "media",
    "retail",
)

ACTOR_TYPES: tuple[str, ...] = (
    "state-sponsored",
    "criminal",
    "hacktivist",
    "insider",
    "researcher",
    "autonomous agent",
    "unknown",
)

SEVERITY_LABELS: dict[int, str] = {1: "negligible", 2: "low", 3: "moderate", 4: "high", 5: "critical"}

STATUSES: tuple[str, ...] = ("new", "triaged", "investigating", "confirmed", "closed")
# How much of an incident's date its source knows (incidents.occurred_precision, migration 008): a month- or
# year-precision date is stored as the 1st and must not be read as that day.
DATE_PRECISIONS: tuple[str, ...] = ("day", "month", "year")

COUNTRIES: tuple[str, ...] = (
    "GB",
    "AU",
    "US",
    "NZ",
    "CA",
    "SG",
    "JP",
    "DE",
    "FR",
    "IN",
    "KR",
    "CN",
    "RU",
    "IR",
    "KP",
)

SOURCE_RELIABILITY: tuple[str, ...] = ("A", "B", "C", "D", "E", "F")
RELIABILITY_MEANING: dict[str, str] = {
    "A": "completely reliable",
    "B": "usually reliable",
    "C": "fairly reliable",
    "D": "not usually reliable",
    "E": "unreliable",
    "F": "reliability cannot be judged",
}
CREDIBILITY_MEANING: dict[int, str] = {
    1: "confirmed",
    2: "probably true",
    3: "possibly true",
    4: "doubtful",
    5: "improbable",
    6: "truth cannot be judged",
}
