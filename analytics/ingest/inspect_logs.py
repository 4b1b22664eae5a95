"""Import UK AISI Inspect logs (`.eval` zip or `.json`, a file or a folder of them) as evaluation runs.

Logs are read with inspect-ai's own reader, never by hand-parsing its JSON: `read_eval_log(header_only=True)`
for the spec and results, and the samples (each sample's input,
target, output, scores with the scorer's answer and explanation, metadata, and the transcript of an agentic
sample are stored, issue 19; the summaries alone would lose all but the scores), read whole in one call without
the event log (streaming sample by sample was 20x slower). A `.json` log is read whole.

Before inspect-ai sees a `.eval` file it is checked as a zip (analytics/ingest/eval_zip.py): inspect-ai trusts
its input, and a truncated download, a non-zip file, a member path with `..` or a decompression bomb must be
refused with a message naming the file, not turned into a traceback or a full disk.

One row per log in eval_runs, keyed by Inspect's `eval_id` (Inspect's `run_id` is shared by every task of one
`eval()` call, so it cannot identify a log; it is kept in `details`). The headline scorer's per-sample scores go
to eval_samples with the sample's content, every other scorer's to eval_sample_scores with their answers and
explanations. Score values C/I/P/N become 1/0/0.5/0, numbers and
booleans their value; the value as logged is kept as text beside it. A log that failed, was cancelled or is still
running is recorded with that status and no score (and no samples), so it never counts as a result.

Importing the same log again changes nothing (a fingerprint of what was read is kept in `details`); a changed
log with the same eval_id (a finished re-run of a started log) replaces the run, its old row goes to
record_history, and its marking can only rise. Everything happens in one transaction.

Markings: TLP:AMBER releasable to the importing institute only, unless `tlp`/`releasable` say otherwise.
Writing (shared with Epoch and garak) is `analytics/ingest/run_writer.py`; its names are importable from here too.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from analytics.access.markings import INSTITUTES, TLP_LEVELS, normalise_tlp, parse_releasable
from analytics.ingest import ImportRefused, ImportReport, new_batch_id, record_batch
from analytics.ingest.eval_zip import MAX_FILE_BYTES, check_eval_zip
from analytics.ingest.run_writer import OtherScore, ParsedRun, SampleScore, write_runs
from analytics.store import audit
from analytics.store.database import Store
from analytics.wording import counted

SOURCE = "inspect"
DEFAULT_TLP = "AMBER"

# Files Inspect writes into log folders that are not logs (the listing and eval-set manifests).
NOT_LOGS = frozenset({"logs.json", "eval-set.json", "listing.json"})

# Inspect's letter scores (CORRECT, INCORRECT, PARTIAL, NOANSWER) as numbers.
LETTER_SCORES: dict[str, float] = {"C": 1.0, "I": 0.0, "P": 0.5, "N": 0.0}

# Model provider prefixes that name the developer; other providers (together, openrouter, bedrock...) host
# models made by someone else, so they say nothing about the developer.
PROVIDER_DEVELOPERS: dict[str, str] = {
    "openai": "OpenAI",
    "anthropic": "Anthropic",
    "google": "Google DeepMind",
    "mistral": "Mistral AI",
    "grok": "xAI",
    "deepseek": "DeepSeek",
}

STATUSES = frozenset({"success", "error", "cancelled", "started"})

# Sample fields inspect-ai need not parse: the transcript is kept as the messages, not the event log.
NOT_STORED = {"events", "events_data", "timelines", "store"}


# -- markings -----------------------------------------------------------------------------------------------


def resolve_marking(
    institute: str | None, tlp: str | None, releasable: Sequence[str] | None, *, default_tlp: str
) -> tuple[str, list[str]]:
    """The marking an import applies: `tlp` (default `default_tlp`) and `releasable` (default: the importing
    institute). TLP:RED cannot be imported (imports carry no named recipients); AMBER+STRICT is narrowed to
    the originating institute, as TLP 2.0 defines it."""
    try:
        level = normalise_tlp(tlp) if tlp else default_tlp
        rel = list(parse_releasable(releasable)) if releasable else None
    except ValueError as e:
        raise ImportRefused(str(e)) from None
    if level == "RED":
        raise ImportRefused(
            "TLP:RED cannot be imported: it needs named recipients, which an import cannot set"
        )
    if rel is None:
        rel = [institute] if institute in INSTITUTES else list(INSTITUTES)
    if institute in INSTITUTES and institute not in rel:
        raise ImportRefused(f"releasability {','.join(rel)} leaves out the importing institute {institute}")
    if level == "AMBER+STRICT" and institute in INSTITUTES:
        rel = [institute]
    return level, sorted(rel)


# -- reading ------------------------------------------------------------------------------------------------


def log_files(path: Path) -> list[Path]:
    """The log files at `path`: the file itself, or every .eval/.json under the folder (sorted)."""
    if path.is_file():
        if path.suffix.lower() not in (".eval", ".json"):
            raise ImportRefused(f"{path.name}: not an Inspect log (expected a .eval or .json file)")
        return [path]
    if not path.is_dir():
        raise ImportRefused(f"{path}: no such file or folder")
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file() and p.suffix.lower() in (".eval", ".json") and p.name not in NOT_LOGS
    )
    if not files:
        raise ImportRefused(f"{path.name}: no .eval or .json Inspect logs in this folder")
    return files


def score_number(value: Any) -> float | None:
    """A sample score as a number: C/I/P/N letters, booleans and numbers; anything else has no number."""
    if isinstance(value, str):
        v = value.strip()
        letter = LETTER_SCORES.get(v)
        if letter is not None:
            return letter
        try:
            f = float(v)
        except ValueError:
            return None
        return f if math.isfinite(f) else None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        f = float(value)
        return f if math.isfinite(f) else None
    return None


def score_text(value: Any) -> str | None:
    """The value as logged: strings unchanged, anything else as JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _headline(results: Any) -> tuple[str | None, str | None]:
    """(scorer name, metric name) of the run's main score: Inspect's own headline if the log names one,
    else the first scorer's first metric that is not a standard error."""
    if results is None or not results.scores:
        return None, None
    headline = getattr(results, "headline", None)
    if headline is not None and getattr(headline, "score", None) and getattr(headline, "metric", None):
        return str(headline.score), str(headline.metric)
    first = results.scores[0]
    for metric in first.metrics:
        if metric != "stderr":
            return str(first.name), str(metric)
    return str(first.name), None


def _scores_detail(results: Any) -> list[dict[str, Any]]:
    out = []
    for s in results.scores if results is not None else []:
        out.append(
            {
                "scorer": s.name,
                "scored_samples": s.scored_samples,
                "unscored_samples": s.unscored_samples,
                "metrics": {k: m.value for k, m in s.metrics.items()},
            }
        )
    return out


def _model_parts(model: str) -> tuple[str, str | None]:
    """'openai/gpt-4o' -> ('gpt-4o', 'OpenAI'): the model version and, for first-party providers, its maker."""
    provider, _, rest = model.partition("/")
    if not rest:
        return model, None
    return rest, PROVIDER_DEVELOPERS.get(provider.lower())


def _as_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}.*", value.strip()):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def parse_log(path: Path, *, benchmark_names: dict[str, str] | None = None) -> ParsedRun:
    """Read one log with inspect-ai and turn it into a row and its samples. Bad input -> ImportRefused."""
    log = _read_log(path)
    spec = log.eval
    status = str(log.status)
    if status not in STATUSES:
        raise ImportRefused(f"{path.name}: unknown log status {status!r}")
    if not spec.eval_id or not spec.task or not spec.model:
        raise ImportRefused(f"{path.name}: wrong structure (no eval_id, task or model in the eval spec)")

    model, developer = _model_parts(spec.model)
    # Institutes can annotate a run (`inspect eval --metadata model_release_date=2025-06-01`); logs say nothing
    # of release dates otherwise.
    meta = dict(spec.metadata or {})
    if isinstance(meta.get("model_developer"), str) and meta["model_developer"].strip():
        developer = meta["model_developer"].strip()[:200]
    task_short = spec.task.rsplit("/", 1)[-1]
    benchmark = (benchmark_names or {}).get(_norm_name(task_short), task_short)
    scorer, metric = _headline(log.results)
    score, stderr = _main_score(log.results, scorer, metric) if status == "success" else (None, None)
    details = _run_details(path.name, log, status, scorer, metric)
    samples, others = _sample_scores(path, log, scorer) if status == "success" else ([], [])
    row: dict[str, Any] = {
        "run_id": str(spec.eval_id),
        "model": model[:300],
        "model_developer": developer,
        "model_release_date": _as_date(meta.get("model_release_date")),
        "benchmark": benchmark[:300],
        "task_version": str(spec.task_version),
        "eval_date": _as_date(spec.created),
        "metric": metric if status == "success" else None,
        "score": score,
        "stderr": stderr,
        "n_samples": (log.results.completed_samples if log.results else None)
        if status == "success"
        else None,
        "status": status,
        "source": SOURCE,
    }
    digest = hashlib.sha256()
    digest.update(json.dumps({**row, "details": details}, sort_keys=True, default=str).encode())
    digest.update(json.dumps(samples, default=str).encode())
    digest.update(json.dumps(others, default=str).encode())
    fingerprint = digest.hexdigest()
    details["content_hash"] = fingerprint
    row["details"] = details
    return ParsedRun(path.name, row, samples, others, fingerprint)


def _read_log(path: Path) -> Any:
    """The log's header and results (a `.json` log whole), after the size and zip checks."""
    from inspect_ai.log import read_eval_log

    is_eval = path.suffix.lower() == ".eval"
    if is_eval:
        check_eval_zip(path)
    elif path.stat().st_size > MAX_FILE_BYTES:
        raise ImportRefused(f"{path.name}: larger than the {MAX_FILE_BYTES:,}-byte limit")
    try:
        return read_eval_log(str(path), header_only=is_eval)
    except Exception as e:  # inspect-ai raises many types (pydantic, json, zip, key errors) for bad input
        raise ImportRefused(f"{path.name}: not a readable Inspect log ({_reason(e)})") from None


def _main_score(results: Any, scorer: str | None, metric: str | None) -> tuple[float | None, float | None]:
    """(score, stderr) of a successful run: the headline scorer's metric and its standard error, if logged."""
    if results is None or scorer is None:
        return None, None
    main = {s.name: s for s in results.scores}.get(scorer)
    if main is None:
        return None, None
    score = score_number(main.metrics[metric].value) if metric in main.metrics else None
    stderr = score_number(main.metrics["stderr"].value) if "stderr" in main.metrics else None
    return score, stderr


def _run_details(name: str, log: Any, status: str, scorer: str | None, metric: str | None) -> dict[str, Any]:
    """What the log says beyond the row's columns, kept in eval_runs.details."""
    spec, results, stats = log.eval, log.results, log.stats
    details: dict[str, Any] = {
        "file": name,
        "task": spec.task,
        "task_id": spec.task_id,
        "task_file": spec.task_file,
        "inspect_run_id": spec.run_id,
        "model_full": spec.model,
        "created": spec.created,
        "revision": spec.revision.model_dump() if spec.revision is not None else None,
        "dataset": {"name": spec.dataset.name, "samples": spec.dataset.samples} if spec.dataset else None,
        "epochs": spec.config.epochs if spec.config else None,
        "packages": dict(spec.packages or {}),
        "headline": {"scorer": scorer, "metric": metric},
        "scores": _scores_detail(results) if status == "success" else [],
        "total_samples": results.total_samples if results else None,
        "completed_samples": results.completed_samples if results else None,
        "started_at": stats.started_at if stats else None,
        "completed_at": stats.completed_at if stats else None,
    }
    if log.error is not None:
        details["error"] = str(log.error.message)[:2000]
    return details


def _sample_scores(path: Path, log: Any, scorer: str | None) -> tuple[list[SampleScore], list[OtherScore]]:
    """Every sample with its headline score (None where it has none), its content (input, target, output,
    the transcript of an agentic sample, the scorer's answer and explanation, metadata), and every other
    scorer's scores. A `.eval` log is read whole by inspect-ai without its event log (attachments resolved, so
    text Inspect de-duplicated into attachments comes back whole); a `.json` log was read whole, samples
    included."""
    from inspect_ai.log import read_eval_log

    is_eval = path.suffix.lower() == ".eval"
    samples: list[SampleScore] = []
    others: list[OtherScore] = []
    try:
        # The whole log in one read: streaming with read_eval_log_samples took 20 ms a sample here (200 s for
        # 10,000), reading whole 8.5 s. Events, timelines and the store are not stored, so they are not parsed.
        read: Iterable[Any] = (
            read_eval_log(str(path), resolve_attachments=True, exclude_fields=NOT_STORED).samples or []
            if is_eval
            else (log.samples or [])
        )
        for s in read:
            _add_sample(s, scorer, samples, others)
    except ImportRefused:
        raise
    except Exception as e:  # inspect-ai raises many types (pydantic, json, zip, key errors) for bad input
        raise ImportRefused(f"{path.name}: samples unreadable ({_first_line(e)})") from None
    return samples, others


def _add_sample(s: Any, scorer: str | None, samples: list[SampleScore], others: list[OtherScore]) -> None:
    """One EvalSample as its eval_samples row and its other scorers' eval_sample_scores rows."""
    sid, epoch = str(s.id), int(s.epoch)
    headline = None
    for sc_name, sc in (s.scores or {}).items():
        value = sc.value if sc is not None else None
        if sc_name == scorer:
            headline = sc
        else:
            others.append(
                OtherScore(
                    sid,
                    epoch,
                    str(sc_name),
                    score_number(value),
                    score_text(value),
                    answer=getattr(sc, "answer", None),
                    explanation=getattr(sc, "explanation", None),
                )
            )
    value = headline.value if headline is not None else None
    samples.append(
        SampleScore(
            sid,
            epoch,
            score_number(value),
            score_text(value),
            input=_messages_or_text(s.input),
            target=_target_text(s.target),
            output=s.output.completion if s.output is not None and s.output.choices else None,
            explanation=headline.explanation if headline is not None else None,
            metadata=_sample_metadata(s),
            answer=headline.answer if headline is not None else None,
            transcript=_transcript(s.messages),
        )
    )


def _dump_messages(messages: Sequence[Any]) -> str:
    """Chat messages as a JSON array, as Inspect itself serialises them (role, content, tool calls...)."""
    return json.dumps(
        [m.model_dump(mode="json", exclude_none=True) for m in messages], ensure_ascii=False, sort_keys=True
    )


def _messages_or_text(value: Any) -> str | None:
    """A sample's input: a prompt string as it is, a chat input as its messages (JSON)."""
    if value is None or isinstance(value, str):
        return value
    return _dump_messages(value)


def _target_text(value: Any) -> str | None:
    """A sample's target: one string as it is, several as a JSON array (Inspect accepts either)."""
    if value is None or isinstance(value, str):
        return value
    items = list(value)
    if len(items) == 1 and isinstance(items[0], str):
        return items[0]
    return json.dumps(items, ensure_ascii=False)


def _sample_metadata(s: Any) -> str | None:
    """The sample's metadata as JSON, with a multiple-choice sample's choices (which its input does not show)."""
    meta: dict[str, Any] = dict(s.metadata or {})
    if s.choices and "choices" not in meta:
        meta["choices"] = list(s.choices)
    return json.dumps(meta, ensure_ascii=False, sort_keys=True, default=str) if meta else None


def _transcript(messages: Sequence[Any] | None) -> str | None:
    """The whole conversation when the sample went beyond one prompt and one reply (a tool call, a tool result,
    several assistant turns); a one-reply sample's input and output already say everything."""
    if not messages:
        return None
    assistant = [m for m in messages if m.role == "assistant"]
    agentic = len(assistant) > 1 or any(m.role == "tool" or getattr(m, "tool_calls", None) for m in messages)
    return _dump_messages(messages) if agentic else None


def _norm_name(s: str) -> str:
    return re.sub(r"[^a-z0-9]", "", s.lower())


def _reason(e: BaseException) -> str:
    """Why inspect-ai could not read a log, in one line. Pydantic's own first line says only '1 validation error
    for EvalLog'; the field path (eval.model), what is wrong with it and the value (shortened) say which."""
    errors = getattr(e, "errors", None)
    if callable(errors):
        try:
            found = list(errors())
        except Exception:  # not pydantic's errors() after all
            found = []
        if found:
            first = found[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "the log"
            value = first.get("input")
            shown = "" if isinstance(value, dict | list) or value is None else f" (found {str(value)[:60]!r})"
            more = f"; and {counted(len(found) - 1, 'more problem')}" if len(found) > 1 else ""
            return f"field {where}: {first.get('msg', 'invalid')}{shown}{more}"
    return _first_line(e)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    msg = text[0] if text else type(e).__name__
    return msg[:300]


def public_benchmark_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Normalised name -> display name of the public benchmarks already stored, so an Inspect task called
    `gpqa_diamond` lands on the same chart as Epoch's "GPQA Diamond"."""
    rows = con.execute(
        "select distinct benchmark, details->>'benchmark_key' from eval_runs where institute = 'PUBLIC'"
    ).fetchall()
    out: dict[str, str] = {}
    for display, key in rows:
        out[_norm_name(display)] = display
        if key:
            out[_norm_name(key)] = display
    return out


def fill_from_public(con: duckdb.DuckDBPyConnection, runs: Sequence[ParsedRun]) -> None:
    """A log does not say who made the model or when it was released; take both from a public (TLP:CLEAR,
    source-credited) run of the same model version when one is stored. Nothing is copied from other
    institutes' records."""
    wanted = sorted({r.row["model"] for r in runs})
    if not wanted:
        return
    rows = con.execute(
        "select model, arg_max(model_developer, model_release_date is not null), "
        "min(model_release_date) from eval_runs where institute = 'PUBLIC' and tlp = 'CLEAR' "
        "and model = any(?) group by model",
        [wanted],
    ).fetchall()
    known = {m: (dev, rel) for m, dev, rel in rows}
    for r in runs:
        dev, rel = known.get(r.row["model"], (None, None))
        if r.row["model_developer"] is None and dev:
            r.row["model_developer"] = dev
        if r.row["model_release_date"] is None and rel:
            r.row["model_release_date"] = rel


def import_inspect(
    store: Store,
    path: Path | str,
    *,
    actor: str,
    institute: str | None,
    tlp: str | None,
    releasable: Sequence[str] | None,
    update: bool = False,
) -> ImportReport:
    """Import one Inspect log or a folder of them, all or nothing, with its audit entry. `update` (--update)
    applies this import's marking to runs already stored with another one."""
    if institute not in INSTITUTES:
        raise ImportRefused("Inspect logs need the originating institute: --as UK or --as AU")
    level, rel = resolve_marking(institute, tlp, releasable, default_tlp=DEFAULT_TLP)
    assert level in TLP_LEVELS
    p = Path(path)
    files = log_files(p)
    report = ImportReport(kind="inspect", source=str(p), batch_id=new_batch_id("inspect"))
    names = public_benchmark_names(store.cursor())
    runs = [parse_log(f, benchmark_names=names) for f in files]
    with store.transaction() as con:
        fill_from_public(con, runs)
        write_runs(
            con, runs, report, institute=institute, tlp=level, releasable=rel, actor=actor, update=update
        )
        report.details = {
            "files": len(files),
            "runs": [r.row["run_id"] for r in runs],
            "statuses": {s: sum(1 for r in runs if r.row["status"] == s) for s in sorted(STATUSES)},
            "marking": {"tlp": level, "releasable_to": rel},
        }
        for r in runs:
            if r.row["status"] != "success":
                report.warnings.append(
                    f"{r.file}: run {r.row['run_id']} {r.row['status']}, recorded without a score"
                )
        record_batch(con, report, actor=actor, institute=institute)
        audit.record(
            con,
            actor,
            "import inspect",
            f"batch:{report.batch_id}",
            {**audit.import_counts(report), "tlp": level, "releasable_to": rel, "institute": institute},
        )
    return report
