"""Canary records for the leak suite: one per marking case, each carrying a unique string that must appear exactly
where the marking rules allow and nowhere else (page text, chart specs, tables, widget options, downloads, errors).

    canaries = plant_canaries(store)               # a Store or a tests.conftest.StoreBuilder
    blob = rendered_text(at)                       # everything an AppTest run sent to the browser
    assert_only_allowed(blob, viewer, canaries, where="overview")

Who may see which canary is decided here by an independent, plain-Python statement of the rules in
docs/access-model.md (not by analytics.access.markings), so the suite checks the SQL rather than restating it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from analytics.access.viewer import Viewer
from analytics.store.database import Store


@dataclass(frozen=True)
class Canary:
    case: str
    token: str  # unique, ASCII, no markdown or regex specials: survives every rendering path verbatim
    originator: str
    tlp: str
    releasable_to: tuple[str, ...]
    named_recipients: tuple[str, ...] = ()

    @property
    def incident_id(self) -> str:
        return f"CANARY-{self.case.upper()}"

    @property
    def run_id(self) -> str:
        return f"CANARY-RUN-{self.case.upper()}"


# case, originator, TLP, releasable to, named recipients
CASES: tuple[tuple[str, str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("red-named", "UK", "RED", ("AU", "UK"), ("analyst@uk.example", "lead@au.example")),
    ("strict-uk", "UK", "AMBER+STRICT", ("UK",), ()),
    ("strict-uk-both", "UK", "AMBER+STRICT", ("AU", "UK"), ()),  # JOINT must still not see it
    ("strict-au", "AU", "AMBER+STRICT", ("AU",), ()),
    ("strict-au-both", "AU", "AMBER+STRICT", ("AU", "UK"), ()),
    ("uk-only", "UK", "AMBER", ("UK",), ()),
    ("au-only", "AU", "GREEN", ("AU",), ()),
    ("shared", "UK", "GREEN", ("AU", "UK"), ()),  # the control: everyone who sees records sees this one
)


def make_canaries(seed: str | None = None) -> dict[str, Canary]:
    tag = seed or secrets.token_hex(4)
    return {
        case: Canary(case, f"zqx{case.replace('-', '')}{tag}", orig, tlp, rel, named)
        for case, orig, tlp, rel, named in CASES
    }


def plant_canaries(store: Any, *, evals: bool = True, seed: str | None = None) -> dict[str, Canary]:
    """Insert one incident (token in title, summary, affected system, developer and tags) and, with `evals`, one
    evaluation run (token in model and benchmark) per case. `store` is a Store or a StoreBuilder."""
    target: Store = getattr(store, "store", store)
    canaries = make_canaries(seed)
    with target.transaction() as tx:
        for c in canaries.values():
            tx.execute(
                "insert into incidents (id, title, summary, occurred_on, reported_on, originator, source, "
                "category, severity, actor_type, sectors, countries, affected_system, developer, status, tlp, "
                "releasable_to, named_recipients, tags) values (?, ?, ?, ?, ?, ?, 'institute', "
                "'Prompt injection', 4, 'criminal', ['finance'], ['GB'], ?, ?, 'new', ?, ?, ?, ?)",
                [
                    c.incident_id,
                    f"Canary title {c.token}",
                    f"Canary summary {c.token}",
                    date(2026, 11, 2),
                    date(2026, 11, 3),
                    c.originator,
                    f"System-{c.token}",
                    f"Developer-{c.token}",
                    c.tlp,
                    list(c.releasable_to),
                    list(c.named_recipients),
                    [c.token],
                ],
            )
            if evals:
                tx.execute(
                    "insert into eval_runs (run_id, institute, model, model_developer, model_release_date, "
                    "benchmark, task_version, eval_date, metric, score, stderr, n_samples, source, tlp, "
                    "releasable_to, named_recipients) values (?, ?, ?, ?, ?, ?, '1', ?, 'accuracy', 0.42, 0.03, "
                    "100, 'institute', ?, ?, ?)",
                    [
                        c.run_id,
                        c.originator,
                        f"Model-{c.token}",
                        f"Developer-{c.token}",
                        date(2026, 6, 1),
                        f"Bench-{c.token}",
                        date(2026, 10, 1),
                        c.tlp,
                        list(c.releasable_to),
                        list(c.named_recipients),
                    ],
                )
    return canaries


def may_see_record(c: Canary, viewer: Viewer) -> bool:
    """The marking rules, stated independently of analytics.access.markings."""
    if viewer.institute == "JOINT":
        institute_ok = {"UK", "AU"} <= set(c.releasable_to)
    else:
        institute_ok = viewer.institute in c.releasable_to
    red_ok = c.tlp != "RED" or viewer.email.lower() in c.named_recipients
    strict_ok = c.tlp != "AMBER+STRICT" or c.originator == viewer.institute
    return institute_ok and red_ok and strict_ok


def may_see_text(c: Canary, viewer: Viewer) -> bool:
    """Raw record text (titles, summaries, systems) additionally needs a role that reads records."""
    return may_see_record(c, viewer) and viewer.can_see_records


def allowed_cases(viewer: Viewer, canaries: dict[str, Canary], *, text: bool = True) -> set[str]:
    rule = may_see_text if text else may_see_record
    return {case for case, c in canaries.items() if rule(c, viewer)}


def found_cases(blob: str | bytes, canaries: dict[str, Canary]) -> set[str]:
    text = blob.decode("utf-8", "replace") if isinstance(blob, bytes) else blob
    return {case for case, c in canaries.items() if c.token in text}


def assert_only_allowed(
    blob: str | bytes, viewer: Viewer, canaries: dict[str, Canary], *, where: str, text: bool = True
) -> set[str]:
    """No canary outside the viewer's clearance appears in `blob`. Returns the cases that do appear."""
    found = found_cases(blob, canaries)
    leaked = found - allowed_cases(viewer, canaries, text=text)
    assert not leaked, f"{where}: {viewer.email} ({viewer.institute} {viewer.role}) saw {sorted(leaked)}"
    return found


def assert_exactly_allowed(
    blob: str | bytes, viewer: Viewer, canaries: dict[str, Canary], *, where: str, text: bool = True
) -> None:
    """For views that list every visible record: the allowed canaries all appear, and no others."""
    found = assert_only_allowed(blob, viewer, canaries, where=where, text=text)
    missing = allowed_cases(viewer, canaries, text=text) - found
    assert not missing, f"{where}: {viewer.email} should see {sorted(missing)} but does not"


def _walk(node: Any) -> Iterator[Any]:
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _walk(child)


def rendered_text(at: Any) -> str:
    """Everything the last AppTest run sent to the browser, as text: every element's message (markdown,
    captions, metrics, errors, widget labels and options, Plotly figure JSON, Arrow table bytes shown as
    escaped text, download button labels), in the main area and the sidebar."""
    parts: list[str] = []
    for node in _walk(at._tree):
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto))
    return "\n".join(parts)


def tokens(canaries: dict[str, Canary]) -> Iterable[str]:
    return (c.token for c in canaries.values())
