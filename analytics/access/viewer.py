"""Who is asking. Every read and write in `analytics` takes a Viewer; there is no anonymous access path."""

from __future__ import annotations

from dataclasses import dataclass

ROLES: tuple[str, ...] = ("analyst", "lead", "policymaker", "admin")
VIEWER_INSTITUTES: tuple[str, ...] = ("UK", "AU", "JOINT")


class AccessDenied(PermissionError):
    """A person tried something outside their role. Callers audit it; the message is safe to show."""


@dataclass(frozen=True)
class Viewer:
    email: str
    name: str
    institute: str  # 'UK' | 'AU' | 'JOINT'
    role: str  # 'analyst' | 'lead' | 'policymaker' | 'admin'

    def __post_init__(self) -> None:
        if self.institute not in VIEWER_INSTITUTES:
            raise ValueError(f"unknown institute {self.institute!r}")
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}")

    @property
    def can_see_records(self) -> bool:
        """Policymakers read summaries and approved assessments, not raw records."""
        return self.role in ("analyst", "lead", "admin")

    def require(self, *roles: str) -> None:
        if self.role not in roles:
            raise AccessDenied(f"{self.role} may not do this (needs {' or '.join(roles)})")

    @property
    def label(self) -> str:
        return f"{self.name} · {self.institute} {self.role}"
