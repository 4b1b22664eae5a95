"""Per-sample scores for evaluation tests: a run of n samples whose first `right` are right."""

from __future__ import annotations


def right_first(prefix: str, right: int, n: int) -> dict[str, float]:
    """n samples named prefix0000.., the first `right` scored 1."""
    return {f"{prefix}{k:04d}": (1.0 if k < right else 0.0) for k in range(n)}
