"""The PHIA and ICD 203 scales, translation warnings, and finding probability language in text."""

from __future__ import annotations

import pytest

from analytics.assessments import yardstick as y


def test_phia_bands_keep_their_deliberate_gaps() -> None:
    assert [(b.term, b.low, b.high) for b in y.PHIA_BANDS] == [
        ("remote chance", 0, 5),
        ("highly unlikely", 10, 20),
        ("unlikely", 25, 35),
        ("realistic possibility", 40, 50),
        ("likely", 55, 75),
        ("highly likely", 80, 90),
        ("almost certain", 95, 100),
    ]
    assert y.phia_for_percent(30) == y.phia_band("unlikely")
    assert y.phia_for_percent(37) is None
    assert y.phia_for_percent(7) is None
    assert y.neighbours_of_gap(37) == (y.phia_band("unlikely"), y.phia_band("realistic possibility"))
    assert y.neighbours_of_gap(30) is None


def test_phia_terms_are_canonical() -> None:
    assert y.phia_term("Probably") == "likely"
    assert y.phia_term("  Highly   likely ") == "highly likely"
    with pytest.raises(ValueError, match="not a PHIA yardstick term"):
        y.phia_term("very likely")  # ICD 203, not PHIA


def test_icd_unlikely_translates_with_a_warning() -> None:
    t = y.icd_to_phia("unlikely")
    assert t.target.term == "unlikely"
    assert t.warning is not None
    assert "20–45%" in t.warning and "25–35%" in t.warning


@pytest.mark.parametrize(
    ("icd", "phia", "warns"),
    [
        ("almost no chance", "remote chance", False),  # 1–5 sits inside 0–5
        ("very unlikely", "highly unlikely", True),  # 5–20 vs 10–20
        ("unlikely", "unlikely", True),
        ("roughly even chance", "realistic possibility", True),  # 45–55 vs 40–50
        ("likely", "likely", True),  # 55–80 vs 55–75
        ("very likely", "highly likely", True),  # 80–95 vs 80–90
        ("almost certain", "almost certain", False),  # 95–99 inside 95–100
    ],
)
def test_every_icd_term_translates_to_the_nearest_phia_band(icd: str, phia: str, warns: bool) -> None:
    t = y.icd_to_phia(icd)
    assert t.target.term == phia
    assert (t.warning is not None) is warns


def test_phia_to_icd_for_partners() -> None:
    assert y.phia_to_icd("highly likely").target.term == "very likely"
    assert y.phia_to_icd("highly likely").exact  # 80–90 sits inside ICD 80–95
    assert not y.phia_to_icd("realistic possibility").exact  # 40–50 straddles ICD unlikely / even chance


def test_terms_in_text_take_the_longest_phrase() -> None:
    found = [
        (m.phrase, m.band.low, m.band.high) for m in y.terms_in_text("It is Highly Unlikely, not likely.")
    ]
    # "not likely" is the complement of likely (issue 18, finding 7: it was read as "likely")
    assert found == [("highly unlikely", 10, 20), ("not likely", 25, 45)]
    assert [m.phrase for m in y.terms_in_text("very  likely and probably")] == ["very likely", "probably"]
    assert y.terms_in_text("the likelihood of unlikelihood") == []


def test_percentages_in_text() -> None:
    text = "about 70%, 60-70 per cent, 60 to 70%, 45 percent, 3.5%, 200%, 1,000%, 12 models"
    assert y.percentages_in_text(text) == [(70, 70), (60, 70), (60, 70), (45, 45), (3.5, 3.5)]
    assert y.format_percent(60, 70) == "60–70%"
    assert y.format_percent(3.5, 3.5) == "3.5%"
