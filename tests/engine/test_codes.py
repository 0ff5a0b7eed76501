"""The statutory code lists (CIN census 2025-26, SSDA903 2025-26)."""

from __future__ import annotations

import pytest

from carepath.core.codes import STATUTORY_CODELISTS, Codelist

EXPECTED_COUNTS = {
    "sex": 3,
    "upn_unknown": 7,
    "ethnicity": 20,
    "disability": 13,
    "referral_source": 22,
    "primary_need": 10,
    "closure_reason": 9,
    "abuse_category": 5,
    "assessment_factors": 42,
    # SSDA903 2025-26 (carepath.core.looked_after_codes)
    "lac_reason_new_episode": 6,
    "lac_legal_status": 13,
    "lac_category_of_need": 8,
    "lac_placement_type": 29,
    "lac_placement_provider": 6,
    "lac_reason_episode_ceased": 22,
    "lac_reason_care_ceased": 21,
    "lac_reason_place_change": 12,
    "lac_review_participation": 8,
    "lac_missing_type": 2,
    "lac_in_touch": 6,
    "lac_care_leaver_activity": 12,
    "lac_care_leaver_accommodation": 31,
    "lac_sdq_reason": 5,
    "lac_sw_change_reason": 10,
    "lac_previous_permanence": 5,
    "lac_reason_placed_ceased": 4,
    "lac_adopter_sex": 5,
    "lac_adopter_legal_status": 6,
}


def test_every_statutory_list_is_there_with_its_size() -> None:
    assert {k: len(v.codes) for k, v in STATUTORY_CODELISTS.items()} == EXPECTED_COUNTS


@pytest.mark.parametrize("list_id", sorted(EXPECTED_COUNTS))
def test_lists_are_statutory_keyed_by_id_with_unique_labelled_codes(list_id: str) -> None:
    cl = STATUTORY_CODELISTS[list_id]
    assert isinstance(cl, Codelist)
    assert cl.id == list_id and cl.statutory and cl.title
    codes = [c.code for c in cl.codes]
    assert len(codes) == len(set(codes))
    assert all(c.label and c.label.strip() == c.label for c in cl.codes)


def test_exact_codes() -> None:
    codes = {k: [c.code for c in v.codes] for k, v in STATUTORY_CODELISTS.items()}
    assert codes["sex"] == ["M", "F", "U"]
    assert codes["upn_unknown"] == [f"UN{i}" for i in range(1, 8)]
    assert codes["primary_need"] == [f"N{i}" for i in range(10)]
    assert codes["closure_reason"] == [f"RC{i}" for i in range(1, 10)]
    assert codes["abuse_category"] == ["NEG", "PHY", "SAB", "EMO", "MUL"]
    assert codes["referral_source"] == [
        "1A", "1B", "1C", "1D", "2A", "2B", "3A", "3B", "3C", "3D", "3E", "3F",
        "4", "5A", "5B", "5C", "5D", "6", "7", "8", "9", "10",
    ]  # fmt: skip
    assert codes["ethnicity"] == [
        "WBRI", "WIRI", "WIRT", "WOTH", "WROM", "MWBC", "MWBA", "MWAS", "MOTH", "AIND",
        "APKN", "ABAN", "AOTH", "BCRB", "BAFR", "BOTH", "CHNE", "OOTH", "REFU", "NOBT",
    ]  # fmt: skip
    assert codes["disability"] == [
        "NONE", "MOB", "HAND", "PC", "INC", "COMM", "LD", "HEAR", "VIS", "BEH", "CON", "AUT", "DDA",
    ]  # fmt: skip


def test_assessment_factors_are_the_current_ones() -> None:
    factors = STATUTORY_CODELISTS["assessment_factors"]
    for retired in ("18A", "19A"):
        assert retired not in factors
    for code in ("1A", "3B", "7A", "8B", "8F", "9A", "16A", "17A", "18B", "18C", "19B", "19C",
                 "20", "21", "22A", "23A", "24A"):
        assert code in factors
    assert "8A" not in factors  # private fostering codes start at 8B
    assert factors.label("21") == "No factors identified"


def test_labels() -> None:
    assert STATUTORY_CODELISTS["upn_unknown"].label("UN1") == "Child is not of school age"
    assert STATUTORY_CODELISTS["upn_unknown"].label("UN7") == "Referral with no further action"
    assert STATUTORY_CODELISTS["closure_reason"].label("RC9") == (
        "Case closed after assessment, referred to early help"
    )
    assert STATUTORY_CODELISTS["referral_source"].label("5D").endswith("early help")
    assert STATUTORY_CODELISTS["abuse_category"].label("MUL") == "Multiple/not recommended"
    # an unknown code is shown as itself
    assert STATUTORY_CODELISTS["sex"].label("X") == "X"


def test_contains_compares_codes_exactly() -> None:
    source = STATUTORY_CODELISTS["referral_source"]
    assert "6" in source
    assert 6 not in source  # codes are text
    assert "2a" not in source


def test_903_lists_are_the_2025_26_ones() -> None:
    """PLACE drops H5, P2 and Z1 and adds Z11-Z14 in 2025-26 (rule 146)."""
    place = [c.code for c in STATUTORY_CODELISTS["lac_placement_type"].codes]
    assert place == ["A3", "A4", "A5", "A6", "K1", "K2", "K3", "P1", "P3", "R1", "R2", "R3",
                     "R5", "S1", "T0", "T1", "T2", "T3", "T4", "U1", "U2", "U3", "U4", "U5",
                     "U6", "Z11", "Z12", "Z13", "Z14"]
    rec = [c.code for c in STATUTORY_CODELISTS["lac_reason_episode_ceased"].codes]
    assert sorted(rec) == sorted(["X1", "E11", "E12", "E2", "E3", "E4A", "E4B", "E13", "E41",
                                  "E45", "E46", "E47", "E48", "E5", "E6", "E7", "E9", "E14",
                                  "E15", "E16", "E17", "E8"])
    assert [c.code for c in STATUTORY_CODELISTS["lac_legal_status"].codes] == [
        "C1", "C2", "D1", "E1", "V2", "V3", "V4", "L1", "L2", "L3", "J1", "J2", "J3"]
