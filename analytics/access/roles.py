"""The role vocabulary: the four roles and the named capability sets every check uses.

Roles were bare strings re-listed wherever a check was made, so a new role (or a changed rule) had to be found
in a dozen tuples. Here each capability is named once; `Viewer.role` is a `Role`, so mypy refuses a misspelt
role anywhere a role is compared or required.
"""

from __future__ import annotations

from typing import Literal, get_args

Role = Literal["analyst", "lead", "policymaker", "admin"]

ROLES: tuple[Role, ...] = get_args(Role)
EVERYONE: tuple[Role, ...] = ROLES

# See raw records (incidents, evaluation runs, the matrix) and act on them: import, export, map benchmarks, save
# views. Policymakers read summaries and approved assessments only.
RECORD_READERS: tuple[Role, ...] = ("analyst", "lead", "admin")
# Draft, edit, submit and comment on assessments, and set the evaluation thresholds they cite.
ASSESSMENT_AUTHORS: tuple[Role, ...] = ("analyst", "lead")
# Sign off (or return) an assessment for their institute.
SIGNERS: tuple[Role, ...] = ("lead",)
# Manage users and read the audit log.
ADMINS: tuple[Role, ...] = ("admin",)

# How a sentence names the people of a role ("which is for analysts, leads and administrators").
ROLE_PLURALS: dict[Role, str] = {
    "analyst": "analysts",
    "lead": "leads",
    "policymaker": "policymakers",
    "admin": "administrators",
}
