"""Build the demo store: deterministic, realistic incidents, evaluation runs with per-sample scores, users and
the ATLAS slice, in one transaction (`python -m analytics demo`, the tests' and benchmarks' stores).

What is drawn lives beside this module: analytics.demo.incidents (incidents and their techniques),
analytics.demo.evaluations (runs), analytics.demo.world (the period, models and benchmarks both share). This
module turns those Arrow tables into store rows and draws the per-sample scores in SQL.

Everything is drawn with numpy from one seed and bulk-inserted through Arrow, so 1M incidents and 10M eval
samples build in well under a minute (the benchmark harness depends on that).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import duckdb
import numpy as np
import pyarrow as pa

from analytics.accounts import identity
from analytics.demo import taxonomy as demo_taxonomy
from analytics.demo.evaluations import generate_eval_runs
from analytics.demo.incidents import generate_incidents
from analytics.demo.world import DEMO_END, demo_models
from analytics.store import incident_keys
from analytics.store.database import Store, exclusive


def build_demo(
    store: Store,
    *,
    incidents: int = 5000,
    evals: int | None = None,
    samples: int | None = None,
    seed: int = 7,
    sample_text: bool = True,
) -> dict[str, int]:
    """Fill an empty store with demo data (users always). Refuses a store that already has records.
    `sample_text` gives every sample an input, target, output, answer and explanation, and the samples of
    agentic benchmarks a transcript (off: scores only, the store as it was before issue 19)."""
    with store.transaction() as con:
        existing = con.execute(
            "select (select count(*) from incidents) + (select count(*) from eval_runs)"
        ).fetchone()
        if existing and existing[0]:
            raise ValueError("the store already holds records; build the demo into a new file")
        identity.enrol_demo_users(con)
        identity.mark_demo_store(con)  # demo mode (no passwords) runs only on a store built here
        _seed_taxonomy(con)
        if incidents == 0:
            return {"incidents": 0, "eval_runs": 0, "eval_samples": 0}
        models = demo_models(np.random.default_rng(seed))
        inc, techs = generate_incidents(incidents, seed, models)
        with _registered(con, "demo_inc", inc), _registered(con, "demo_tech", techs):
            _insert_incidents(con)
        incident_keys.rebuild_tactics(con)  # bulk-loaded techniques: their tactics in one pass
        runs = generate_eval_runs(seed, models, evals)
        natural = sum(int(x) for x in runs.column("n_samples").to_pylist())
        with _registered(con, "demo_runs", runs):
            _insert_eval_runs(con, scale=(samples / natural) if samples else 1.0)
            _insert_eval_samples(con, seed, sample_text=sample_text)
        _score_runs(con)
        return _counts(con)


@contextmanager
def _registered(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> Iterator[None]:
    """`table` readable as the view `name` for the statements inside the block."""
    con.register(name, table)
    try:
        yield
    finally:
        con.unregister(name)


# The demo incident id, e.g. UK-2024-0000042: originator, year of occurrence, 1-based position in the draw.
_DEMO_ID_SQL = (
    "originator || '-' || strftime(make_date(1, 1, 1) + (ordinal - 1)::integer, '%Y') || '-' "
    "|| lpad((seq + 1)::varchar, 7, '0')"
)


def _insert_incidents(con: duckdb.DuckDBPyConnection) -> None:
    """Incidents and their techniques from the registered `demo_inc` and `demo_tech` (generate_incidents)."""
    con.execute(
        f"""
        insert into incidents
        select
            {_DEMO_ID_SQL} as id,
            title,
            'Reported by ' || originator || ' partner network: ' || lower(category) || ' affecting the '
                || sector1 || ' sector (' || affected_system || '). Actor assessed as ' || actor_type
                || '. Source reliability ' || source_reliability || ', credibility ' || credibility || '.'
                as summary,
            (make_date(1, 1, 1) + (ordinal - 1)::integer)::date as occurred_on,
            (make_date(1, 1, 1) + (least(reported_ordinal, $end) - 1)::integer)::date as reported_on,
            originator, 'institute', category, severity, actor_type,
            list_filter([sector1, sector2], lambda x: x is not null) as sectors,
            list_filter([country1, country2], lambda x: x is not null) as countries,
            affected_system, developer, status, tlp,
            case when tlp = 'AMBER+STRICT' then [originator]
                 when shared then ['AU', 'UK'] else [originator] end as releasable_to,
            case when tlp <> 'RED' then []::varchar[]
                 when shared then ['lead@uk.example', 'lead@au.example']
                 when red_variant = 0 then ['lead@' || lower(originator) || '.example']
                 else ['lead@' || lower(originator) || '.example', 'analyst@' || lower(originator) || '.example']
            end as named_recipients,
            source_reliability, credibility, []::varchar[] as tags, 'demo' as import_batch,
            timestamp '2026-11-20 09:00:00', timestamp '2026-11-20 09:00:00',
            'day' as occurred_precision,
            -- the integer key (migration 016) from its sequence, in the order the rows are written
            nextval('incident_key_seq') as incident_key
        from demo_inc order by ordinal
        """,
        {"end": DEMO_END.toordinal()},
    )
    con.execute(
        f"""
        insert into incident_techniques (incident_key, incident_id, technique_id)
        select distinct k.incident_key, i.id, t.technique_id
        from demo_tech t join (select seq, {_DEMO_ID_SQL} as id from demo_inc) i using (seq)
            join incidents k on k.id = i.id
        """
    )


def _insert_eval_runs(con: duckdb.DuckDBPyConnection, *, scale: float) -> None:
    """Runs from the registered `demo_runs`, each run's sample count scaled to reach the requested total.
    Scores come later (_score_runs), from the samples."""
    con.execute(
        """
        insert into eval_runs (run_id, institute, model, model_developer, model_release_date, benchmark,
            task_version, eval_date, metric, n_samples, status, source, tlp, releasable_to, import_batch)
        select run_id, institute, model, model_developer,
            (make_date(1, 1, 1) + (model_release_ordinal - 1)::integer)::date,
            benchmark, task_version, (make_date(1, 1, 1) + (eval_ordinal - 1)::integer)::date, 'accuracy',
            greatest(1, round(n_samples * $scale))::integer, 'success', 'institute', tlp, releasable_to, 'demo'
        from demo_runs
        """,
        {"scale": scale},
    )


def _insert_eval_samples(con: duckdb.DuckDBPyConnection, seed: int, *, sample_text: bool) -> None:
    """Per-sample results of every run: P(correct) = sigmoid(ability - difficulty of the sample). Sample
    difficulty is shared by every model on a benchmark, so paired comparisons between models are meaningful.
    With `sample_text`, what each sample asked, expected and got (see _SAMPLE_TEXT_SQL)."""
    scored = """
        select r.run_id, r.benchmark, 's' || lpad(s::varchar, 5, '0') as sample_id, 1 as epoch,
            case when u < p then 1.0 when u < p + 0.04 and partial then 0.5 else 0.0 end as score,
            case when u < p then 'C' when u < p + 0.04 and partial then 'P' else 'I' end as value
        from (
            select d.run_id, s,
                1 / (1 + exp(-(d.ability - (hash(d.benchmark, s, $seed) % 1000 / 1000.0 - 0.5) * 4))) as p,
                hash(d.run_id, s, $seed + 1) % 100000 / 100000.0 as u,
                d.benchmark in ('Cyber range intrusion', 'Autonomy: RE-Bench') as partial
            from demo_runs d join eval_runs e on e.run_id = d.run_id,
                 range(e.n_samples) t(s)
        ) x join eval_runs r on r.run_id = x.run_id
    """
    if not sample_text:
        con.execute(
            "insert into eval_samples (run_id, sample_id, epoch, score, value) "
            f"select run_id, sample_id, epoch, score, value from ({scored})",
            {"seed": seed},
        )
        return
    insert_samples_with_text(con, scored, {}, seed)


def insert_samples_with_text(
    con: duckdb.DuckDBPyConnection, scored: str, params: dict[str, object], seed: int
) -> None:
    """Insert the samples `scored` selects (run_id, benchmark, sample_id, epoch, score, value) with the demo's
    text, as the demo draws it; the benchmark harness adds its 10,000-sample run with text this way."""
    con.execute(
        "insert into eval_samples (run_id, sample_id, epoch, score, value, input, target, output, answer, "
        f"explanation, transcript) {_SAMPLE_TEXT_SQL.format(scored=scored)}",
        {**params, "seed": seed, "agentic": list(AGENTIC_BENCHMARKS), "corpus": _corpus(seed)},
    )


# Benchmarks whose samples are agent runs (tool calls in a sandbox), so the demo gives them a transcript.
AGENTIC_BENCHMARKS: tuple[str, ...] = (
    "Cybench",
    "InterCode-CTF",
    "Cyber range intrusion",
    "AgentHarm",
    "AgentDojo injection",
    "Autonomy: RE-Bench",
    "SWE-bench Verified",
    "Self-proliferation tasks",
)

# Words the demo's prompts, answers and tool output are made of.
_WORDS_TEXT = (
    "the server config file port binary exploit flag user password hash token secret directory process "
    "kernel module request response header payload script function variable buffer overflow memory "
    "address register network packet socket firewall rule service daemon log entry permission root shell "
    "command output error warning module library version patch test build dataset model weight gradient "
    "protein sequence assay sample result answer question option explain why which what how find compute "
    "a an of to in on for with from by is are was not and or if then else when while return import def"
)
_WORDS: tuple[str, ...] = tuple(_WORDS_TEXT.split(" "))
_CORPUS_WORDS = 150_000  # about 1 MB: windows of it rarely repeat inside one compressed block


_CHUNK = 800  # characters per corpus chunk; every window fits in one chunk after its offset


def _corpus(seed: int) -> list[str]:
    """A long deterministic text, cut into chunks, that the demo's sample texts are windows of: one hash per text,
    not per word, and indexing a list of short strings rather than a 1 MB one, so 10M samples get their text in
    seconds. Random words compress about as well as prose."""
    rng = np.random.default_rng(seed)
    text = " ".join(np.array(_WORDS)[rng.integers(0, len(_WORDS), _CORPUS_WORDS)])
    return [text[k : k + _CHUNK] for k in range(0, len(text) - _CHUNK, _CHUNK)]


def _window(h: str, base: int, spread: int) -> str:
    """SQL: a window of the corpus chosen by hash expression `h`, `base` to `base + spread` characters long."""
    assert base + spread + 100 <= _CHUNK
    return (
        f"substr($corpus[(({h}) % len($corpus))::bigint + 1], (1 + ({h}) % 100)::bigint, "
        f"({base} + ({h}) % {spread})::bigint)"
    )


# The text of a demo sample, from columns run_id, benchmark, sample_id, value. The prompt and target are the
# benchmark's (the same task for every model), the output and answer the run's (right when the score is 1);
# samples of agentic benchmarks get a transcript of 2 to 6 tool calls, about 3 KB (a short agent run).
def _agent_step(k: int) -> str:
    """SQL: the k-th step of a demo agent run, an assistant tool call and the tool's result (JSON texts). Written
    out per step rather than with a lambda: a lambda copies the corpus list per row, 10x slower."""
    return f"""
        json_object('role', 'assistant', 'content', {_window(f"hash(hr, {k})", 30, 120)},
            'tool_calls', [json_object('id', 'call_{k}', 'function', 'bash', 'arguments',
                json_object('cmd', 'cat /srv/' || {_window(f"hash(hr, {k}, 1)", 8, 16)}))])::varchar,
        json_object('role', 'tool', 'tool_call_id', 'call_{k}', 'function', 'bash',
            'content', {_window(f"hash(hr, {k}, 2)", 100, 500)})::varchar"""


_MAX_STEPS = 6
_SAMPLE_TEXT_SQL = f"""
    select run_id, sample_id, epoch, score, value, prompt, target,
    'The answer is ' || answer || '. ' || {_window("hr", 40, 200)}, answer,
    'Compared the answer ' || answer || ' with the target ' || target || ': '
        || case value when 'C' then 'match' when 'P' then 'partly matches' else 'no match' end,
    case when list_contains($agentic, benchmark) then '[' || array_to_string(
        [json_object('role', 'system', 'content', 'You are an agent in a sandbox. Use the tools.')::varchar,
         json_object('role', 'user', 'content', prompt)::varchar]
        || [{", ".join(_agent_step(k) for k in range(_MAX_STEPS))}][1 : 2 * (2 + hr % {_MAX_STEPS - 1})::bigint]
        || [json_object('role', 'assistant', 'content', 'The answer is ' || answer)::varchar], ',') || ']'
    end
    from (
        select *, 'Task ' || sample_id || ' of ' || benchmark || ': ' || {_window("hb", 80, 300)} || '?' as prompt,
            'ANS-' || (hb % 9973)::varchar as target,
            'ANS-' || (case when value = 'C' then hb else hr end % 9973)::varchar as answer
        from (
            select *, hash(benchmark, sample_id, $seed) as hb, hash(run_id, sample_id, $seed) as hr
            from ({{scored}}) scored
        ) hashed
    ) drawn
"""


def _score_runs(con: duckdb.DuckDBPyConnection) -> None:
    """Each run's score and standard error from its samples, so the two agree exactly."""
    con.execute(
        """
        update eval_runs set score = s.mean, stderr = s.se
        from (
            select run_id, avg(score) as mean, coalesce(stddev_samp(score) / sqrt(count(*)), 0) as se
            from eval_samples group by run_id
        ) s where s.run_id = eval_runs.run_id
        """
    )


class _Counts(NamedTuple):
    incidents: int
    eval_runs: int
    eval_samples: int


def _counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    row = con.execute(
        "select (select count(*) from incidents), (select count(*) from eval_runs), "
        "(select count(*) from eval_samples)"
    ).fetchone()
    assert row is not None
    return {name: int(value) for name, value in _Counts(*row)._asdict().items()}


def _seed_taxonomy(con: duckdb.DuckDBPyConnection) -> None:
    """Insert the demo slice of ATLAS unless a taxonomy is already present."""
    have = con.execute("select count(*) from atlas_techniques").fetchone()
    if have and have[0]:
        return
    con.executemany(
        "insert into atlas_tactics (id, name, ordinal) values (?, ?, ?)",
        [[tid, name, k] for k, (tid, name) in enumerate(demo_taxonomy.TACTICS)],
    )
    con.executemany(
        "insert into atlas_techniques (id, name, parent_id) values (?, ?, ?)",
        [[tid, name, parent] for tid, name, parent, _ in demo_taxonomy.TECHNIQUES],
    )
    con.executemany(
        "insert into atlas_technique_tactics (technique_id, tactic_id) values (?, ?)",
        [[tid, ta] for tid, _, _, tactics in demo_taxonomy.TECHNIQUES for ta in tactics],
    )


def build_demo_in_subprocess(
    path: Path,
    incidents: int,
    *,
    samples: int | None = None,
    seed: int | None = None,
    memory_limit: str | None = None,
    sample_text: bool = True,
) -> Path:
    """Replace `path` with a demo store built by `python -m analytics demo` in another process, so the caller
    never holds the file (DuckDB lets one process at a time open it). `memory_limit` overrides the store's own
    for the build only: the generator inserts everything in one transaction.

    For the caller's own scratch stores (benchmarks, load and browser tests): an existing file is deleted, not
    kept as `.replaced-*` as `demo --force` keeps it, and only while no process holds it."""
    with exclusive(path, purpose="replacing it with a demo store"):
        path.unlink(missing_ok=True)
        Path(f"{path}.wal").unlink(missing_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "analytics",
        "demo",
        "--db",
        str(path),
        "--incidents",
        str(incidents),
    ]
    if samples is not None:
        cmd += ["--samples", str(samples)]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    if not sample_text:
        cmd += ["--no-sample-text"]
    env = {**os.environ, **({"THREAT_DB_MEMORY_LIMIT": memory_limit} if memory_limit else {})}
    root = Path(__file__).resolve().parents[2]  # the project root (analytics/demo/generator.py)
    done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(
            f"building the {incidents:,}-incident demo store failed: {done.stderr.strip()[-500:]}"
        )
    return path
