"""Deterministic, realistic demo data: incidents, evaluation runs with per-sample scores, users, taxonomy.

Shaped after what the institutes report (docs/demo-data.md): incidents grow from 2019 to 2026 and the mix moves
towards agentic misuse, prompt injection and AI-assisted intrusion; sectors, actors and severity depend on the
category; ~55% UK / 45% AU; a TLP mix with AMBER+STRICT and RED for named recipients. Evaluation runs cover
~30 fictional frontier models on 12 benchmarks with capability rising by release date; some model/benchmark
pairs are run by both institutes with small disagreements.

Everything is drawn with numpy from one seed and bulk-inserted through Arrow, so 1M incidents and 10M eval
samples build in well under a minute (the benchmark harness depends on that).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from analytics import crosswalk, vocab
from analytics.accounts import identity
from analytics.demo import taxonomy as demo_taxonomy
from analytics.store.database import Store, exclusive

DEMO_START = date(2019, 1, 1)
DEMO_END = date(2026, 11, 20)  # fixed so a seed gives the same store on any day

# Category weights at the start (2019) and end (2026) of the period; the mix moves linearly between them.
_CAT_W0 = np.array([10, 1, 2, 6, 30, 8, 12, 8, 15, 25], dtype=float)
_CAT_W1 = np.array([22, 20, 18, 9, 10, 8, 3, 4, 4, 3], dtype=float)

# Sector weights per category (rows follow vocab.CATEGORIES, columns vocab.SECTORS).
_SECTOR_W = np.array(
    [
        # fin def edu hlth gov enr tel ci  tech media retail
        [9, 6, 2, 5, 8, 6, 6, 7, 5, 1, 3],  # cyber intrusion
        [9, 3, 2, 3, 5, 2, 3, 3, 8, 1, 6],  # agentic misuse
        [6, 1, 3, 4, 4, 1, 2, 1, 9, 3, 6],  # prompt injection
        [2, 2, 5, 3, 3, 1, 2, 1, 9, 4, 2],  # jailbreak
        [2, 3, 2, 2, 9, 1, 3, 1, 3, 9, 1],  # disinformation
        [9, 1, 1, 2, 4, 1, 3, 1, 2, 3, 5],  # deepfake fraud
        [2, 2, 3, 3, 2, 1, 1, 1, 9, 2, 2],  # data poisoning
        [3, 4, 3, 1, 2, 1, 2, 1, 9, 1, 1],  # model theft
        [5, 1, 5, 8, 5, 1, 3, 1, 6, 2, 4],  # privacy
        [3, 1, 4, 7, 4, 2, 1, 3, 5, 2, 3],  # safety failure
    ],
    dtype=float,
)

# Actor weights per category (columns vocab.ACTOR_TYPES).
_ACTOR_W = np.array(
    [
        # state crim hackt insider research agent unknown
        [9, 8, 2, 1, 1, 1, 3],
        [1, 5, 1, 2, 2, 9, 3],
        [2, 7, 3, 1, 5, 2, 3],
        [1, 4, 3, 1, 8, 1, 3],
        [9, 3, 4, 1, 0.2, 2, 3],
        [2, 9, 1, 1, 0.2, 1, 2],
        [3, 3, 2, 2, 5, 1, 3],
        [6, 5, 1, 4, 1, 0.5, 2],
        [1, 4, 2, 4, 3, 2, 4],
        [0.2, 0.5, 0.2, 1, 3, 4, 5],
    ],
    dtype=float,
)

# Severity weights per category (columns severity 1..5).
_SEV_W = np.array(
    [
        [1, 2, 4, 5, 3],
        [1, 3, 5, 4, 2],
        [2, 4, 5, 3, 1],
        [3, 5, 4, 2, 0.5],
        [1, 3, 5, 3, 1],
        [1, 2, 5, 4, 1],
        [2, 3, 4, 2, 1],
        [1, 2, 4, 5, 2],
        [2, 4, 5, 3, 1],
        [3, 4, 4, 2, 1],
    ],
    dtype=float,
)

_TITLE_VERBS: dict[str, tuple[str, ...]] = {
    "AI-enabled cyber intrusion": (
        "AI-assisted intrusion into",
        "LLM-generated exploit chain against",
        "Automated vulnerability scanning of",
    ),
    "Agentic system misuse": (
        "Autonomous agent exceeded its mandate in",
        "Agent tool misuse against",
        "Agent executed unauthorised transactions in",
    ),
    "Prompt injection": (
        "Indirect prompt injection via retrieved content in",
        "Prompt injection hijacked",
        "Injected instructions exfiltrated data from",
    ),
    "Jailbreak": (
        "Jailbreak bypassed safeguards of",
        "Multi-turn jailbreak of",
        "Obfuscated jailbreak against",
    ),
    "Disinformation campaign": (
        "Coordinated AI-generated disinformation targeting",
        "Synthetic persona network targeting",
        "AI-written narratives amplified against",
    ),
    "Deepfake fraud": (
        "Voice-clone fraud against",
        "Deepfake video call defrauded",
        "Synthetic identity fraud in",
    ),
    "Data poisoning": (
        "Poisoned training data found in",
        "Backdoored fine-tuning set affecting",
        "RAG corpus poisoning in",
    ),
    "Model theft": (
        "Model weights exfiltrated from",
        "Model extraction through the API of",
        "Insider copied model artefacts from",
    ),
    "Privacy and data leakage": (
        "Training data leakage from",
        "System prompt and customer data exposed by",
        "Memorised personal data surfaced by",
    ),
    "Safety failure": (
        "Unsafe autonomous behaviour in",
        "Harmful advice produced by",
        "Guardrail failure in",
    ),
}

_SYSTEM_KIND: dict[str, str] = {
    "finance": "payments assistant",
    "defence": "logistics planning system",
    "education": "tutoring chatbot",
    "healthcare": "clinical triage assistant",
    "government": "citizen services chatbot",
    "energy": "grid operations copilot",
    "telecommunications": "network operations agent",
    "critical infrastructure": "SCADA monitoring assistant",
    "technology": "coding agent",
    "media": "newsroom summariser",
    "retail": "customer service agent",
}


@dataclass(frozen=True)
class DemoModel:
    name: str
    developer: str
    release: date
    ability: float  # latent capability used to draw benchmark scores


_DEVELOPERS = (
    "Northwind AI",
    "Meridian Labs",
    "Kestrel Systems",
    "Solace Research",
    "Tasman AI",
    "Open Weights Co",
)

BENCHMARKS: tuple[tuple[str, float, int, str], ...] = (
    # name, difficulty (higher = harder), samples per run, what it measures
    ("Cybench", 2.2, 40, "cyber capture-the-flag"),
    ("InterCode-CTF", 0.6, 100, "cyber capture-the-flag"),
    ("Cyber range intrusion", 2.8, 30, "multi-step network intrusion"),
    ("WMDP-Cyber", -0.8, 400, "hazardous cyber knowledge"),
    ("AgentHarm", 0.4, 176, "harmful agentic task completion"),
    ("AgentDojo injection", 0.2, 200, "prompt-injection attack success"),
    ("StrongREJECT jailbreak", 0.0, 300, "jailbreak success rate"),
    ("Autonomy: RE-Bench", 2.6, 35, "autonomous ML research engineering"),
    ("SWE-bench Verified", 1.2, 500, "software engineering"),
    ("GPQA Diamond", 0.5, 198, "expert science QA"),
    ("Misuse uplift: bio QA", 0.9, 120, "biology misuse uplift"),
    ("Self-proliferation tasks", 3.0, 25, "autonomous replication"),
)


def demo_models(rng: np.random.Generator, n: int = 30) -> list[DemoModel]:
    names = [
        "Aurora",
        "Basalt",
        "Corvid",
        "Dune",
        "Ember",
        "Fjord",
        "Garnet",
        "Helix",
        "Iris",
        "Juniper",
        "Kite",
        "Lumen",
        "Mistral-ish",
        "Nimbus",
        "Onyx",
    ]
    start, end = date(2023, 1, 15).toordinal(), date(2026, 9, 30).toordinal()
    days = np.sort(rng.integers(start, end, size=n))
    out = []
    for k, d in enumerate(days):
        dev = _DEVELOPERS[k % len(_DEVELOPERS)]
        years = (d - start) / 365.25
        # Capability grows ~0.9 logits a year; open-weights models trail the frontier.
        ability = -1.0 + 0.9 * years + rng.normal(0, 0.35) - (0.6 if dev == "Open Weights Co" else 0.0)
        family = names[k % len(names)]
        out.append(
            DemoModel(f"{family}-{1 + k // len(names)}.{k % 3}", dev, date.fromordinal(int(d)), ability)
        )
    return out


def _weighted_choice(rng: np.random.Generator, weights: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each i, draw a column index from weights[rows[i]] (vectorised inverse CDF)."""
    cdf = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(len(rows))
    return np.minimum((u[:, None] > cdf[rows]).sum(axis=1), weights.shape[1] - 1)


def generate_incidents(n: int, seed: int, models: list[DemoModel]) -> tuple[pa.Table, pa.Table]:
    """Incident rows and their techniques as Arrow tables (ids stable for a seed)."""
    rng = np.random.default_rng(seed)
    span = DEMO_END.toordinal() - DEMO_START.toordinal()
    # Growth: intensity rises ~40% a year (about 12x over the period), inverse-CDF sampling of an exponential.
    k = np.log(12.0) / span
    u = rng.random(n)
    offsets = np.floor(np.log1p(u * (np.exp(k * span) - 1)) / k).astype(np.int64)
    ordinals = DEMO_START.toordinal() + np.minimum(offsets, span)
    t = (ordinals - DEMO_START.toordinal()) / span  # 0..1 through the period

    ncat = len(vocab.CATEGORIES)
    # Category mix moves from _CAT_W0 to _CAT_W1 over time: draw per incident with interpolated weights.
    w = _CAT_W0[None, :] * (1 - t[:, None]) + _CAT_W1[None, :] * t[:, None]
    cdf = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
    cat = np.minimum((rng.random(n)[:, None] > cdf).sum(axis=1), ncat - 1)

    # A planted spike: a burst of agentic-misuse reports in one recent month, so the anomaly flags have
    # something real to find.
    spike_mask = (ordinals >= date(2026, 9, 1).toordinal()) & (ordinals < date(2026, 10, 1).toordinal())
    cat = np.where(spike_mask & (rng.random(n) < 0.35), 1, cat)

    # Originator: ~55% UK overall, leaning by category so the two institutes' pictures differ.
    uk_share = np.array([0.58, 0.50, 0.52, 0.55, 0.66, 0.42, 0.55, 0.60, 0.50, 0.55])
    originator = np.where(rng.random(n) < uk_share[cat], "UK", "AU")

    sector1 = _weighted_choice(rng, _SECTOR_W, cat)
    sector2 = _weighted_choice(rng, _SECTOR_W, cat)
    has2 = (rng.random(n) < 0.3) & (sector2 != sector1)
    actor = _weighted_choice(rng, _ACTOR_W, cat)
    severity = _weighted_choice(rng, _SEV_W, cat) + 1

    # Countries: mostly the originator's own, sometimes a partner or a hostile state as origin of attack.
    countries_pool = np.array(vocab.COUNTRIES)
    own = np.where(originator == "UK", "GB", "AU")
    other = countries_pool[rng.integers(2, len(countries_pool), size=n)]
    has_other = rng.random(n) < 0.35

    # Affected system: a named model for model-centric categories, else a sector system.
    model_names = np.array([m.name for m in models])
    model_devs = np.array([m.developer for m in models])
    model_rel = np.array([m.release.toordinal() for m in models])
    # only models released before the incident; pick among the latest few
    idx_latest = np.searchsorted(model_rel, ordinals, side="right") - 1
    pick = idx_latest - rng.integers(0, 6, size=n)
    names_model = np.where(pick >= 0, model_names[np.clip(pick, 0, None)], "legacy in-house model")
    devs_model = np.where(pick >= 0, model_devs[np.clip(pick, 0, None)], "in-house")
    sector_names = np.array(vocab.SECTORS)
    system_kind = np.array([_SYSTEM_KIND[s] for s in vocab.SECTORS])[sector1]
    uses_model = rng.random(n) < 0.7
    affected = np.where(uses_model, names_model, system_kind)
    developer = np.where(uses_model, devs_model, "in-house")

    # Markings
    tlp_levels = np.array(["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"])
    tlp_i = np.searchsorted(np.cumsum([0.15, 0.35, 0.30, 0.12, 0.08]), rng.random(n), side="right")
    tlp_i = np.minimum(tlp_i, 4)
    tlp = tlp_levels[tlp_i]
    shared = (tlp_i <= 1) | ((tlp_i == 2) & (rng.random(n) < 0.8)) | ((tlp_i == 4) & (rng.random(n) < 0.3))
    # named recipients for RED: the originator's lead, sometimes its analyst; shared RED adds the partner lead
    red_variant = rng.integers(0, 2, size=n)

    # Status: old incidents are mostly closed.
    age = 1 - t
    status_i = np.clip((age * 6 + rng.normal(0, 0.8, size=n)).astype(int), 0, 4)
    status = np.array(vocab.STATUSES)[status_i]
    reliability = np.array(vocab.SOURCE_RELIABILITY)[
        _weighted_choice(rng, np.array([[2, 5, 4, 1, 0.3, 1.5]]), np.zeros(n, dtype=int))
    ]
    credibility = _weighted_choice(rng, np.array([[2, 5, 4, 1.5, 0.5, 1]]), np.zeros(n, dtype=int)) + 1
    reported = ordinals + rng.integers(0, 30, size=n)

    verbs_i = rng.integers(0, 3, size=n)
    cats = np.array(vocab.CATEGORIES)
    verb_table = np.array([_TITLE_VERBS[c] for c in vocab.CATEGORIES])
    verb = verb_table[cat, verbs_i]
    sect = sector_names[sector1]
    title = np.char.add(
        np.char.add(np.char.add(verb.astype(str), " "), affected.astype(str)),
        np.char.add(np.char.add(" (", sect), ")"),
    )

    seq = np.arange(n)

    inc = pa.table(
        {
            "seq": seq,
            "ordinal": ordinals,
            "reported_ordinal": reported,
            "originator": originator,
            "category": cats[cat],
            "severity": severity.astype(np.int8),
            "actor_type": np.array(vocab.ACTOR_TYPES)[actor],
            "sector1": sect,
            "sector2": pa.array(sector_names[sector2], mask=~has2),
            "country1": own,
            "country2": pa.array(other, mask=~has_other),
            "affected_system": affected,
            "developer": developer,
            "status": status,
            "tlp": tlp,
            "shared": shared,
            "red_variant": red_variant,
            "source_reliability": reliability,
            "credibility": credibility.astype(np.int8),
            "title": title,
        }
    )

    # Techniques: 1-3 per incident from its category's list, earlier entries more often.
    ntech = 1 + (rng.random(n) < 0.55).astype(int) + (rng.random(n) < 0.25).astype(int)
    tech_lists = [crosswalk.CATEGORY_TECHNIQUES[c] for c in vocab.CATEGORIES]
    rows_seq, rows_tech = [], []
    for slot in range(3):
        mask = ntech > slot
        sub_cat = cat[mask]
        lens = np.array([len(tech_lists[c]) for c in range(ncat)])[sub_cat]
        # skewed pick: floor(len * u^2) favours the first techniques
        j = np.floor(lens * rng.random(mask.sum()) ** 2).astype(int)
        flat = _vector_pick(tech_lists, sub_cat, j)
        rows_seq.append(seq[mask])
        rows_tech.append(flat)
    techs = pa.table({"seq": np.concatenate(rows_seq), "technique_id": np.concatenate(rows_tech)})
    return inc, techs


def _vector_pick(tech_lists: list[tuple[str, ...]], cats: np.ndarray, j: np.ndarray) -> np.ndarray:
    width = max(len(t) for t in tech_lists)
    table = np.array([list(t) + [t[-1]] * (width - len(t)) for t in tech_lists])
    return table[cats, j]


def generate_eval_runs(seed: int, models: list[DemoModel], n_runs: int | None = None) -> pa.Table:
    """One row per run. Scores are filled from the samples afterwards so they agree with them exactly."""
    rng = np.random.default_rng(seed + 1)
    rows: list[dict[str, object]] = []
    pairs = [(m, b) for m in models for b in BENCHMARKS]
    pairs = [pairs[i] for i in rng.permutation(len(pairs))]
    target = n_runs if n_runs is not None else int(len(pairs) * 0.85)
    k = 0
    while len(rows) < target and pairs:
        m, b = pairs[k % len(pairs)]
        k += 1
        repeat = k // len(pairs)  # beyond one pass (large --evals), re-runs with a new task version
        institutes = ["UK"] if rng.random() < 0.55 else ["AU"]
        if rng.random() < 0.18:
            institutes = ["UK", "AU"]  # run by both: the agreement view needs these
        for inst in institutes:
            eval_day = m.release.toordinal() + int(rng.integers(3, 120))
            tlp = str(rng.choice(["GREEN", "AMBER", "AMBER+STRICT"], p=[0.45, 0.45, 0.10]))
            if len(institutes) == 2:
                tlp = str(rng.choice(["GREEN", "AMBER"]))
            rel = (
                ["AU", "UK"]
                if tlp != "AMBER+STRICT" and (len(institutes) == 2 or rng.random() < 0.85)
                else [inst]
            )
            rows.append(
                {
                    "run_id": f"{inst.lower()}-{seed}-{len(rows):06d}",
                    "institute": inst,
                    "model": m.name,
                    "model_developer": m.developer,
                    "model_release_ordinal": m.release.toordinal(),
                    "benchmark": b[0],
                    "task_version": str(1 + repeat),
                    "eval_ordinal": min(eval_day, DEMO_END.toordinal()),
                    "n_samples": b[2],
                    "ability": m.ability - b[1] + (rng.normal(0, 0.12) if inst == "AU" else 0.0),
                    "tlp": tlp,
                    "releasable_to": rel,
                }
            )
            if len(rows) >= target:
                break
    return pa.Table.from_pylist(rows)


def build_demo(
    store: Store,
    *,
    incidents: int = 5000,
    evals: int | None = None,
    samples: int | None = None,
    seed: int = 7,
) -> dict[str, int]:
    """Fill an empty store with demo data (users always). Refuses a store that already has records."""
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
        rng = np.random.default_rng(seed)
        models = demo_models(rng)
        inc, techs = generate_incidents(incidents, seed, models)
        con.register("demo_inc", inc)
        con.register("demo_tech", techs)
        con.execute(
            """
            insert into incidents
            select
                originator || '-' || strftime(make_date(1, 1, 1) + (ordinal - 1)::integer, '%Y') || '-'
                    || lpad((seq + 1)::varchar, 7, '0') as id,
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
                timestamp '2026-11-20 09:00:00', timestamp '2026-11-20 09:00:00'
            from demo_inc order by ordinal
            """,
            {"end": DEMO_END.toordinal()},
        )
        con.execute(
            """
            insert into incident_techniques
            select distinct i.id, t.technique_id
            from demo_tech t join (
                select seq, originator || '-' || strftime(make_date(1, 1, 1) + (ordinal - 1)::integer, '%Y') || '-'
                    || lpad((seq + 1)::varchar, 7, '0') as id from demo_inc
            ) i using (seq)
            """
        )
        con.unregister("demo_inc")
        con.unregister("demo_tech")

        runs = generate_eval_runs(seed, models, evals)
        natural = sum(int(x) for x in runs.column("n_samples").to_pylist())
        scale = (samples / natural) if samples else 1.0
        con.register("demo_runs", runs)
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
        # Per-sample results: P(correct) = sigmoid(ability - difficulty of the sample). Sample difficulty is
        # shared by every model on a benchmark, so paired comparisons between models are meaningful.
        con.execute(
            """
            insert into eval_samples
            select r.run_id, 's' || lpad(s::varchar, 5, '0') as sample_id, 1 as epoch,
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
            """,
            {"seed": seed},
        )
        con.execute(
            """
            update eval_runs set score = s.mean, stderr = s.se
            from (
                select run_id, avg(score) as mean, coalesce(stddev_samp(score) / sqrt(count(*)), 0) as se
                from eval_samples group by run_id
            ) s where s.run_id = eval_runs.run_id
            """
        )
        con.unregister("demo_runs")
        counts = con.execute(
            "select (select count(*) from incidents), (select count(*) from eval_runs), "
            "(select count(*) from eval_samples)"
        ).fetchone()
        assert counts is not None
        return {"incidents": int(counts[0]), "eval_runs": int(counts[1]), "eval_samples": int(counts[2])}


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
    env = {**os.environ, **({"THREAT_DB_MEMORY_LIMIT": memory_limit} if memory_limit else {})}
    root = Path(__file__).resolve().parents[2]  # the project root (analytics/demo/generator.py)
    done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(
            f"building the {incidents:,}-incident demo store failed: {done.stderr.strip()[-500:]}"
        )
    return path
