"""The ATLAS -> category crosswalk is product vocabulary: every category known, every id an ATLAS technique."""

from __future__ import annotations

import re

from analytics import crosswalk, vocab
from analytics.demo import taxonomy


def test_every_category_has_techniques_and_only_known_categories() -> None:
    assert set(crosswalk.CATEGORY_TECHNIQUES) == set(vocab.CATEGORIES)
    assert all(crosswalk.CATEGORY_TECHNIQUES[c] for c in vocab.CATEGORIES)


def test_every_technique_is_an_atlas_id_of_the_shipped_slice() -> None:
    shipped = {tid for tid, *_ in taxonomy.TECHNIQUES}
    for techs in crosswalk.CATEGORY_TECHNIQUES.values():
        for t in techs:
            assert re.fullmatch(r"AML\.T\d{4}(\.\d{3})?", t)
            assert t in shipped, t


def test_category_is_the_one_sharing_most_techniques() -> None:
    # AML.T0051.001 (indirect prompt injection) and AML.T0070 (RAG poisoning): both in Prompt injection
    assert crosswalk.category_for_techniques(["AML.T0051.001", "AML.T0070"]) == "Prompt injection"
    assert crosswalk.category_for_techniques(["AML.T0020", "AML.T0019"]) == "Data poisoning"


def test_a_tie_goes_to_the_category_listed_first() -> None:
    # AML.T0048 (External Harms) is in Jailbreak, Disinformation, Deepfake fraud and Safety failure
    assert crosswalk.category_for_techniques(["AML.T0048"]) == "Jailbreak"


def test_no_shared_technique_means_no_category() -> None:
    assert crosswalk.category_for_techniques([]) is None
    assert crosswalk.category_for_techniques(["AML.T9999"]) is None
