"""Seeded simulations: the paired tests keep their nominal size and their intervals their nominal coverage at
every number of shared samples the page allows (10 and up), for several discordance rates and score shapes.

Size: share of true nulls rejected at 5%, must be <= 5% plus Monte-Carlo slack (2.5 standard errors of a 5%
rate). Coverage: share of intervals holding the true difference, must be >= 95% minus the same slack. The table
in docs/methods.md ("Evaluation comparisons") is `python -m tests.analytics.stats.test_eval_stats_simulation`.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from analytics.stats import eval_stats

NS = (10, 20, 50, 200)
BINARY_REPS = 20_000
FLIP_REPS = 2_000
FLIP_RESAMPLES = 399  # fewer random sign patterns than the page's 9,999: still a valid (size <= alpha) test


def slack(reps: int) -> float:
    return 2.5 * math.sqrt(0.05 * 0.95 / reps)


def binary_rates(
    n: int, p_b: float, p_c: float, reps: int = BINARY_REPS, seed: int = 1
) -> tuple[float, float]:
    """(rejection rate, coverage) of McNemar's exact test and its interval on tables drawn with P(A right, B
    wrong) = p_b and P(A wrong, B right) = p_c."""
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, [p_b, p_c, 1 - p_b - p_c], size=reps)
    b, c = draws[:, 0], draws[:, 1]
    p = eval_stats.mcnemar_p_values(b, c)
    lo, hi = eval_stats.mcnemar_interval(np.full(reps, n), b, c)
    # the interval and the verdict are one method: 0 is outside exactly when p < 0.05
    assert np.array_equal(p < 0.05, (lo > 0) | (hi < 0))
    truth = p_b - p_c
    return float(np.mean(p < 0.05)), float(np.mean((lo <= truth) & (truth <= hi)))


# Discordance rates psi = p_b + p_c and, for coverage, shares pi = p_b / psi of discordant pairs favouring A.
PSI = (0.05, 0.2, 0.5)
PI = (0.5, 0.7, 0.9, 1.0)


@pytest.mark.parametrize("n", NS)
def test_mcnemar_size_and_coverage(n: int) -> None:
    for psi in PSI:
        size, _ = binary_rates(n, psi / 2, psi / 2)
        assert size <= 0.05 + slack(BINARY_REPS), (n, psi, size)
        for pi in PI:
            _, coverage = binary_rates(n, psi * pi, psi * (1 - pi))
            assert coverage >= 0.95 - slack(BINARY_REPS), (n, psi, pi, coverage)


def flip_tables(n: int, probs: tuple[float, ...], reps: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).multinomial(n, probs, size=reps)


# Partial-credit differences on the grid -1, -0.5, 0, 0.5, 1: symmetric (a true null) and shifted shapes.
GRID = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
NULLS = {
    "symmetric, many ties": (0.05, 0.15, 0.6, 0.15, 0.05),
    "symmetric, spread": (0.2, 0.2, 0.2, 0.2, 0.2),
}
SHIFTED = {"A ahead": (0.05, 0.1, 0.5, 0.25, 0.1)}
# A strongly skewed difference (no -1, a fifth of samples +1): the sign-flip interval assumes d - delta is
# symmetric, and at n = 20 it covers the mean 93.6% of the time (2,000 draws; 94.8% for a t-interval, whose
# test is not exact). Documented in docs/methods.md; held at >= 93% so a drift is still caught.
SKEWED = (0.0, 0.05, 0.45, 0.3, 0.2)
SKEWED_FLOOR = 0.93


def flip_rates(n: int, probs: tuple[float, ...], seed: int) -> tuple[float, float]:
    tables = flip_tables(n, probs, FLIP_REPS, seed)
    rejected = covered = 0
    truth = round(float(np.dot(GRID, probs)), 12)  # exactly 0 for the symmetric shapes
    for start in range(0, FLIP_REPS, 250):
        chunk = tables[start : start + 250]
        p, lo, hi = eval_stats.sign_flip_batch(GRID, chunk, resamples=FLIP_RESAMPLES)
        assert np.array_equal(p < 0.05, (lo > 0) | (hi < 0))
        rejected += int(np.count_nonzero(p < 0.05))
        covered += int(np.count_nonzero((lo <= truth + 1e-12) & (truth - 1e-12 <= hi)))
    return rejected / FLIP_REPS, covered / FLIP_REPS


@pytest.mark.parametrize("n", NS)
def test_sign_flip_size_and_coverage(n: int) -> None:
    for name, probs in NULLS.items():
        size, coverage = flip_rates(n, probs, seed=n)
        assert size <= 0.05 + slack(FLIP_REPS), (n, name, size)
        assert coverage >= 0.95 - slack(FLIP_REPS), (n, name, coverage)
    for name, probs in SHIFTED.items():
        _, coverage = flip_rates(n, probs, seed=n + 1)
        assert coverage >= 0.95 - slack(FLIP_REPS), (n, name, coverage)
    _, coverage = flip_rates(n, SKEWED, seed=n + 1)
    assert coverage >= SKEWED_FLOOR, (n, "skewed", coverage)


def table() -> str:
    """The simulation table of docs/methods.md."""
    lines = [
        "| n | McNemar size (psi 0.05 / 0.2 / 0.5) | McNemar min. coverage | sign-flip size (2 nulls) "
        "| sign-flip min. coverage | sign-flip coverage, skewed |",
        "|---:|---|---:|---|---:|---:|",
    ]
    for n in NS:
        sizes = [binary_rates(n, psi / 2, psi / 2)[0] for psi in PSI]
        cov = min(binary_rates(n, psi * pi, psi * (1 - pi))[1] for psi in PSI for pi in PI)
        flips = [flip_rates(n, probs, seed=n) for probs in NULLS.values()]
        fcov = min([c for _, c in flips] + [flip_rates(n, pr, seed=n + 1)[1] for pr in SHIFTED.values()])
        lines.append(
            f"| {n} | {' / '.join(f'{s:.3f}' for s in sizes)} | {cov:.3f} | "
            f"{' / '.join(f'{s:.3f}' for s, _ in flips)} | {fcov:.3f} | {flip_rates(n, SKEWED, n + 1)[1]:.3f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
