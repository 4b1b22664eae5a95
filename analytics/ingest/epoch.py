"""Import the Epoch AI Benchmarking Hub export (a folder of CSVs, or one CSV) as public evaluation runs.

Each CSV is one benchmark with one row per reported result: `Model version`, a score column whose name differs
per benchmark, `Release date`, `Organization`, and benchmark-specific extras. The files we know are listed in
`KNOWN_FILES` (display name, score column, standard-error column, the scale of both, and the column that dates
the evaluation, if any); an unknown CSV with the same shape is read by the rule in `score_column_for`.

Several rows can report the same model on one benchmark (different shot counts, scaffolds or agents): the import
keeps one run per model and benchmark, the best reported score, and records how many rows were considered.
Percent columns are stored as fractions so every benchmark reads 0–1 where it is a share of tasks solved.

Every run is institute PUBLIC, source 'epoch', TLP:CLEAR releasable to UK and AU (a `tlp` given on the command
line can raise the TLP, never lower it), and carries the credit "Epoch AI Benchmarking Hub, CC BY 4.0" through
its source. Run ids are derived from benchmark and model, so importing the same export again changes nothing
and a newer export updates changed scores (old rows kept in record_history).

Refused, naming the file, line and column: missing required columns, unparseable dates, non-numeric scores.
Rows with an empty score (models not scored yet) or an empty `Model version` (systems Epoch has not linked to a
model) are skipped and counted in the report; empty release dates are kept (the run is then not placed on the capability-over-time chart).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

from analytics import sources
from analytics.ingest import ImportRefused, ImportReport, new_batch_id, public_marking, record_batch
from analytics.ingest.run_writer import ParsedRun, write_runs
from analytics.sources import PUBLIC_ORIGINATOR
from analytics.store import audit
from analytics.store.database import Store
from analytics.wording import counted

SOURCE = sources.EPOCH.key  # the registry in analytics.sources states key, licence and credit
CREDIT = sources.EPOCH.credit
REQUIRED = ("Model version", "Release date", "Organization")
MAX_FILE_BYTES = 50 * 1024**2
# Columns that label a row (which scaffold or agent) and sit before the score in some files.
LABEL_COLUMNS = frozenset({"Scaffold", "Tools", "Agent"})


@dataclass(frozen=True)
class BenchmarkFile:
    name: str  # display name of the benchmark
    score: str  # score column
    stderr: str | None = None  # standard-error column, same scale as the score
    percent: bool = False  # score (and stderr) in percent: divided by 100 on import
    stderr_percent: bool = False  # only the stderr is in percent
    eval_date: str | None = None  # column dating the evaluation itself
    unit: str = "fraction"  # what the score measures, for axis titles


KNOWN_FILES: dict[str, BenchmarkFile] = {
    "adversarial_nli_external": BenchmarkFile("Adversarial NLI", "Score"),
    "aider_polyglot_external": BenchmarkFile(
        "Aider Polyglot", "Percent correct", percent=True, eval_date="Date of evaluation"
    ),
    "apex_agents_external": BenchmarkFile(
        "APEX-Agents", "Pass@1 score", stderr="Pass@1 Standard Error", stderr_percent=True
    ),
    "arc_agi_2_external": BenchmarkFile("ARC-AGI-2", "Score"),
    "arc_agi_external": BenchmarkFile("ARC-AGI", "Score"),
    "arc_ai2_external": BenchmarkFile("ARC (AI2) Challenge", "Challenge score"),
    "balrog_external": BenchmarkFile(
        "BALROG", "Average progress", stderr="Average Standard error", eval_date="Date added"
    ),
    "bbh_external": BenchmarkFile("BIG-Bench Hard", "Average"),
    "bool_q_external": BenchmarkFile("BoolQ", "Score"),
    "cad_eval_external": BenchmarkFile("CadEval", "Overall pass (%)"),
    "chess_puzzles": BenchmarkFile("Chess Puzzles", "mean_score", stderr="stderr", eval_date="Started at"),
    "common_sense_qa_2_external": BenchmarkFile("CommonsenseQA 2", "Score"),
    "cybench_external": BenchmarkFile("Cybench", "Unguided % Solved"),
    "deepresearchbench_external": BenchmarkFile("DeepResearch Bench", "Average score"),
    "epoch_capabilities_index": BenchmarkFile("Epoch Capabilities Index", "ECI Score", unit="ECI"),
    "fictionlivebench_external": BenchmarkFile("Fiction.LiveBench", "120k token score"),
    "frontiermath": BenchmarkFile("FrontierMath", "mean_score", stderr="stderr", eval_date="Started at"),
    "frontiermath_tier_4": BenchmarkFile(
        "FrontierMath Tier 4", "mean_score", stderr="stderr", eval_date="Started at"
    ),
    "gdpval_external": BenchmarkFile("GDPval", "Win Rate (%)"),
    "geobench_external": BenchmarkFile("GeoBench", "ACW Avg Score", unit="points"),
    "gpqa_diamond": BenchmarkFile("GPQA Diamond", "mean_score", stderr="stderr", eval_date="Started at"),
    "gsm8k_external": BenchmarkFile("GSM8K", "EM"),
    "gso_external": BenchmarkFile("GSO", "Score OPT@1", eval_date="Evaluation date"),
    "hella_swag_external": BenchmarkFile("HellaSwag", "Overall accuracy"),
    "hle_external": BenchmarkFile("Humanity's Last Exam", "Accuracy", stderr="Accuracy Standard Error"),
    "lambada_external": BenchmarkFile("LAMBADA", "Score"),
    "lech_mazur_writing_external": BenchmarkFile("Lech Mazur Writing", "Mean score", unit="points (0-10)"),
    "live_bench_external": BenchmarkFile("LiveBench", "Global average", percent=True),
    "math_level_5": BenchmarkFile("MATH Level 5", "mean_score", stderr="stderr", eval_date="Started at"),
    "metr_time_horizons_external": BenchmarkFile("METR Time Horizons", "Time horizon", unit="minutes"),
    "mmlu_external": BenchmarkFile("MMLU", "EM"),
    "open_book_qa_external": BenchmarkFile("OpenBookQA", "Accuracy"),
    "os_world_external": BenchmarkFile("OSWorld", "Score", percent=True, eval_date="Date added"),
    "otis_mock_aime_2024_2025": BenchmarkFile(
        "OTIS Mock AIME 2024-2025", "mean_score", stderr="stderr", eval_date="Started at"
    ),
    "piqa_external": BenchmarkFile("PIQA", "Score"),
    "posttrainbench_external": BenchmarkFile("PostTrainBench", "Average (%)"),
    "science_qa_external": BenchmarkFile("ScienceQA", "Score"),
    "simplebench_external": BenchmarkFile("SimpleBench", "Score (AVG@5)"),
    "simpleqa_verified": BenchmarkFile(
        "SimpleQA Verified", "mean_score", stderr="stderr", eval_date="Started at"
    ),
    "superglue_external": BenchmarkFile("SuperGLUE", "Score"),
    "swe_bench_bash": BenchmarkFile("SWE-bench Verified (bash only)", "% Resolved", eval_date="Date run"),
    "swe_bench_verified": BenchmarkFile(
        "SWE-bench Verified", "mean_score", stderr="stderr", eval_date="Started at"
    ),
    "terminalbench_external": BenchmarkFile(
        "Terminal-Bench", "Accuracy mean", stderr="Accuracy SE", eval_date="Run date"
    ),
    "the_agent_company_external": BenchmarkFile("TheAgentCompany", "% Score", eval_date="Date"),
    "trivia_qa_external": BenchmarkFile("TriviaQA", "EM"),
    "video_mme_external": BenchmarkFile("Video-MME", "Overall (no subtitles)"),
    "vpct_external": BenchmarkFile("VPCT", "Correct"),
    "webdev_arena_external": BenchmarkFile("WebDev Arena", "Arena Score", unit="Elo"),
    "weirdml_external": BenchmarkFile("WeirdML", "Accuracy", stderr="Accuracy SE"),
    "wino_grande_external": BenchmarkFile("WinoGrande", "Accuracy"),
}

# a date, or a timestamp as tools write it (fractional seconds, Z, an offset, or an offset followed by Z)
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ][0-9:.]+\s*(?:[+-]\d{2}:?\d{2})?\s*Z?)?$")


def benchmark_key(stem: str) -> str:
    """'cybench_external' -> 'cybench': the file's benchmark without Epoch's 'external' suffix."""
    return stem.removesuffix("_external")


def score_column_for(stem: str, columns: Sequence[str]) -> BenchmarkFile:
    """The known layout of this file, or for an unknown file the first column after `Model version` that is
    not a row label, named after the file."""
    known = KNOWN_FILES.get(stem)
    if known is not None:
        return known
    cols = list(columns)
    start = cols.index("Model version") + 1
    for c in cols[start : cols.index("Release date")]:
        if c not in LABEL_COLUMNS:
            return BenchmarkFile(benchmark_key(stem).replace("_", " "), c)
    raise ImportRefused(f"{stem}.csv: no score column between 'Model version' and 'Release date'")


def parse_date(raw: str, file: str, line: int, column: str) -> date | None:
    v = raw.strip()
    if not v:
        return None
    m = _DATE.match(v)
    try:
        if not m:
            raise ValueError(v)
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        raise ImportRefused(
            f"{file}, line {line}, column {column!r}: {v[:40]!r} is not a date (expected YYYY-MM-DD)"
        ) from None


def parse_number(raw: str, file: str, line: int, column: str) -> float | None:
    v = raw.strip()
    if not v:
        return None
    try:
        f = float(v.removesuffix("%"))
    except ValueError:
        raise ImportRefused(f"{file}, line {line}, column {column!r}: {v[:40]!r} is not a number") from None
    if math.isnan(f) or math.isinf(f):
        raise ImportRefused(f"{file}, line {line}, column {column!r}: {v[:40]!r} is not a finite number")
    return f


def csv_files(path: Path) -> list[Path]:
    """One CSV, or the CSVs directly in the folder (Epoch's `additional_eci_data/` holds index parameters,
    not per-model results, so subfolders are not read)."""
    if path.is_file():
        if path.suffix.lower() != ".csv":
            raise ImportRefused(f"{path.name}: not a CSV file")
        return [path]
    if not path.is_dir():
        raise ImportRefused(f"{path}: no such file or folder")
    files = sorted(p for p in path.glob("*.csv") if p.is_file())
    if not files:
        raise ImportRefused(f"{path.name}: no CSV files in this folder")
    return files


def read_file(path: Path) -> tuple[list[ParsedRun], int, int]:
    """Runs (best row per model) of one CSV, the number of rows read, and rows skipped for an empty score
    or an empty model version."""
    name = path.name
    reader, header = _open_csv(path)
    layout = score_column_for(path.stem, header)
    for col in (layout.score, layout.stderr, layout.eval_date):
        if col is not None and col not in header:
            raise ImportRefused(f"{name}: missing column {col!r}")
    idx = {c: k for k, c in enumerate(header)}
    best: dict[str, _Result] = {}
    counts: dict[str, int] = {}
    rows = skipped = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            raise ImportRefused(f"{name}, line {reader.line_num}: {e}") from None
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise ImportRefused(
                f"{name}, line {line}: {counted(len(cells), 'cell')}, the header has {len(header)}"
            )
        rows += 1
        result = _result(path, line, {c: cells[k] for c, k in idx.items()}, layout)
        if result is None:
            skipped += 1
            continue
        counts[result.model] = counts.get(result.model, 0) + 1
        if result.model not in best or result.score > best[result.model].score:
            best[result.model] = result
    runs = []
    for model, (_, _, row) in sorted(best.items()):
        row["details"]["rows_for_model"] = counts[model]
        digest = hashlib.sha256(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest()
        row["details"]["content_hash"] = digest
        runs.append(ParsedRun(name, row, fingerprint=digest))
    return runs, rows, skipped


def _open_csv(path: Path) -> tuple[Any, list[str]]:
    """A csv reader positioned after the header, and the header (stripped), refusing a file too large, not
    UTF-8, empty, or without the required columns."""
    name = path.name
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ImportRefused(f"{name}: larger than the {MAX_FILE_BYTES:,}-byte limit")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise ImportRefused(f"{name}: not UTF-8 text (byte {e.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ImportRefused(f"{name}: empty file") from None
    except csv.Error as e:
        raise ImportRefused(f"{name}, line 1: {e}") from None
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ImportRefused(f"{name}: missing column(s) {', '.join(repr(c) for c in missing)}")
    return reader, header


class _Result(NamedTuple):
    """One CSV line as a run: the model and score it is chosen by (best score per model), and its row."""

    model: str
    score: float
    row: dict[str, Any]


def _result(path: Path, line: int, cell: dict[str, str], layout: BenchmarkFile) -> _Result | None:
    """One CSV line (`cell`: column -> text) as a run, or None for a line without a score or a model
    version. Bad cells -> ImportRefused."""
    name = path.name
    model = cell["Model version"].strip()
    release = parse_date(cell["Release date"], name, line, "Release date")
    score = parse_number(cell[layout.score], name, line, layout.score)
    stderr = parse_number(cell[layout.stderr], name, line, layout.stderr) if layout.stderr else None
    evaluated = parse_date(cell[layout.eval_date], name, line, layout.eval_date) if layout.eval_date else None
    if score is None or not model:
        # Epoch lists models it has not scored yet, and results for systems it has not linked to a model
        # version (only a free-text 'Name'): neither is a run of a known model.
        return None
    if layout.percent:
        score /= 100
    if stderr is not None and (layout.percent or layout.stderr_percent):
        stderr /= 100
    org = cell["Organization"].strip() or None
    key = benchmark_key(path.stem)
    row: dict[str, Any] = {
        "run_id": f"epoch:{key}:{model}"[:400],
        "model": model[:300],
        "model_developer": org[:200] if org else None,
        "model_release_date": release,
        "benchmark": layout.name,
        "task_version": None,
        "eval_date": evaluated,
        "metric": layout.score,
        "score": score,
        "stderr": stderr,
        "n_samples": None,
        "status": "success",
        "source": SOURCE,
        "details": {
            "file": name,
            "line": line,
            "benchmark_key": key,
            "unit": layout.unit,
            "epoch_row_id": cell["id"].strip() if "id" in cell else None,
            "reported_by": cell["Source"].strip()[:300] if "Source" in cell else None,
            "reported_link": cell["Source link"].strip()[:500] if "Source link" in cell else None,
            "credit": CREDIT,
        },
    }
    return _Result(model, score, row)


def import_epoch(
    store: Store,
    path: Path | str,
    *,
    actor: str,
    institute: str | None = None,
    tlp: str | None = None,
    releasable: Sequence[str] | None = None,
    update: bool = False,
) -> ImportReport:
    """Import an Epoch Benchmarking Hub export (folder or one CSV), all or nothing, with its audit entry.
    `institute` is ignored: these results are public, whoever imports them. `update` (--update) applies this
    import's marking to runs stored with another one (without it a marking is only ever raised)."""
    level, rel = public_marking(sources.EPOCH, tlp, releasable)
    p = Path(path)
    files = csv_files(p)
    report = ImportReport(kind="epoch", source=str(p), batch_id=new_batch_id("epoch"))
    runs: list[ParsedRun] = []
    per_file: dict[str, dict[str, int]] = {}
    for f in files:
        file_runs, rows, skipped = read_file(f)
        runs.extend(file_runs)
        per_file[f.name] = {"rows": rows, "runs": len(file_runs), "skipped": skipped}
        if skipped:
            report.warnings.append(
                f"{f.name}: {counted(skipped, 'row')} without a score or a model version skipped"
            )
    with store.transaction() as con:
        write_runs(
            con,
            runs,
            report,
            institute=PUBLIC_ORIGINATOR,
            tlp=level,
            releasable=rel,
            actor=actor,
            update=update,
        )
        report.details = {
            "files": per_file,
            "without_release_date": sum(1 for r in runs if r.row["model_release_date"] is None),
            "credit": CREDIT,
            "marking": {"tlp": level, "releasable_to": rel},
        }
        record_batch(con, report, actor=actor, institute=None)
        audit.record(
            con,
            actor,
            "import epoch",
            f"batch:{report.batch_id}",
            {**audit.import_counts(report), "tlp": level, "releasable_to": rel},
        )
    return report
