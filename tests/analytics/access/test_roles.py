"""One role vocabulary: the roles and the capability sets are named once, in analytics/access/roles.py, and
every check elsewhere uses those names, so a changed rule or a new role is one edit (and mypy refuses a misspelt
role wherever a `Role` is expected)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from analytics.access import roles
from analytics.access.viewer import AccessDenied, Viewer

ROOT = Path(__file__).resolve().parents[3]
ROLE_NAMES = set(roles.ROLES)
# Where role names may be written out: the vocabulary itself, the demo personas and the benchmark's viewer.
ALLOWED = {"analytics/access/roles.py", "analytics/accounts/identity.py"}
ALLOWED_UNDER = ("analytics/demo/", "analytics/bench/")


def _product_files() -> list[Path]:
    files = [*ROOT.glob("analytics/**/*.py"), *ROOT.glob("pages/**/*.py"), ROOT / "app.py"]
    return [
        p
        for p in files
        if str(p.relative_to(ROOT)) not in ALLOWED and not str(p.relative_to(ROOT)).startswith(ALLOWED_UNDER)
    ]


def role_literals(source: str) -> list[str]:
    """Role names written as string literals in code (a tuple of them, a comparison, an argument)."""
    return [
        node.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in ROLE_NAMES
    ]


def test_capability_sets_are_made_of_roles() -> None:
    assert roles.ROLES == ("analyst", "lead", "policymaker", "admin")
    for name in ("EVERYONE", "RECORD_READERS", "ASSESSMENT_AUTHORS", "SIGNERS", "ADMINS"):
        members = getattr(roles, name)
        assert members and set(members) <= ROLE_NAMES, name
    assert "policymaker" not in roles.RECORD_READERS  # policymakers never read raw records


@pytest.mark.parametrize("path", _product_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_role_is_spelt_out_outside_the_vocabulary(path: Path) -> None:
    found = role_literals(path.read_text())
    assert found == [], f"{path.relative_to(ROOT)} names roles {found}: use analytics.access.roles"


def test_the_scan_sees_a_spelt_out_role() -> None:
    assert role_literals('if viewer.role in ("analyst", "lead"): pass') == ["analyst", "lead"]
    assert role_literals('viewer.require("admin")') == ["admin"]
    assert role_literals("viewer.require(*ADMINS)") == []


def test_a_viewer_requires_by_capability() -> None:
    lead = Viewer("l@uk.example", "L", "UK", "lead")
    lead.require(*roles.SIGNERS)
    with pytest.raises(AccessDenied):
        Viewer("a@uk.example", "A", "UK", "analyst").require(*roles.SIGNERS)
    with pytest.raises(AccessDenied, match="needs admin"):
        lead.require(*roles.ADMINS)


CAPABILITIES = {"ROLES", "EVERYONE", "RECORD_READERS", "ASSESSMENT_AUTHORS", "SIGNERS", "ADMINS"}


def capability_aliases(source: str) -> list[str]:
    """Names bound to a capability set (`RECORD_ROLES = RECORD_READERS`, `X: tuple[Role, ...] = ...`): a second
    name for one capability, which a reader must trace back and a changed rule can miss."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign | ast.AnnAssign):
            value = node.value
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            aliased = (isinstance(value, ast.Name) and value.id in CAPABILITIES) or (
                isinstance(value, ast.Attribute) and value.attr in CAPABILITIES
            )
            typed = (
                isinstance(node, ast.AnnAssign)
                and value is not None
                and "Role" in ast.unparse(node.annotation)
            )
            if aliased or typed:
                found += [ast.unparse(t) for t in targets]
    return found


@pytest.mark.parametrize("path", _product_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_each_capability_has_one_name(path: Path) -> None:
    found = capability_aliases(path.read_text())
    assert found == [], (
        f"{path.relative_to(ROOT)} renames capability sets as {found}: use analytics.access.roles"
    )


def test_the_scan_sees_an_alias() -> None:
    assert capability_aliases("RECORD_ROLES: tuple[Role, ...] = RECORD_READERS") == ["RECORD_ROLES"]
    assert capability_aliases("SAVE = roles.RECORD_READERS") == ["SAVE"]
    assert capability_aliases("viewer.require(*roles.RECORD_READERS)") == []
