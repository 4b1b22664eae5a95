"""The derived marking of an assessment: pure rules over markings, no store.

An assessment's marking is derived from its evidence (highest TLP, narrowest releasability, RED only for people
named on every RED record and admitted by that releasability, AMBER+STRICT records narrow releasability to their
originating institute); authors may ask for more (a floor), never less. A record marked up after a save raises the banner of every version citing
it, never lowers it (`raise_to_current`). Text written under one marking (a dissent) may be shown under another
only if the second marking's audience is within the first's (`audience_within`).

Pure so that these rules, on which every read and every carried comment relies, are tested value by value;
analytics/assessments/reads.py applies them to stored versions, analytics/access/markings.py holds the same rules
in SQL for records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from analytics.access.markings import INSTITUTES, Marking, normalise_tlp, tlp_rank
from analytics.access.viewer import Viewer


@dataclass(frozen=True)
class EvidenceMarking:
    """A record's marking: what an assessment citing it inherits."""

    tlp: str
    releasable_to: tuple[str, ...]
    named_recipients: tuple[str, ...] = ()
    originator: str = ""


@dataclass(frozen=True)
class DerivedMarking:
    tlp: str
    releasable_to: tuple[str, ...]
    named_recipients: tuple[str, ...]  # meaningful only for RED
    originator: str  # the institute AMBER+STRICT refers to
    evidence_tlp: str  # what the evidence alone requires (the lowest the author may choose)

    @property
    def marking(self) -> Marking:
        return Marking(self.tlp, self.releasable_to)

    def cleared(self, viewer: Viewer) -> bool:
        """The same rule as for records (analytics.access.markings.visible_sql), in Python, for checks before saving."""
        needed = set(INSTITUTES) if viewer.institute == "JOINT" else {viewer.institute}
        if not needed <= set(self.releasable_to):
            return False
        if self.tlp == "RED" and viewer.email.lower() not in self.named_recipients:
            return False
        return not (self.tlp == "AMBER+STRICT" and self.originator != viewer.institute)


# Who each named recipient is: email (lower case) -> institute (UK, AU or JOINT), from the user directory.
People = Mapping[str, str]


def derive_marking(
    evidence: Iterable[EvidenceMarking],
    *,
    creator_institute: str,
    raise_tlp: str | None = None,
    restrict_to: Sequence[str] = (),
    named_recipients: Sequence[str] = (),
    people: People | None = None,
) -> DerivedMarking:
    """The marking an assessment must carry given its evidence and what its authors asked for.

    - TLP: the highest of the evidence and the authors' floor (`raise_tlp` can raise, never lower).
    - Releasability: the intersection of every record's, narrowed further by `restrict_to` if given.
    - AMBER+STRICT records may be seen only in their originating institute, so each one narrows releasability
      to that institute; the assessment's originator is that institute (else the creator's institute).
    - RED: named recipients are those named on every RED record (and in `named_recipients` when the authors
      give a list); with no RED evidence, the authors' list. Given the directory (`people`), only those whose
      institute the releasability admits stay named (`admitted_recipients`): a RED record releasable to UK may
      name an AU lead, but the assessment derived from it, releasable to UK, must not.
    """
    items = list(evidence)
    evidence_tlp = max((e.tlp for e in items), key=tlp_rank, default="CLEAR")
    tlp = evidence_tlp
    if raise_tlp:
        raise_tlp = normalise_tlp(raise_tlp)
        if tlp_rank(raise_tlp) > tlp_rank(tlp):
            tlp = raise_tlp
    rel = set(INSTITUTES)
    for e in items:
        rel &= set(e.releasable_to)
    if restrict_to:
        rel &= set(restrict_to)
    strict_origins = {e.originator for e in items if e.tlp == "AMBER+STRICT"}
    for origin in strict_origins:  # each strict record alone keeps the result inside its own institute
        rel &= {origin}
    if len(strict_origins) == 1:
        originator = next(iter(strict_origins))
    elif strict_origins:
        originator = "NONE"  # strict records of two institutes: nobody may read the combination
    else:
        originator = creator_institute
    named: set[str] | None = None
    for e in items:
        if e.tlp == "RED":
            names = {n.lower() for n in e.named_recipients}
            named = names if named is None else named & names
    requested = {n.strip().lower() for n in named_recipients if n.strip()}
    if requested:
        named = requested if named is None else named & requested
    derived = DerivedMarking(
        tlp=tlp,
        releasable_to=tuple(sorted(rel)),
        named_recipients=tuple(sorted(named or ())) if tlp == "RED" else (),
        originator=originator,
        evidence_tlp=evidence_tlp,
    )
    return admitted_recipients(derived, people)


def admitted_recipients(m: DerivedMarking, people: People | None) -> DerivedMarking:
    """`m` naming only recipients whose institute its releasability admits (the rule of
    analytics.access.markings.visible_sql: their institute is among the releasable ones, and JOINT staff need
    both). Someone not in the directory cannot be checked, so is not named. Without a directory (`people` None:
    pure callers and tests of the other rules) the recipients are left as they are."""
    if people is None or m.tlp != "RED":
        return m
    folded = {str(k).lower(): v for k, v in people.items()}
    kept = tuple(n for n in m.named_recipients if n in folded and _admits(m, folded[n]))
    return replace(m, named_recipients=kept)


def raise_to_current(
    stored: DerivedMarking, current: Sequence[EvidenceMarking], *, people: People | None = None
) -> DerivedMarking:
    """The stored marking raised by the cited records' markings as they are now (a record marked up after the
    save makes the assessment's banner go up too; it never goes down). With the directory (`people`), a RED
    result names only people its releasability admits (`admitted_recipients`)."""
    if not current:
        return admitted_recipients(stored, people)
    now = derive_marking(current, creator_institute=stored.originator)
    tlp = stored.tlp if tlp_rank(stored.tlp) >= tlp_rank(now.tlp) else now.tlp
    rel = tuple(sorted(set(stored.releasable_to) & set(now.releasable_to)))
    if tlp == "RED":
        named = set(stored.named_recipients) if stored.tlp == "RED" else None
        if now.tlp == "RED":
            named = set(now.named_recipients) if named is None else named & set(now.named_recipients)
        named_t = tuple(sorted(named or ()))
    else:
        named_t = ()
    originator = (
        now.originator
        if now.originator != stored.originator and any(e.tlp == "AMBER+STRICT" for e in current)
        else stored.originator
    )
    return admitted_recipients(DerivedMarking(tlp, rel, named_t, originator, stored.evidence_tlp), people)


def _admits(m: DerivedMarking, institute: str) -> bool:
    """Whether some people of `institute` ('JOINT' for the joint service) pass the marking's institute rules."""
    needed = set(INSTITUTES) if institute == "JOINT" else {institute}
    if not needed <= set(m.releasable_to):
        return False
    return not (m.tlp == "AMBER+STRICT" and m.originator != institute)


def audience_within(target: DerivedMarking, origin: DerivedMarking) -> bool:
    """True when everyone cleared for `target` is also cleared for `origin` (the rules of
    analytics.access.markings.visible_sql, per institute and per named recipient): text written for `origin`'s audience
    may then be shown under `target`. Conservative where the marking alone cannot tell (a RED origin needs a RED
    target whose recipients are all among the origin's)."""
    admitted = [i for i in (*INSTITUTES, "JOINT") if _admits(target, i)]
    if target.tlp == "RED" and not target.named_recipients:
        admitted = []  # RED with nobody named: nobody reads it
    if any(not _admits(origin, i) for i in admitted):
        return False
    if origin.tlp == "RED" and admitted:
        return target.tlp == "RED" and set(target.named_recipients) <= set(origin.named_recipients)
    return True
