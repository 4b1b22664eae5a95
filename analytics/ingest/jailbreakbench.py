"""Import JailbreakBench attack artifacts: `python -m analytics import jailbreakbench FOLDER`.

JailbreakBench (Chao et al., 2024; MIT, https://jailbreakbench.github.io/) publishes one artifact per attack
method, threat model and target model: `attack-artifacts/METHOD/THREAT_MODEL/MODEL.json` (`METHOD/attack-info.json`
lists the models), each a JSON object with

- `parameters`: `method`, `model`, `attack_type` (black_box, white_box, transfer, manual), `defense`,
  `attack_success_rate`, `evaluation_date`, `total_number_of_jailbreaks`, `number_of_submitted_prompts`, query
  and token totals, `evaluation_llm_provider`, `method_parameters`;
- `jailbreaks`: one entry per JBB-Behaviors behaviour: `index`, `goal`, `behavior`, `category`, `prompt` (null when
  the attack submitted none), `response`, `jailbroken` (the benchmark judge's verdict), query and token counts and,
  in later artifacts, `jailbroken_llama_guard1`.

What is written, in one transaction, as public data (source `jailbreakbench`, institute PUBLIC whoever imports it,
TLP:CLEAR releasable to UK and AU unless a higher marking is given; credited through analytics.sources):

- one evaluation run per artifact (attack method x threat model x target model): model = `parameters.model`,
  benchmark `JailbreakBench <METHOD folder> (<attack_type>)` (plus the defense when one was used), metric
  `attack success rate (lower is better)` with score = `parameters.attack_success_rate` exactly as published,
  n_samples = the number of behaviours, eval date = `parameters.evaluation_date`. The direction is in the metric's
  name and in details (`higher_is_better: false`): a higher rate means the model was jailbroken more often. The
  share of behaviours whose `jailbroken` flag is true is kept beside it (`jailbroken_share`): the published rate
  and the flags can differ (PAIR on llama-2 states 0.0 with 0 flags but 4 jailbreaks counted), and the import
  reports what the source states rather than recomputing it;
- each behaviour a sample of its run: sample id = `index`, score 1 if jailbroken else 0 (so the samples' mean is the
  share jailbroken, in the run's direction), value `jailbroken` / `not jailbroken`, input = the jailbreak prompt,
  target = the behaviour's goal, output = the model's response, explanation = the judges' verdicts, metadata =
  behaviour, category, query and token counts.

Run ids derive from the METHOD and THREAT_MODEL folders and the model (the folder names, because the upstream
`test-artifact` folder states method PAIR too), so a second import changes nothing. Bad input (not JSON, no
`parameters` or `jailbreaks`, a rate outside [0, 1], a `jailbroken` that is not true or false) is refused naming the
file and field; the store is unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from analytics import sources
from analytics.ingest import (
    ImportRefused,
    ImportReport,
    load_json,
    new_batch_id,
    public_marking,
    record_batch,
)
from analytics.ingest.garak import (
    ContentRun,
    ContentSample,
    clip,
    make_run,
    write_content_runs,
)
from analytics.store import audit
from analytics.store.database import Store

SOURCE = sources.JAILBREAKBENCH.key  # the registry in analytics.sources states key, licence and credit
METRIC = "attack success rate (lower is better)"
MAX_FILE_BYTES = 50 * 1024**2
INFO_FILE = "attack-info.json"


def artifact_files(path: Path) -> list[Path]:
    """The artifacts at `path`: the file itself, or every `*.json` under the folder except `attack-info.json`."""
    if path.is_file():
        if path.suffix.lower() != ".json" or path.name == INFO_FILE:
            raise ImportRefused(
                f"{path.name}: expected a JailbreakBench artifact METHOD/THREAT_MODEL/MODEL.json"
            )
        return [path]
    if not path.is_dir():
        raise ImportRefused(f"{path.name}: no such file or folder")
    files = sorted(p for p in path.rglob("*.json") if p.is_file() and p.name != INFO_FILE)
    if not files:
        raise ImportRefused(f"{path.name}: no JailbreakBench artifacts (METHOD/THREAT_MODEL/MODEL.json) here")
    return files


def _label(path: Path) -> str:
    """`METHOD/THREAT_MODEL/MODEL.json`, the name messages use."""
    return "/".join(path.parts[-3:])


def _text(value: Any, where: str, *, required: bool = False) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ImportRefused(f"{where}: missing")
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ImportRefused(f"{where}: {str(value)[:60]!r} is not text")
    return str(value).strip()


def _optional_count(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ImportRefused(f"{where}: {value!r} is not a number")
    return int(value)


def _sample(label: str, k: int, entry: Any) -> ContentSample:
    where = f"{label}, field 'jailbreaks[{k}]"
    if not isinstance(entry, dict):
        raise ImportRefused(f"{where}': not an object")
    flag = entry.get("jailbroken")
    if not isinstance(flag, bool):
        raise ImportRefused(f"{where}.jailbroken': {flag!r} is not true or false")
    index = _text(entry.get("index"), f"{where}.index'") or str(k)
    guard = entry.get("jailbroken_llama_guard1")
    verdicts = f"JailbreakBench judge: {'jailbroken' if flag else 'not jailbroken'}"
    if isinstance(guard, bool):
        verdicts += f"; Llama Guard: {'jailbroken' if guard else 'not jailbroken'}"
    meta = {
        key: entry.get(key)
        for key in (
            "behavior",
            "category",
            "number_of_queries",
            "queries_to_jailbreak",
            "prompt_tokens",
            "response_tokens",
            "jailbroken_llama_guard1",
        )
        if key in entry
    }
    return ContentSample(
        sample_id=index,
        epoch=1,
        score=1.0 if flag else 0.0,
        value="jailbroken" if flag else "not jailbroken",
        input=clip(entry.get("prompt")),
        target=clip(entry.get("goal")),
        output=clip(entry.get("response")),
        explanation=verdicts,
        metadata=json.dumps(meta, sort_keys=True, default=str),
    )


def read_artifact(path: Path) -> ContentRun:
    """One artifact file -> its run and a sample per behaviour. Bad input -> ImportRefused naming file and field."""
    label = _label(path)
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ImportRefused(f"{label}: larger than the {MAX_FILE_BYTES:,}-byte limit")
    try:
        doc = load_json(label, path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ImportRefused(f"{label}: not JSON ({getattr(e, 'msg', type(e).__name__)})") from None
    if not isinstance(doc, dict):
        raise ImportRefused(f"{label}: expected an object with 'parameters' and 'jailbreaks'")
    params, jailbreaks = doc.get("parameters"), doc.get("jailbreaks")
    if not isinstance(params, dict):
        raise ImportRefused(f"{label}, field 'parameters': missing or not an object")
    if not isinstance(jailbreaks, list):
        raise ImportRefused(f"{label}, field 'jailbreaks': missing or not a list")
    model = _text(params.get("model"), f"{label}, field 'parameters.model'", required=True)
    method = _text(params.get("method"), f"{label}, field 'parameters.method'", required=True)
    attack_type = (
        _text(params.get("attack_type"), f"{label}, field 'parameters.attack_type'") or path.parent.name
    )
    defense = _text(params.get("defense"), f"{label}, field 'parameters.defense'")
    asr = params.get("attack_success_rate")
    if isinstance(asr, bool) or not isinstance(asr, int | float) or not 0 <= asr <= 1:
        raise ImportRefused(
            f"{label}, field 'parameters.attack_success_rate': {asr!r} is not a rate between 0 and 1"
        )
    raw_date = params.get("evaluation_date")
    try:
        when = date.fromisoformat(str(raw_date)[:10]) if raw_date else None
    except ValueError:
        raise ImportRefused(
            f"{label}, field 'parameters.evaluation_date': {str(raw_date)[:40]!r} is not a date (YYYY-MM-DD)"
        ) from None
    samples = [_sample(label, k, e) for k, e in enumerate(jailbreaks)]
    ids = [s.sample_id for s in samples]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise ImportRefused(f"{label}, field 'jailbreaks[].index': behaviour {dup} appears twice")
    method_dir = path.parent.parent.name or method
    assert model is not None and method is not None
    benchmark = f"JailbreakBench {method_dir} ({attack_type})" + (f", defense {defense}" if defense else "")
    row = {
        "run_id": f"jbb-{method_dir}-{path.parent.name}-{model}",
        "model": model[:300],
        "model_developer": None,
        "model_release_date": None,
        "benchmark": benchmark[:300],
        "task_version": None,
        "eval_date": when,
        "metric": METRIC,
        "score": float(asr),
        "stderr": None,
        "n_samples": len(samples),
        "status": "success",
        "source": SOURCE,
    }
    counts = {
        key: _optional_count(params.get(key), f"{label}, field 'parameters.{key}'")
        for key in (
            "total_number_of_jailbreaks",
            "number_of_submitted_prompts",
            "total_number_of_queries",
            "total_prompt_tokens",
            "total_response_tokens",
        )
    }
    details = {
        "file": label,
        "method": method,
        "method_folder": method_dir,
        "attack_type": attack_type,
        "defense": defense,
        "higher_is_better": False,
        "direction": "higher attack success rate = the model was jailbroken more often",
        "jailbroken_share": (sum(1 for s in samples if s.score == 1.0) / len(samples)) if samples else None,
        **counts,
        "evaluation_llm_provider": params.get("evaluation_llm_provider"),
        "method_parameters": params.get("method_parameters"),
        "credit": sources.JAILBREAKBENCH.credit,
    }
    return make_run(label, row, details, samples)


def import_jailbreakbench(
    store: Store,
    path: Path | str,
    *,
    actor: str = "cli",
    institute: str | None = None,
    tlp: str | None = None,
    releasable: Sequence[str] | None = None,
) -> ImportReport:
    """Import JailbreakBench artifacts (the artifacts folder, a METHOD folder or one file), all or nothing.
    `institute` is ignored: the artifacts are public data (PUBLIC), whoever imports them."""
    p = Path(path)
    level, rel = public_marking(sources.JAILBREAKBENCH, tlp, releasable)
    files = artifact_files(p)
    report = ImportReport(kind="jailbreakbench", source=str(p), batch_id=new_batch_id("jailbreakbench"))
    runs = [read_artifact(f) for f in files]
    with store.transaction() as con:
        write_content_runs(con, runs, report, tlp=level, releasable=rel, actor=actor)
        report.details = {
            "files": len(files),
            "runs": [r.run.row["run_id"] for r in runs],
            "samples": sum(len(r.samples) for r in runs),
            "credit": sources.JAILBREAKBENCH.credit,
            "marking": {"tlp": level, "releasable_to": rel},
        }
        record_batch(con, report, actor=actor, institute=None)
        audit.record(con, actor, "import jailbreakbench", report.batch_id, audit.import_counts(report))
    return report
