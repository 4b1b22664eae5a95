"""The simulation tables of docs/methods.md: error rates and power of the anomaly flags and of "rising fastest".

Why a module: the tables in the documentation must be reproducible by anyone, from the code that runs in the
product, with fixed seeds. `python -m analytics.stats.simulate` prints them as Markdown (two to five minutes
on two cores; `--quick` uses a tenth of the simulated series for a rough look). The tests in
tests/analytics/stats/test_anomalies_calibration.py and test_rising.py assert the same properties on smaller
runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import numpy as np

from analytics.stats.anomalies import DEFAULT_RULE, flag_matrix
from analytics.stats.rising import DEFAULT_RISING_RULE, rising_matrix

LAMBDAS = (0.5, 2.0, 10.0, 30.0)
ANOMALY_PHIS = (1.0, 2.0, 3.0)
RISING_PHIS = (1.0, 2.0, 3.0)
PERIODS = 24
CATEGORY_MEANS = np.geomspace(
    8, 400, 11
)  # the overview's two tables: 11 categories, 10 sectors (per 90 days)
SECTOR_MEANS = np.geomspace(12, 250, 10)


def counts(
    rng: np.random.Generator, mean: float | np.ndarray, phi: float, shape: tuple[int, ...]
) -> np.ndarray:
    """Poisson (phi = 1) or negative binomial counts with variance phi x mean."""
    if phi == 1:
        return rng.poisson(mean, shape)
    return rng.negative_binomial(np.asarray(mean) / (phi - 1), 1 / phi, shape)


def _label(phi: float) -> str:
    return "Poisson" if phi == 1 else f"NB φ={phi:g}"


def anomaly_rates(series: int) -> Iterator[str]:
    """Per-period false-alarm rate and power for a 3x burst, by mean and dispersion (one series at a time)."""
    yield "| counts | λ | false alarms per period | × nominal | power, 3× burst |"
    yield "|---|---|---|---|---|"
    for phi in ANOMALY_PHIS:
        for lam in LAMBDAS:
            rng = np.random.default_rng(int(lam * 100) + int(phi * 7))
            matrix = counts(rng, lam, phi, (PERIODS, series))
            flags = flag_matrix(matrix, DEFAULT_RULE)
            rate = len(flags.observed) / ((PERIODS - DEFAULT_RULE.min_baseline) * series)
            matrix[-1] = counts(rng, 3 * lam, phi, (series,))
            burst = flag_matrix(matrix, DEFAULT_RULE)
            power = np.isin(np.arange(series), burst.series[burst.period == PERIODS - 1]).mean()
            yield (
                f"| {_label(phi)} | {lam:g} | {rate:.3%} | {rate / DEFAULT_RULE.alpha:.2f} | {power:.0%} |"
            )


def grid_rates(runs: int) -> Iterator[str]:
    """A grid of 20 series (means 0.5 to 30) x 6 reported months: chance of any flag with nothing happening,
    and the false share of flags (FDR) with a 4x burst planted in 4 series in the last month."""
    series, periods, reported = 20, 18, 6
    means = np.geomspace(0.5, 30, series)
    shown = np.arange(periods) >= periods - reported
    yield "| counts | any flag, nothing happening | false share of flags (FDR), 4 bursts | bursts found |"
    yield "|---|---|---|---|"
    for phi in (1.0, 3.0):
        rng = np.random.default_rng(42 + int(phi))
        any_flag, false_share, found = 0, [], []
        for _ in range(runs):
            matrix = counts(rng, means, phi, (periods, series))
            any_flag += len(flag_matrix(matrix, DEFAULT_RULE, report=shown, fdr=True).observed) > 0
            hit = rng.choice(series, size=4, replace=False)
            matrix[-1, hit] = counts(rng, 4 * means[hit], phi, (4,))
            flags = flag_matrix(matrix, DEFAULT_RULE, report=shown, fdr=True)
            true = (flags.period == periods - 1) & np.isin(flags.series, hit)
            false_share.append(float(1 - true.mean()) if len(true) else 0.0)
            found.append(true.sum() / 4)
        yield (
            f"| {_label(phi)} | {any_flag / runs:.1%} | {np.mean(false_share):.1%} | {np.mean(found):.0%} |"
        )


def rising_rates(pages: int) -> Iterator[str]:
    """Chance that an overview page lists anything, by what really happened, and power by size and ratio."""
    yield "| counts | nothing changes | every value +9% | every value exactly 1.5× (the boundary) |"
    yield "|---|---|---|---|"
    for phi in RISING_PHIS:
        rng = np.random.default_rng(1500 + int(phi))
        cells = []
        for growth in (1.0, 1.09, 1.5):
            listed = np.zeros(pages, dtype=bool)
            for means in (CATEGORY_MEANS, SECTOR_MEANS):
                prev = counts(rng, means, phi, (pages, len(means)))
                now = counts(rng, means * growth, phi, (pages, len(means)))
                listed |= rising_matrix(now, prev, DEFAULT_RISING_RULE, tables=2).listed.any(axis=1)
            cells.append(f"{listed.mean():.1%}")
        yield f"| {_label(phi)} | " + " | ".join(cells) + " |"
    yield ""
    ratios = (1.5, 2.0, 3.0, 5.0)
    yield "| counts | before (90 days) | " + " | ".join(f"{r:g}×" for r in ratios) + " |"
    yield "|---|---|" + "---|" * len(ratios)
    for phi in (1.0, 2.0):
        for base in (10, 20, 40, 80, 160):
            rng = np.random.default_rng(base + int(phi))
            means = np.full(11, float(base))
            cells = []
            for ratio in ratios:
                prev = counts(rng, means, phi, (pages, 11))
                now = counts(rng, means * np.r_[ratio, np.ones(10)], phi, (pages, 11))
                cells.append(
                    f"{rising_matrix(now, prev, DEFAULT_RISING_RULE, tables=2).listed[:, 0].mean():.0%}"
                )
            yield f"| {_label(phi)} | {base} | " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the simulated series")
    args = parser.parse_args(argv)
    scale = 0.1 if args.quick else 1.0
    sections = [
        (
            "Anomaly flags: one series (24 periods, every baseline length from 6 to 12)",
            anomaly_rates(int(60_000 * scale)),
        ),
        (
            "Anomaly flags: many series at once (flag_grid, Benjamini-Hochberg)",
            grid_rates(int(2_000 * scale)),
        ),
        (
            "Rising fastest: the overview's two tables (11 categories, 10 sectors)",
            rising_rates(int(20_000 * scale)),
        ),
    ]
    for title, lines in sections:
        print(f"### {title}\n")
        for line in lines:
            print(line, flush=True)
        print()


if __name__ == "__main__":
    main()
