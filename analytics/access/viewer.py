"""Who is asking. Every read and write in `analytics` takes a Viewer; there is no anonymous access path."""

from __future__ import annotations

from dataclasses import dataclass

from analytics.access.roles import RECORD_READERS, ROLES, Role

__all__ = ["AccessDenied", "Viewer"]

VIEWER_INSTITUTES: tuple[str, ...] = ("UK", "AU", "JOINT")


class AccessDenied(PermissionError):
    """A person tried something outside their role. Callers audit it; the message is safe to show."""


@dataclass(frozen=True)
class Viewer:
    email: str
    name: str
    institute: str  # 'UK' | 'AU' | 'JOINT'
    role: Role

    def __post_init__(self) -> None:
        if self.institute not in VIEWER_INSTITUTES:
            raise ValueError(f"unknown institute {self.institute!r}")
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}")

    @property
    def can_see_records(self) -> bool:
        """Policymakers read summaries and approved assessments, not raw records."""
        return self.role in RECORD_READERS

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            raise AccessDenied(f"{self.role} may not do this (needs {' or '.join(roles)})")

    @property
    def label(self) -> str:
        return f"{self.name} · {self.institute} {self.role}"
