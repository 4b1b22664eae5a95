"""The fixed world both demo draws share: the period the demo covers, the fictional frontier models and the
benchmarks they are evaluated on.

Incidents name these models as affected systems (analytics.demo.incidents) and evaluation runs score them on
these benchmarks (analytics.demo.evaluations), so both draws take them from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

DEMO_START = date(2019, 1, 1)
DEMO_END = date(2026, 11, 20)  # fixed so a seed gives the same store on any day


@dataclass(frozen=True)
class DemoModel:
    """A fictional frontier model: incidents name it as the affected system, runs evaluate it."""

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
