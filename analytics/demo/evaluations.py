"""The demo's evaluation runs: which model is run on which benchmark, by which institute, when and under
which marking. Per-sample scores are drawn in SQL by analytics.demo.generator, from each run's `ability`.

~30 fictional frontier models on 12 benchmarks with capability rising by release date (analytics.demo.world);
some model/benchmark pairs are run by both institutes with small disagreements.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from analytics.demo.world import BENCHMARKS, DEMO_END, DemoModel


def generate_eval_runs(seed: int, models: list[DemoModel], n_runs: int | None = None) -> pa.Table:
    """One row per run. Scores are filled from the samples afterwards so they agree with them exactly."""
    rng = np.random.default_rng(seed + 1)
    rows: list[dict[str, object]] = []
    pairs = [(m, b) for m in models for b in BENCHMARKS]
    pairs = [pairs[i] for i in rng.permutation(len(pairs))]
    target = n_runs if n_runs is not None else int(len(pairs) * 0.85)
    k = 0
    while len(rows) < target and pairs:
        m, b = pairs[k % len(pairs)]
        k += 1
        repeat = k // len(pairs)  # beyond one pass (large --evals), re-runs with a new task version
        institutes = ["UK"] if rng.random() < 0.55 else ["AU"]
        if rng.random() < 0.18:
            institutes = ["UK", "AU"]  # run by both: the agreement view needs these
        for inst in institutes:
            eval_day = m.release.toordinal() + int(rng.integers(3, 120))
            tlp = str(rng.choice(["GREEN", "AMBER", "AMBER+STRICT"], p=[0.45, 0.45, 0.10]))
            if len(institutes) == 2:
                tlp = str(rng.choice(["GREEN", "AMBER"]))
            rel = (
                ["AU", "UK"]
                if tlp != "AMBER+STRICT" and (len(institutes) == 2 or rng.random() < 0.85)
                else [inst]
            )
            rows.append(
                {
                    "run_id": f"{inst.lower()}-{seed}-{len(rows):06d}",
                    "institute": inst,
                    "model": m.name,
                    "model_developer": m.developer,
                    "model_release_ordinal": m.release.toordinal(),
                    "benchmark": b[0],
                    "task_version": str(1 + repeat),
                    "eval_ordinal": min(eval_day, DEMO_END.toordinal()),
                    "n_samples": b[2],
                    "ability": m.ability - b[1] + (rng.normal(0, 0.12) if inst == "AU" else 0.0),
                    "tlp": tlp,
                    "releasable_to": rel,
                }
            )
            if len(rows) >= target:
                break
    return pa.Table.from_pylist(rows)
