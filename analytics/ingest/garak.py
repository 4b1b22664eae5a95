"""Import garak run reports and calibration files: `python -m analytics import garak PATH`.

garak (NVIDIA's LLM vulnerability scanner, Apache-2.0, https://github.com/NVIDIA/garak) writes one
`<prefix>.report.jsonl` per scan: one JSON object per line, told apart by `entry_type`:

- `start_run setup`: the run's configuration, flattened (`plugins.target_type` / `plugins.target_name`, called
  `plugins.model_type` / `plugins.model_name` before garak 0.14; `transient.starttime_iso`, `transient.run_id`,
  `run.eval_threshold`);
- `init`: `garak_version`, `start_time`, `run` (the run's uuid);
- `attempt`: one prompt sent to the target, written when generated (`status` 1) and again once the detectors
  scored it (`status` 2) with `detector_results` {detector: [one score per output]}; `prompt` is a string (old
  reports) or a conversation `{"turns": [{"role", "content": {"text"}}]}`; `outputs` strings or `{"text"}`;
- `eval`: the verdict per probe x detector: `passed` of `total_evaluated` (`total` in old reports);
- `completion`, `digest`: the end time and garak's own summary (not needed: the evals say it all).

What is written, in one transaction, as public data (source `garak`, institute PUBLIC whoever imports it,
TLP:CLEAR releasable to UK and AU unless a higher marking is given; credited through analytics.sources):

- one evaluation run per probe x detector of each report: model = the target name (else the target type),
  benchmark `garak <probe> / <detector>`, metric `pass rate` (share of outputs the detector passed: higher is
  better for the model), score = passed / total_evaluated, n_samples = total_evaluated, eval date = the run's
  start time (the `init` entry, else the setup's `transient.starttime_iso`; garak writes variants such as
  `2024-10-02 10:37:26.511331+00:00Z`, all read by `parse_garak_time`);
- each scored attempt output a sample of its run: sample id = the attempt's `seq`, epoch = the output's
  position (1-based; garak's `generations`), score 1 if it passed (detector score below the run's
  `eval_threshold`, 0.5 by default) else 0, so a run's score is the mean of its samples as paired comparisons
  expect; the detector's own score is kept in the sample's `metadata`, with the prompt (`input`), the output
  (`output`) and the probe's goal (`target`);
- each calibration file (`calibration*.json`: {"probe/detector": {"mu", "sigma", "sw_p"}}) as runs of the
  pseudo-model `garak calibration bag` (task_version = the calibration release), one per probe/detector, with
  score = mu (the bag's mean pass rate). sigma is the spread of pass rates ACROSS the bag's reference models, not
  the uncertainty of the mean: it is kept in details (`bag_sigma`, with `sw_p`, the Shapiro-Wilk p-value) and
  stderr stays NULL, so no chart draws it as an error bar. Why runs of a pseudo-model rather than a table of their
  own: a baseline then sits beside the models it calibrates on the same benchmark in every existing view and
  comparison, marked and credited like any public run, with no new table to keep marked; its `details.kind` is
  `calibration` so a view can leave it out. `calibration.json`, which garak ships as a pointer naming the current
  release, is skipped with a warning.

Bad input (not JSON, no setup/init entry, no model, an unreadable time, an eval without counts) is refused naming
the file, line and field; the store is unchanged. Run ids derive from the garak run uuid (or the calibration
release) with probe and detector, so a second import of the same files changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import pyarrow as pa

from analytics import sources
from analytics.ingest import (
    ImportRefused,
    ImportReport,
    load_json,
    new_batch_id,
    public_marking,
    record_batch,
)
from analytics.ingest.inspect_logs import ParsedRun, write_runs
from analytics.store import audit
from analytics.store.database import Store

SOURCE = sources.GARAK.key  # the registry in analytics.sources states key, licence and credit
CALIBRATION_MODEL = "garak calibration bag"
METRIC = "pass rate"
DEFAULT_THRESHOLD = 0.5
MAX_FILE_BYTES = 200 * 1024**2
MAX_TEXT = 20_000  # characters of a prompt or an output kept per sample


# -- samples with their content (shared with the JailbreakBench importer) -----------------------------------


class ContentSample(NamedTuple):
    """One eval_samples row without its run_id, with the sample's content (migration 009)."""

    sample_id: str
    epoch: int
    score: float | None
    value: str | None
    input: str | None
    target: str | None
    output: str | None
    explanation: str | None
    metadata: str | None  # JSON text


@dataclass
class ContentRun:
    """A run ready for inspect_logs.write_runs plus its samples with content."""

    run: ParsedRun
    samples: list[ContentSample] = field(default_factory=list)


def fingerprint(row: dict[str, Any], samples: Sequence[ContentSample]) -> str:
    """The content hash write_runs compares: a run whose row and samples are unchanged is left alone."""
    digest = hashlib.sha256()
    digest.update(json.dumps(row, sort_keys=True, default=str).encode())
    digest.update(json.dumps([list(s) for s in samples], default=str).encode())
    return digest.hexdigest()


def make_run(
    file: str, row: dict[str, Any], details: dict[str, Any], samples: list[ContentSample]
) -> ContentRun:
    """A ContentRun whose details carry the fingerprint of the row, its details and its samples."""
    full = {**row, "details": details}
    fp = fingerprint(full, samples)
    details["content_hash"] = fp
    return ContentRun(ParsedRun(file, full, [], [], fp), samples)


_SAMPLE_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("sample_id", pa.string()),
        ("epoch", pa.int32()),
        ("score", pa.float64()),
        ("value", pa.string()),
        ("input", pa.string()),
        ("target", pa.string()),
        ("output", pa.string()),
        ("explanation", pa.string()),
        ("metadata", pa.string()),
    ]
)


def write_content_runs(
    con: duckdb.DuckDBPyConnection,
    runs: Sequence[ContentRun],
    report: ImportReport,
    *,
    tlp: str,
    releasable: list[str],
    actor: str,
) -> None:
    """Write the runs as PUBLIC through write_runs (unchanged runs skipped, changed ones replaced with history,
    markings never lowered), then the samples of the runs this batch wrote, content included."""
    write_runs(
        con,
        [r.run for r in runs],
        report,
        institute=sources.PUBLIC_ORIGINATOR,
        tlp=tlp,
        releasable=releasable,
        actor=actor,
    )
    ids = [r.run.row["run_id"] for r in runs]
    written = {
        rid
        for (rid,) in con.execute(
            "select run_id from eval_runs where run_id = any(?) and import_batch = ?", [ids, report.batch_id]
        ).fetchall()
    }
    rows = [(r.run.row["run_id"], *s) for r in runs if r.run.row["run_id"] in written for s in r.samples]
    if not rows:
        return
    table = pa.Table.from_pylist(
        [dict(zip(_SAMPLE_SCHEMA.names, row, strict=True)) for row in rows], _SAMPLE_SCHEMA
    )
    cols = ", ".join(_SAMPLE_SCHEMA.names)
    con.register("incoming_content_samples", table)
    try:
        con.execute(
            f"insert into eval_samples ({cols}) select run_id, sample_id, epoch, score, value, input, target, "
            "output, explanation, metadata::json from incoming_content_samples"
        )
    finally:
        con.unregister("incoming_content_samples")


def clip(text: Any) -> str | None:
    """Sample text as stored: None stays None, anything else a string of at most MAX_TEXT characters."""
    if text is None:
        return None
    s = text if isinstance(text, str) else json.dumps(text, ensure_ascii=False, default=str)
    return s[:MAX_TEXT]


# -- garak's timestamps -------------------------------------------------------------------------------------

_ZONE_AND_Z = re.compile(r"([+-]\d{2}:?\d{2})Z$")


def parse_garak_time(raw: Any, where: str) -> datetime:
    """A timestamp as garak writes it: ISO 8601 with `T` or a space, with or without fraction and zone, and the
    doubled zone `+00:00Z` some versions write. Naive times are taken as UTC. Refused naming `where`."""
    if not isinstance(raw, str) or not raw.strip():
        raise ImportRefused(f"{where}: missing or empty timestamp")
    text = _ZONE_AND_Z.sub(r"\1", raw.strip())
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise ImportRefused(f"{where}: {raw[:60]!r} is not a timestamp garak writes") from None
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


# -- report.jsonl -------------------------------------------------------------------------------------------

_PLUGIN_PREFIX = re.compile(r"^(?:garak\.)?(?:probes?|detectors?)\.")


def plugin_name(raw: Any) -> str:
    """`probes.dan.Dan_11_0` / `detector.dan.DAN` (older reports) -> `dan.Dan_11_0` / `dan.DAN`."""
    return _PLUGIN_PREFIX.sub("", str(raw).strip())


def benchmark_name(probe: str, detector: str) -> str:
    """The benchmark a probe x detector pair is stored under (report runs and calibration runs alike)."""
    return f"garak {probe} / {detector}"


def _text_of(part: Any) -> str | None:
    """The text of a garak Message (`{"text": ...}`) or a plain string."""
    if isinstance(part, dict):
        t = part.get("text")
        return None if t is None else str(t)
    return None if part is None else str(part)


def prompt_text(prompt: Any) -> str | None:
    """A prompt as text: a string as is; a conversation's single turn as its text, several turns as
    `role: text` lines."""
    if isinstance(prompt, dict) and isinstance(prompt.get("turns"), list):
        turns = [t for t in prompt["turns"] if isinstance(t, dict)]
        texts = [(str(t.get("role") or ""), _text_of(t.get("content")) or "") for t in turns]
        if len(texts) == 1:
            return texts[0][1]
        return "\n".join(f"{role}: {text}" for role, text in texts)
    return _text_of(prompt)


class _Eval(NamedTuple):
    probe: str
    detector: str
    passed: int
    total: int
    line: int


@dataclass
class _Report:
    setup: dict[str, Any] | None = None
    init: dict[str, Any] | None = None
    attempts: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    evals: list[_Eval] = field(default_factory=list)
    completion: dict[str, Any] | None = None


def _count(entry: dict[str, Any], keys: tuple[str, ...], where: str) -> int:
    for key in keys:
        value = entry.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ImportRefused(f"{where}, field {key!r}: {value!r} is not a count")
            return int(value)
    raise ImportRefused(f"{where}: field {keys[0]!r} is missing")


def _read_report(path: Path) -> _Report:
    """The entries of one report.jsonl that the import needs, checked."""
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ImportRefused(f"{path.name}: larger than the {MAX_FILE_BYTES:,}-byte limit")
    out = _Report()
    with path.open(encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path.name} line {n}"
            try:
                entry = load_json(path.name, line, where=f"line {n}")
            except json.JSONDecodeError as e:
                raise ImportRefused(f"{where}: not JSON ({e.msg})") from None
            if not isinstance(entry, dict) or not isinstance(entry.get("entry_type"), str):
                raise ImportRefused(f"{where}, field 'entry_type': missing (not a garak report entry)")
            kind = entry["entry_type"]
            if kind == "start_run setup":
                out.setup = entry
            elif kind == "init":
                out.init = entry
            elif kind == "attempt":
                out.attempts.append((n, entry))
            elif kind == "eval":
                probe, detector = entry.get("probe"), entry.get("detector")
                for key, value in (("probe", probe), ("detector", detector)):
                    if not isinstance(value, str) or not value.strip():
                        raise ImportRefused(f"{where}, field {key!r}: missing in an eval entry")
                passed = _count(entry, ("passed",), where)
                total = _count(entry, ("total_evaluated", "total"), where)
                if passed > total:
                    raise ImportRefused(
                        f"{where}, field 'passed': {passed} is more than the {total} evaluated"
                    )
                out.evals.append(_Eval(plugin_name(probe), plugin_name(detector), passed, total, n))
            elif kind == "completion":
                out.completion = entry
    if out.setup is None and out.init is None:
        raise ImportRefused(
            f"{path.name}, field 'entry_type': no 'start_run setup' or 'init' entry (not a garak report)"
        )
    return out


def _run_facts(path: Path, rep: _Report) -> dict[str, Any]:
    """Run uuid, model, target type, start time, threshold and version from the setup and init entries."""
    setup, init = rep.setup or {}, rep.init or {}
    run_uuid = init.get("run") or setup.get("transient.run_id")
    if not isinstance(run_uuid, str) or not run_uuid.strip():
        raise ImportRefused(f"{path.name}, field 'init.run': the run's uuid is missing")
    name = setup.get("plugins.target_name") or setup.get("plugins.model_name")
    kind = setup.get("plugins.target_type") or setup.get("plugins.model_type")
    model = name or kind
    if not isinstance(model, str) or not model.strip():
        raise ImportRefused(
            f"{path.name}, field 'plugins.target_name': no target model in the start_run setup entry"
        )
    raw_start = init.get("start_time") or setup.get("transient.starttime_iso")
    started = parse_garak_time(raw_start, f"{path.name}, field 'init.start_time'")
    threshold = setup.get("run.eval_threshold")
    if threshold is None:
        threshold = DEFAULT_THRESHOLD
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise ImportRefused(f"{path.name}, field 'run.eval_threshold': {threshold!r} is not a number")
    ended = None
    if rep.completion and rep.completion.get("end_time"):
        ended = parse_garak_time(rep.completion["end_time"], f"{path.name}, field 'completion.end_time'")
    return {
        "run_uuid": run_uuid.strip(),
        "model": model.strip()[:300],
        "target_type": kind,
        "target_name": name,
        "started": started,
        "ended": ended,
        "threshold": float(threshold),
        "garak_version": init.get("garak_version") or setup.get("_config.version"),
        "generations": setup.get("run.generations"),
        "aggregated_from": init.get("orig_uuid"),
    }


def _attempt_samples(
    path: Path, rep: _Report, threshold: float
) -> dict[tuple[str, str], list[ContentSample]]:
    """(probe, detector) -> a sample per scored output of every evaluated attempt (status 2)."""
    out: dict[tuple[str, str], list[ContentSample]] = {}
    seen: set[tuple[str, str, str, int]] = set()
    for n, a in rep.attempts:
        if a.get("status") != 2:
            continue
        where = f"{path.name} line {n}"
        probe = plugin_name(a.get("probe_classname") or "")
        if not probe:
            raise ImportRefused(f"{where}, field 'probe_classname': missing in an attempt")
        results = a.get("detector_results") or {}
        if not isinstance(results, dict):
            raise ImportRefused(f"{where}, field 'detector_results': not an object")
        outputs = a.get("outputs") or []
        if not isinstance(outputs, list):
            raise ImportRefused(f"{where}, field 'outputs': not a list")
        seq = a.get("seq")
        base_id = str(seq) if seq is not None else str(a.get("uuid") or n)
        prompt = clip(prompt_text(a.get("prompt")))
        goal = clip(a.get("goal"))
        for det_raw, scores in results.items():
            detector = plugin_name(det_raw)
            if not isinstance(scores, list):
                raise ImportRefused(f"{where}, field 'detector_results.{det_raw}': not a list of scores")
            for k, s in enumerate(scores):
                if s is not None and (isinstance(s, bool) or not isinstance(s, int | float)):
                    raise ImportRefused(
                        f"{where}, field 'detector_results.{det_raw}[{k}]': {s!r} is not a score"
                    )
                sid = base_id
                while (probe, detector, sid, k + 1) in seen:  # garak reuses seq across aggregated runs
                    sid += "+"
                seen.add((probe, detector, sid, k + 1))
                passed = None if s is None else float(s) < threshold
                out.setdefault((probe, detector), []).append(
                    ContentSample(
                        sample_id=sid,
                        epoch=k + 1,
                        score=None if passed is None else (1.0 if passed else 0.0),
                        value=None if passed is None else ("pass" if passed else "fail"),
                        input=prompt,
                        target=goal,
                        output=clip(_text_of(outputs[k])) if k < len(outputs) else None,
                        explanation=(
                            f"detector {detector} scored {s} (threshold {threshold}): "
                            + ("no score" if passed is None else ("passed" if passed else "failed"))
                        ),
                        metadata=json.dumps(
                            {"detector_score": s, "attempt_uuid": a.get("uuid"), "line": n}, sort_keys=True
                        ),
                    )
                )
    return out


def read_report(path: Path) -> list[ContentRun]:
    """The runs (one per probe x detector eval entry) of one garak report.jsonl."""
    rep = _read_report(path)
    facts = _run_facts(path, rep)
    samples = _attempt_samples(path, rep, facts["threshold"])
    runs: list[ContentRun] = []
    for ev in rep.evals:
        row = {
            "run_id": f"garak-{facts['run_uuid']}-{ev.probe}-{ev.detector}",
            "model": facts["model"],
            "model_developer": None,
            "model_release_date": None,
            "benchmark": benchmark_name(ev.probe, ev.detector)[:300],
            "task_version": str(facts["garak_version"]) if facts["garak_version"] else None,
            "eval_date": facts["started"].date(),
            "metric": METRIC,
            "score": ev.passed / ev.total if ev.total else None,
            "stderr": None,
            "n_samples": ev.total,
            "status": "success",
            "source": SOURCE,
        }
        details = {
            "kind": "report",
            "file": path.name,
            "line": ev.line,
            "probe": ev.probe,
            "detector": ev.detector,
            "passed": ev.passed,
            "total_evaluated": ev.total,
            "higher_is_better": True,
            "garak_run": facts["run_uuid"],
            "aggregated_from": facts["aggregated_from"],
            "target_type": facts["target_type"],
            "target_name": facts["target_name"],
            "started_at": facts["started"].isoformat(),
            "ended_at": facts["ended"].isoformat() if facts["ended"] else None,
            "eval_threshold": facts["threshold"],
            "generations": facts["generations"],
            "credit": sources.GARAK.credit,
        }
        runs.append(make_run(path.name, row, details, samples.get((ev.probe, ev.detector), [])))
    return runs


# -- calibration --------------------------------------------------------------------------------------------

_RELEASE_MONTH = re.compile(r"(20\d{2})-?(0[1-9]|1[0-2])")


def _release_date(release: str) -> date | None:
    """`2026-02`, `alpha-202407`, `2024-09update` -> the 1st of that month; a release named otherwise
    (`2024-summer`) has no date."""
    m = _RELEASE_MONTH.search(release)
    return date(int(m.group(1)), int(m.group(2)), 1) if m else None


CALIBRATION_META = "garak_calibration_meta"


def _bag_model(filename: str) -> str:
    """`2026Q1_Calibration_Reports/phi-4/report.jsonl` or `google/gemma-3-1b-it.report.jsonl` -> the model."""
    parts = [p for p in filename.split("/") if p]
    if len(parts) > 1 and parts[-1] == "report.jsonl":
        return parts[-2]
    return "/".join(parts[-2:]).removesuffix(".report.jsonl") if parts else filename


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ImportRefused(f"{where}: {value!r} is not a number")
    return float(value)


def read_calibration(path: Path, warnings: list[str]) -> list[ContentRun]:
    """The baseline runs of one calibration file; a pointer file (garak's `calibration.json` names the current
    release) gives none and a warning."""
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ImportRefused(f"{path.name}: larger than the {MAX_FILE_BYTES:,}-byte limit")
    text = path.read_text(encoding="utf-8", errors="replace")
    pointed = text.strip()
    if pointed.endswith(".json") and (path.parent / pointed).is_file() and "\n" not in pointed:
        warnings.append(f"{path.name}: a pointer to {pointed}, not a calibration; skipped")
        return []
    try:
        doc = load_json(path.name, text)
    except json.JSONDecodeError as e:
        raise ImportRefused(f"{path.name} line {e.lineno}: not JSON ({e.msg})") from None
    if not isinstance(doc, dict):
        raise ImportRefused(f"{path.name}: expected an object of 'probe/detector' entries")
    release = path.stem.removeprefix("calibration").strip("-_") or path.stem
    meta = doc.get(CALIBRATION_META)
    if meta is not None and not isinstance(meta, dict):
        raise ImportRefused(f"{path.name}, field {CALIBRATION_META!r}: not an object")
    meta = meta or {}
    # The date garak computed the calibration (`garak_calibration_meta.date`), else the month the release is
    # named after; the bag's reports name its reference models.
    when: date | None
    if meta.get("date") is not None:
        when = parse_garak_time(meta["date"], f"{path.name}, field '{CALIBRATION_META}.date'").date()
    else:
        when = _release_date(release)
    filenames = meta.get("filenames")
    bag: list[Any] = filenames if isinstance(filenames, list) else []
    bag_models = sorted({_bag_model(str(f)) for f in bag})
    runs: list[ContentRun] = []
    for key, entry in doc.items():
        if key == CALIBRATION_META:
            continue
        where = f"{path.name}, field {key!r}"
        if not isinstance(entry, dict) or "/" not in key:
            raise ImportRefused(f"{where}: expected 'probe/detector': {{mu, sigma}}")
        probe, detector = (plugin_name(p) for p in key.split("/", 1))
        mu = _number(entry.get("mu"), f"{where}.mu")
        sigma = _number(entry.get("sigma"), f"{where}.sigma")
        if not 0 <= mu <= 1 or sigma < 0:
            raise ImportRefused(
                f"{where}: mu {mu} must be a pass rate in [0, 1] and sigma {sigma} not negative"
            )
        sw_p = entry.get("sw_p")
        row = {
            "run_id": f"garak-calibration-{release}-{probe}-{detector}",
            "model": CALIBRATION_MODEL,
            "model_developer": None,
            "model_release_date": None,
            "benchmark": benchmark_name(probe, detector)[:300],
            "task_version": release,
            "eval_date": when,
            "metric": METRIC,
            "score": mu,
            "stderr": None,  # sigma is a spread across models, never the uncertainty of mu
            "n_samples": None,
            "status": "success",
            "source": SOURCE,
        }
        details = {
            "kind": "calibration",
            "file": path.name,
            "release": release,
            "probe": probe,
            "detector": detector,
            "bag_mu": mu,
            "bag_sigma": sigma,
            "bag_sigma_is": "standard deviation of pass rates across the bag's reference models (a spread)",
            "sw_p": sw_p if isinstance(sw_p, int | float) and not isinstance(sw_p, bool) else None,
            "higher_is_better": True,
            "eval_date_precision": ("day" if meta.get("date") else "month") if when else None,
            "bag_size": len(bag_models) or None,
            "bag_models": bag_models,
            "credit": sources.GARAK.credit,
        }
        runs.append(make_run(path.name, row, details, []))
    return runs


# -- the import ---------------------------------------------------------------------------------------------


def garak_files(path: Path) -> tuple[list[Path], list[Path]]:
    """(reports, calibration files) at `path`: the file itself, or every `*.report.jsonl` and
    `calibration*.json` under the folder."""
    if path.is_file():
        if path.name.endswith(".jsonl"):
            return [path], []
        if path.suffix.lower() == ".json":
            return [], [path]
        raise ImportRefused(f"{path.name}: expected a garak *.report.jsonl or a calibration .json file")
    if not path.is_dir():
        raise ImportRefused(f"{path.name}: no such file or folder")
    reports = sorted(p for p in path.rglob("*.report.jsonl") if p.is_file())
    calibrations = sorted(p for p in path.rglob("calibration*.json") if p.is_file())
    if not reports and not calibrations:
        raise ImportRefused(f"{path.name}: no garak *.report.jsonl or calibration*.json files in this folder")
    return reports, calibrations


def import_garak(
    store: Store,
    path: Path | str,
    *,
    actor: str = "cli",
    institute: str | None = None,
    tlp: str | None = None,
    releasable: Sequence[str] | None = None,
) -> ImportReport:
    """Import garak reports and calibration files (a file or a folder), all or nothing. `institute` is ignored:
    garak results are public data (PUBLIC), whoever imports them."""
    p = Path(path)
    level, rel = public_marking(sources.GARAK, tlp, releasable)
    reports, calibrations = garak_files(p)
    report = ImportReport(kind="garak", source=str(p), batch_id=new_batch_id("garak"))
    runs: list[ContentRun] = []
    per_file: dict[str, int] = {}
    for f in reports:
        file_runs = read_report(f)
        if not file_runs:
            report.warnings.append(
                f"{f.name}: no eval entries (an unfinished run?); nothing imported from it"
            )
        per_file[f.name] = len(file_runs)
        runs.extend(file_runs)
    for f in calibrations:
        file_runs = read_calibration(f, report.warnings)
        per_file[f.name] = len(file_runs)
        runs.extend(file_runs)
    with store.transaction() as con:
        write_content_runs(con, runs, report, tlp=level, releasable=rel, actor=actor)
        report.details = {
            "files": per_file,
            "report_runs": sum(1 for r in runs if r.run.row["model"] != CALIBRATION_MODEL),
            "calibration_runs": sum(1 for r in runs if r.run.row["model"] == CALIBRATION_MODEL),
            "samples": sum(len(r.samples) for r in runs),
            "credit": sources.GARAK.credit,
            "marking": {"tlp": level, "releasable_to": rel},
        }
        record_batch(con, report, actor=actor, institute=None)
        audit.record(con, actor, "import garak", report.batch_id, audit.import_counts(report))
    return report
