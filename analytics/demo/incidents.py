"""The demo's incidents: when they happen, what they are, who reports them and how they are marked, drawn with
numpy from one seed (see docs/demo-data.md for the shapes).

Shaped after what the institutes report: incidents grow from 2019 to 2026 and the mix moves towards agentic
misuse, prompt injection and AI-assisted intrusion; sectors, actors and severity depend on the category (the
weight tables below); ~55% UK / 45% AU; a TLP mix with AMBER+STRICT and RED for named recipients.
analytics.demo.generator turns the Arrow tables returned here into store rows.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa

from analytics import crosswalk, vocab
from analytics.demo.world import DEMO_END, DEMO_START, DemoModel

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


def _weighted_choice(rng: np.random.Generator, weights: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each i, draw a column index from weights[rows[i]] (vectorised inverse CDF)."""
    cdf = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(len(rows))
    return np.minimum((u[:, None] > cdf[rows]).sum(axis=1), weights.shape[1] - 1)


# Incident columns in the order of the Arrow table build_demo reads (by name).
_INCIDENT_COLUMNS = (
    "seq",
    "ordinal",
    "reported_ordinal",
    "originator",
    "category",
    "severity",
    "actor_type",
    "sector1",
    "sector2",
    "country1",
    "country2",
    "affected_system",
    "developer",
    "status",
    "tlp",
    "shared",
    "red_variant",
    "source_reliability",
    "credibility",
    "title",
)

# The draws below share one generator, so a seed gives the same store only while they run in this order:
# each helper draws its columns and nothing else, and generate_incidents calls them in the original order.


def generate_incidents(n: int, seed: int, models: list[DemoModel]) -> tuple[pa.Table, pa.Table]:
    """Incident rows and their techniques as Arrow tables (ids stable for a seed)."""
    rng = np.random.default_rng(seed)
    ordinals = _occurrence_days(rng, n)
    t = (ordinals - DEMO_START.toordinal()) / (DEMO_END.toordinal() - DEMO_START.toordinal())  # 0..1
    cat = _categories(rng, ordinals, t)
    originator = _originators(rng, cat)
    sector1, sector2 = _sectors(rng, cat)
    actor = _weighted_choice(rng, _ACTOR_W, cat)
    severity = _weighted_choice(rng, _SEV_W, cat) + 1
    columns: dict[str, Any] = {
        "seq": np.arange(n),
        "ordinal": ordinals,
        "originator": originator,
        "category": np.array(vocab.CATEGORIES)[cat],
        "severity": severity.astype(np.int8),
        "actor_type": np.array(vocab.ACTOR_TYPES)[actor],
        "sector1": np.array(vocab.SECTORS)[sector1],
        "sector2": sector2,
        **_countries(rng, originator),
        **_affected_systems(rng, ordinals, sector1, models),
        **_markings(rng, n),
        **_handling(rng, ordinals, t),
    }
    columns["title"] = _titles(rng, cat, columns["affected_system"], columns["sector1"])
    inc = pa.table({name: columns[name] for name in _INCIDENT_COLUMNS})
    return inc, _incident_techniques(rng, cat, columns["seq"])


def _occurrence_days(rng: np.random.Generator, n: int) -> np.ndarray:
    """Day ordinals of occurrence. Intensity rises ~40% a year (about 12x over the period): inverse-CDF
    sampling of an exponential."""
    span = DEMO_END.toordinal() - DEMO_START.toordinal()
    k = np.log(12.0) / span
    u = rng.random(n)
    offsets = np.floor(np.log1p(u * (np.exp(k * span) - 1)) / k).astype(np.int64)
    return DEMO_START.toordinal() + np.minimum(offsets, span)


def _categories(rng: np.random.Generator, ordinals: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Category indexes (into vocab.CATEGORIES), the mix moving from _CAT_W0 to _CAT_W1 over the period."""
    n = len(ordinals)
    w = _CAT_W0[None, :] * (1 - t[:, None]) + _CAT_W1[None, :] * t[:, None]
    cdf = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
    cat = np.minimum((rng.random(n)[:, None] > cdf).sum(axis=1), len(vocab.CATEGORIES) - 1)
    # A planted spike: a burst of agentic-misuse reports in one recent month, so the anomaly flags have
    # something real to find.
    spike_mask = (ordinals >= date(2026, 9, 1).toordinal()) & (ordinals < date(2026, 10, 1).toordinal())
    return np.where(spike_mask & (rng.random(n) < 0.35), 1, cat)


def _originators(rng: np.random.Generator, cat: np.ndarray) -> np.ndarray:
    """'UK' or 'AU': ~55% UK overall, leaning by category so the two institutes' pictures differ."""
    uk_share = np.array([0.58, 0.50, 0.52, 0.55, 0.66, 0.42, 0.55, 0.60, 0.50, 0.55])
    return np.where(rng.random(len(cat)) < uk_share[cat], "UK", "AU")


def _sectors(rng: np.random.Generator, cat: np.ndarray) -> tuple[np.ndarray, pa.Array]:
    """The main sector's index (into vocab.SECTORS) and, for ~30%, a second sector's name (else null)."""
    sector1 = _weighted_choice(rng, _SECTOR_W, cat)
    sector2 = _weighted_choice(rng, _SECTOR_W, cat)
    has2 = (rng.random(len(cat)) < 0.3) & (sector2 != sector1)
    return sector1, pa.array(np.array(vocab.SECTORS)[sector2], mask=~has2)


def _countries(rng: np.random.Generator, originator: np.ndarray) -> dict[str, Any]:
    """Mostly the originator's own country, sometimes also a partner or a hostile state as origin of attack."""
    n = len(originator)
    countries_pool = np.array(vocab.COUNTRIES)
    other = countries_pool[rng.integers(2, len(countries_pool), size=n)]
    has_other = rng.random(n) < 0.35
    return {
        "country1": np.where(originator == "UK", "GB", "AU"),
        "country2": pa.array(other, mask=~has_other),
    }


def _affected_systems(
    rng: np.random.Generator, ordinals: np.ndarray, sector1: np.ndarray, models: list[DemoModel]
) -> dict[str, np.ndarray]:
    """Affected system and developer: a model released before the incident (one of the latest few) for ~70%,
    else the sector's kind of system built in house."""
    n = len(ordinals)
    model_names = np.array([m.name for m in models])
    model_devs = np.array([m.developer for m in models])
    model_rel = np.array([m.release.toordinal() for m in models])
    idx_latest = np.searchsorted(model_rel, ordinals, side="right") - 1
    pick = idx_latest - rng.integers(0, 6, size=n)
    names_model = np.where(pick >= 0, model_names[np.clip(pick, 0, None)], "legacy in-house model")
    devs_model = np.where(pick >= 0, model_devs[np.clip(pick, 0, None)], "in-house")
    system_kind = np.array([_SYSTEM_KIND[s] for s in vocab.SECTORS])[sector1]
    uses_model = rng.random(n) < 0.7
    return {
        "affected_system": np.where(uses_model, names_model, system_kind),
        "developer": np.where(uses_model, devs_model, "in-house"),
    }


def _markings(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """TLP, whether the partner may read it, and which named recipients a RED incident has (build_demo turns
    these into releasable_to and named_recipients)."""
    tlp_levels = np.array(["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"])
    tlp_i = np.searchsorted(np.cumsum([0.15, 0.35, 0.30, 0.12, 0.08]), rng.random(n), side="right")
    tlp_i = np.minimum(tlp_i, 4)
    shared = (tlp_i <= 1) | ((tlp_i == 2) & (rng.random(n) < 0.8)) | ((tlp_i == 4) & (rng.random(n) < 0.3))
    return {
        "tlp": tlp_levels[tlp_i],
        "shared": shared,
        # named recipients for RED: the originator's lead, sometimes its analyst; shared RED adds the partner lead
        "red_variant": rng.integers(0, 2, size=n),
    }


def _handling(rng: np.random.Generator, ordinals: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
    """Status (old incidents are mostly closed), source grading, and the report date (within 30 days)."""
    n = len(ordinals)
    status_i = np.clip(((1 - t) * 6 + rng.normal(0, 0.8, size=n)).astype(int), 0, 4)
    reliability = np.array(vocab.SOURCE_RELIABILITY)[
        _weighted_choice(rng, np.array([[2, 5, 4, 1, 0.3, 1.5]]), np.zeros(n, dtype=int))
    ]
    credibility = _weighted_choice(rng, np.array([[2, 5, 4, 1.5, 0.5, 1]]), np.zeros(n, dtype=int)) + 1
    return {
        "status": np.array(vocab.STATUSES)[status_i],
        "source_reliability": reliability,
        "credibility": credibility.astype(np.int8),
        "reported_ordinal": ordinals + rng.integers(0, 30, size=n),
    }


def _titles(
    rng: np.random.Generator, cat: np.ndarray, affected: np.ndarray, sector: np.ndarray
) -> np.ndarray:
    """'<one of the category's verbs> <affected system> (<sector>)'."""
    verbs_i = rng.integers(0, 3, size=len(cat))
    verb_table = np.array([_TITLE_VERBS[c] for c in vocab.CATEGORIES])
    verb = verb_table[cat, verbs_i]
    return np.char.add(
        np.char.add(np.char.add(verb.astype(str), " "), affected.astype(str)),
        np.char.add(np.char.add(" (", sector), ")"),
    )


def _incident_techniques(rng: np.random.Generator, cat: np.ndarray, seq: np.ndarray) -> pa.Table:
    """1-3 techniques per incident from its category's list, earlier entries more often: (seq, technique_id)."""
    n = len(cat)
    ntech = 1 + (rng.random(n) < 0.55).astype(int) + (rng.random(n) < 0.25).astype(int)
    tech_lists = [crosswalk.CATEGORY_TECHNIQUES[c] for c in vocab.CATEGORIES]
    list_lengths = np.array([len(techs) for techs in tech_lists])
    rows_seq, rows_tech = [], []
    for slot in range(3):
        mask = ntech > slot
        sub_cat = cat[mask]
        lens = list_lengths[sub_cat]
        # skewed pick: floor(len * u^2) favours the first techniques
        j = np.floor(lens * rng.random(mask.sum()) ** 2).astype(int)
        rows_seq.append(seq[mask])
        rows_tech.append(_vector_pick(tech_lists, sub_cat, j))
    return pa.table({"seq": np.concatenate(rows_seq), "technique_id": np.concatenate(rows_tech)})


def _vector_pick(tech_lists: list[tuple[str, ...]], cats: np.ndarray, j: np.ndarray) -> np.ndarray:
    width = max(len(t) for t in tech_lists)
    table = np.array([list(t) + [t[-1]] * (width - len(t)) for t in tech_lists])
    return table[cats, j]
