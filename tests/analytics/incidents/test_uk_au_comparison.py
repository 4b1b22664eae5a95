"""The UK–AU comparison says which differences could be chance (issue 20): a two-proportion test per category,
Benjamini–Hochberg-adjusted over every category compared (docs/methods.md, "UK–AU differences"), as the
evaluations' UK–AU agreement table is."""

from __future__ import annotations

import pandas as pd
import pytest

from analytics.incidents import charts as incident_charts


def _by_originator(uk: dict[str, int], au: dict[str, int]) -> pd.DataFrame:
    rows = [(c, "UK", "institute", n) for c, n in uk.items()] + [
        (c, "AU", "institute", n) for c, n in au.items()
    ]
    return pd.DataFrame(rows, columns=["category", "originator", "source", "n"])


def test_a_big_difference_between_big_numbers_is_not_chance_and_a_small_one_is() -> None:
    diff = incident_charts.originator_differences(
        _by_originator(
            {"Jailbreak": 400, "Prompt injection": 300, "Deepfake fraud": 10},
            {"Jailbreak": 150, "Prompt injection": 500, "Deepfake fraud": 12},
        )
    )
    by_cat = diff.set_index("category")
    assert not by_cat.loc["Jailbreak", "could_be_chance"]
    assert not by_cat.loc["Prompt injection", "could_be_chance"]
    assert by_cat.loc["Deepfake fraud", "could_be_chance"]
    # the adjusted p is never below the raw one, and agrees with the flag at the 5% level
    assert (diff["adjusted_p"] >= diff["p_value"] - 1e-12).all()
    assert ((diff["adjusted_p"] >= 0.05) == diff["could_be_chance"]).all()


def test_adjustment_counts_every_category_compared_not_just_those_listed() -> None:
    uk = {f"c{k}": 50 for k in range(10)} | {"x": 80}
    au = {f"c{k}": 50 for k in range(10)} | {"x": 50}
    few = incident_charts.originator_differences(_by_originator(uk, au), limit=1)
    assert len(few) == 1 and few["category"].iloc[0] == "x"
    # one of eleven tests: p × 11 (BH at rank 1), not the raw p
    assert few["adjusted_p"].iloc[0] == pytest.approx(min(1.0, few["p_value"].iloc[0] * 11))
