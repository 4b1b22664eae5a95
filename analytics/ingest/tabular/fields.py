"""What a spreadsheet or JSON file may hold: the target tables, their fields, aliases and Arrow types.

Why: reading, mapping, converting and committing all need the same field table; it lives here, below them, so
none of them imports another for it. A field's `kind` names its converter in analytics.ingest.tabular.convert.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

SOURCE_TAG = "spreadsheet"  # incidents.source / eval_runs.source: provenance shown in credits

Target = Literal["incidents", "eval_runs"]
TARGETS: dict[str, str] = {"incidents": "Incidents", "eval_runs": "Evaluation results"}
Progress = Callable[[str, float], None]  # (step, fraction done), for a progress bar


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str  # converter name in CONVERTERS
    required: bool = False
    aliases: tuple[str, ...] = ()
    help: str = ""


_MARKING_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("tlp", "tlp", aliases=("tlp_marking", "marking", "traffic_light", "handling"), help="TLP 2.0"),
    FieldSpec(
        "releasable_to",
        "releasable",
        aliases=("releasable", "releasability", "rel_to", "release_to", "rel"),
        help="UK, AU or both",
    ),
    FieldSpec(
        "named_recipients",
        "emails",
        aliases=("recipients", "named", "red_recipients"),
        help="emails, required for TLP:RED",
    ),
)

FIELDS: dict[str, tuple[FieldSpec, ...]] = {
    "incidents": (
        FieldSpec("id", "id", aliases=("incident_id", "ref", "reference", "identifier", "incident_ref")),
        FieldSpec("title", "title", True, ("name", "headline", "incident", "incident_title", "subject")),
        FieldSpec("summary", "long_text", aliases=("description", "details", "narrative", "notes")),
        FieldSpec(
            "occurred_on",
            "date",
            True,
            ("date", "occurred", "incident_date", "event_date", "date_of_incident", "first_seen", "when"),
        ),
        FieldSpec(
            "occurred_precision",
            "date_precision",
            aliases=("date_precision", "date_granularity", "precision", "granularity"),
            help="day, month or year; day when absent",
        ),
        FieldSpec("reported_on", "date", aliases=("reported", "report_date", "date_reported")),
        FieldSpec("originator", "institute", aliases=("institute", "reported_by", "reporting_institute")),
        FieldSpec("category", "category", True, ("type", "incident_type", "threat_type", "threat_category")),
        FieldSpec("severity", "severity", True, ("impact", "severity_level", "sev")),
        FieldSpec(
            "actor_type", "actor_type", aliases=("actor", "threat_actor", "adversary", "actor_category")
        ),
        FieldSpec("sectors", "sectors", aliases=("sector", "industry", "industries")),
        FieldSpec("countries", "countries", aliases=("country", "location", "locations")),
        FieldSpec("affected_system", "text", aliases=("system", "ai_system", "affected_model", "model")),
        FieldSpec("developer", "text", aliases=("vendor", "model_developer", "provider")),
        FieldSpec("status", "incident_status", aliases=("state", "incident_status")),
        *_MARKING_FIELDS,
        FieldSpec("source_reliability", "reliability", aliases=("reliability", "admiralty_source")),
        FieldSpec("credibility", "credibility", aliases=("information_credibility", "admiralty_credibility")),
        FieldSpec("tags", "tags", aliases=("labels", "keywords")),
        FieldSpec(
            "techniques",
            "techniques",
            aliases=("technique", "atlas", "atlas_techniques", "atlas_technique", "ttps", "technique_ids"),
        ),
    ),
    "eval_runs": (
        FieldSpec("run_id", "id", aliases=("id", "eval_id", "run", "log_id")),
        FieldSpec("institute", "eval_institute", aliases=("evaluator", "run_by", "lab")),
        FieldSpec("model", "title", True, ("model_name", "model_version", "system")),
        FieldSpec("model_developer", "text", aliases=("developer", "organization", "organisation", "org")),
        FieldSpec("model_release_date", "date", aliases=("release_date", "released", "model_release")),
        FieldSpec("benchmark", "title", True, ("task", "eval", "evaluation", "benchmark_name", "suite")),
        FieldSpec("task_version", "text", aliases=("version", "benchmark_version")),
        FieldSpec("eval_date", "date", aliases=("date", "evaluated_on", "run_date", "evaluation_date")),
        FieldSpec("metric", "text", aliases=("measure", "score_metric")),
        FieldSpec("score", "score", True, ("value", "result", "accuracy", "best_score")),
        FieldSpec("stderr", "nonneg_float", aliases=("standard_error", "se", "std_err")),
        FieldSpec("n_samples", "count", aliases=("samples", "n", "sample_count")),
        FieldSpec("status", "eval_status", aliases=("state", "run_status")),
        *_MARKING_FIELDS,
    ),
}

ARROW_TYPES: dict[str, pa.DataType] = {
    "id": pa.string(),
    "title": pa.string(),
    "long_text": pa.string(),
    "text": pa.string(),
    "date": pa.date32(),
    "date_precision": pa.string(),
    "institute": pa.string(),
    "eval_institute": pa.string(),
    "category": pa.string(),
    "severity": pa.int8(),
    "actor_type": pa.string(),
    "sectors": pa.list_(pa.string()),
    "countries": pa.list_(pa.string()),
    "incident_status": pa.string(),
    "eval_status": pa.string(),
    "tlp": pa.string(),
    "releasable": pa.list_(pa.string()),
    "emails": pa.list_(pa.string()),
    "reliability": pa.string(),
    "credibility": pa.int8(),
    "tags": pa.list_(pa.string()),
    "techniques": pa.list_(pa.string()),
    "score": pa.float64(),
    "nonneg_float": pa.float64(),
    "count": pa.int32(),
}


def as_target(value: str) -> Target:
    """A target name from a widget or the command line, checked."""
    if value == "incidents":
        return "incidents"
    if value == "eval_runs":
        return "eval_runs"
    raise ValueError(f"unknown record type {value!r}; expected incidents or eval_runs")


def field_names(target: Target) -> list[str]:
    return [f.name for f in FIELDS[target]]


def required_fields(target: Target) -> list[str]:
    return [f.name for f in FIELDS[target] if f.required]


def norm_name(name: str) -> str:
    """A column or label compared loosely: lower case, runs of other characters as one underscore."""
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")
