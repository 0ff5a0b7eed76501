"""Ofsted Annex A lists 8 (children looked after), 9 (care leavers) and 10 (adoption): columns,
groupings, who is in each list, the workbook, and agreement with the SSDA903 rows for the same
children (the six of ``ssda903_children`` and two more here)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date as d
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from carepath.core.errors import RecordError
from carepath.core.looked_after_codes import (
    LEGAL_STATUS_CODES,
    PLACEMENT_PROVIDER_CODES,
    PLACEMENT_TYPE_CODES,
    REASON_CARE_CEASED_CODES,
    SHORT_BREAK_STATUSES,
)
from carepath.engine.record.looked_after import (
    Adoption,
    CareLeaverContact,
    LACReview,
    LegalStatus,
    LookedAfter,
    MissingEpisode,
    PeriodOfCare,
    Placement,
    SocialWorkerPeriod,
)
from carepath.engine.record.model import Child
from carepath.returns.annex_a import write_annex_a
from carepath.returns.annex_a_care import (
    CARE_LIST_COLUMNS,
    CARE_REQUIRED,
    CareCase,
    CareLists,
    care_list_rows,
    care_rows,
    leaving_care_category,
)
from carepath.returns.annex_a_groups import (
    ACCOMMODATION,
    ACTIVITY,
    IN_TOUCH,
    LEGAL_STATUS,
    NO_LONGER_PLACED,
    PLACEMENT_TYPE,
    PROVIDER,
    REASON_CEASED,
)
from carepath.returns.ssda903 import TABLES, LookedAfterChild, ssda903_rows
from tests.returns import ssda903_children as kids

from .test_annex_a import rows as workbook_rows

PERIOD = (d(2025, 10, 1), d(2026, 3, 31))  # six months; its last 12 months = the 903's 2025-26
CHILD = ["Child Unique ID", "Sex", "Ethnicity", "Date of Birth", "Age of Child (Years)"]
DISABILITY = "Does the Child have a Disability"
TEAM = ["Allocated Team", "Allocated Worker"]
# The columns of annex_a.md (liia-tools' Annex A schema), with the 2026 change: Sex for Gender.
EXPECTED_COLUMNS = {
    "List 8": CHILD + [
        "Unaccompanied Asylum Seeking Child (UASC) within the Last 12 Months (Y/N)", DISABILITY,
        "Date Started to be Looked After", "Child's Category of Need",
        "Is this a second or subsequent period of being a Looked After Child within the last 12 "
        "months (Y/N)", "Start date of current legal status", "Child's Legal Status",
        "Date of Latest Statutory Review", "Date of Last Social Work Visit",
        "What is the permanence plan for this child?",
        "Date of Last IRO Visit / Contact to the Child", "Date of Last Health Assessment",
        "Date of Last Dental Check", "Number of Placements in the Last 12 months",
        "Date Ceased to be Looked After", "Reason Ceased to be Looked After",
        "Start Date of Most Recent Placement", "Placement Type", "Placement Provider",
        "Placement postcode", "URN of Placement", "Placement Location", "LA of Placement",
        "Number of Episodes the Child has been 'Missing' from their Placement in the last 12 "
        "months",
        "Number of Episodes the Child has been 'Absent' from their Placement in the last 12 "
        "months",
        "Was the child offered a Return Interview after their last missing episode (Y/N)?",
        "Did the child accept a Return Interview after their last missing episode (Y/N)?",
    ] + TEAM,
    "List 9": CHILD + [
        "Unaccompanied Asylum Seeking Child (UASC), or formerly UASC if 18 or over (Y/N)",
        DISABILITY, *TEAM, "Allocated Personal Advisor", "Eligibility Category",
        "Latest Pathway Plan Review Date", "LA in Touch", "Latest Date of Contact",
        "Type of Accommodation", "Suitability of Accommodation", "Activity Status"],
    "List 10": ["Child Unique ID", "Family identifier", "Sex", "Ethnicity", "Date of Birth",
                "Age of Child (Years)", DISABILITY, "Date the Child Entered Care",
                "Date of Decision that Child Should be Placed for Adoption",
                "Date of Placement Order", "Date of Matching Child and Prospective Adopters",
                "Date Placed for Adoption", "Date of Adoption Order",
                "Date of Decision that Child Should No Longer be Placed for Adoption",
                "Reason Why Child No Longer Placed for Adoption",
                "Date the child was placed for fostering in FFA or concurrent planning "
                "placement"],
}
# Allowed values of annex_a.md (the schema's categories)
ALLOWED_LEGAL_STATUS = {
    "a) Interim care orders", "b) Full care orders", "c) Freed for  Adoption",
    "d) Placement order granted", "e) Accommodated under S20",
    "f) Detained on child protection grounds in LA accommodation",
    "g) Youth justice legal Statuses"}
ALLOWED_PLACEMENT = {
    "a) Foster placement", "b) Placed for adoption", "c) Placed with parents",
    "d) Independent living", "e) Residential employment", "f) Residential accommodation",
    "g) Secure Children’s Homes", "h) Children’s Homes", "i) Residential Care Home",
    "j) NHS/Health Trust", "k) Family Centre or Mother and Baby Unit",
    "l) Young Offender Institution", "m) Residential school", "n) Other placements",
    "o) Temporary placement"}
ALLOWED_REASON = {
    "a) Adopted", "b) Died", "c) Care taken by another LA",
    "d) Returned home to live with parents or relatives",
    "e) Left care to live with parents, relatives or other person with no parental "
    "responsibility", "f) Residence order granted", "g) Special Guardianship Orders",
    "h) Moved into independent living",
    "i) Transferred to residential care funded by adult social services",
    "j) Sentenced to custody", "k) Accommodation on remand ended",
    "l) Age assessment determined child was 18 or over", "m) Child moved abroad",
    "n) Care ceased for any other reason"}
ALLOWED_ACCOMMODATION = {
    "a) With parents or relatives", "b) Community home",
    "c) Semi-independent transitional accommodation", "d) Supported lodgings",
    "e) Gone abroad", "f) Deported", "g) Ordinary lodgings", "h) Residence not known",
    "i) No fixed abode / homeless", "j) Foyers", "k) Independent living",
    "l) Emergency accommodation", "m) Bed and breakfast", "n) In custody",
    "o) With Former Foster Carer", "p) Other accommodation"}


def adoption_reversed() -> LookedAfterChild:
    """Interim then full care order, placement order in the year; a fostering-for-adoption
    placement (U5); the adoption decision reversed (RD1)."""
    child = Child("LAC0007", upn="A201123412007", birth_date=d(2024, 6, 1), sex="F",
                  ethnicity="WBRI", disabilities=["NONE"])
    record = LookedAfter(
        periods=[PeriodOfCare(d(2024, 7, 1), "N1")],
        legal_statuses=[LegalStatus("C1", d(2024, 7, 1), d(2025, 5, 1)),
                        LegalStatus("C2", d(2025, 5, 1), d(2025, 6, 10)),
                        LegalStatus("E1", d(2025, 6, 10))],
        placements=[Placement("U6", d(2024, 7, 1), d(2025, 8, 1), provider="PR1", carer="FC20",
                              urn="XXXXXXX", postcode="E1 7AA", home_postcode=kids.HOME,
                              reason_changed="CARPL"),
                    Placement("U5", d(2025, 8, 1), None, provider="PR4", carer="FFA1",
                              urn="XXXXXXX", postcode="E1 7AF", home_postcode=kids.HOME)],
        reviews=[LACReview(d(2025, 12, 1), "PN0")],
        adoptions=[Adoption(d(2025, 4, 20), placement_order=d(2025, 6, 10),
                            reversed=d(2026, 1, 15), reversed_reason="RD1")],
        social_workers=[SocialWorkerPeriod("SW0007", d(2024, 7, 1), None, "FCONTA")],
    )
    return LookedAfterChild(child, record)


def back_in_care() -> LookedAfterChild:
    """Two periods of care in the 12 months, away (A) twice and missing once, still missing on
    the last day."""
    child = Child("LAC0008", upn="A201123412008", birth_date=d(2011, 2, 2), sex="F",
                  ethnicity="MWBC", disabilities=["HAND"])
    record = LookedAfter(
        periods=[PeriodOfCare(d(2025, 5, 1), "N4", d(2025, 7, 1), "E4A"),
                 PeriodOfCare(d(2025, 11, 1), "N4")],
        legal_statuses=[LegalStatus("V2", d(2025, 5, 1), d(2025, 7, 1)),
                        LegalStatus("V2", d(2025, 11, 1))],
        placements=[Placement("K2", d(2025, 5, 1), d(2025, 7, 1), provider="PR2", carer="H1",
                              urn="SC111111", postcode="E1 7AA", home_postcode=kids.HOME),
                    Placement("Z12", d(2025, 11, 1), None, carer="Z", postcode="E1 7AD",
                              home_postcode=kids.HOME)],
        missing=[MissingEpisode("A", d(2025, 6, 1), d(2025, 6, 2)),
                 MissingEpisode("A", d(2025, 12, 1), d(2025, 12, 2)),
                 MissingEpisode("M", d(2026, 3, 30))],
    )
    return LookedAfterChild(child, record)


def everyone() -> list[LookedAfterChild]:
    return [*kids.all_children(), adoption_reversed(), back_in_care()]


def lists(children: list[Any], period: tuple[d, d] = PERIOD,
          **kw: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """{sheet: {child id: {column: value}}} (one row per child in each list here)."""
    out: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in CARE_LIST_COLUMNS}
    for sheet, row in care_list_rows(children, *period, **kw):
        values = dict(zip(CARE_LIST_COLUMNS[sheet], row, strict=True))
        assert values["Child Unique ID"] not in out[sheet]
        out[sheet][values["Child Unique ID"]] = values
    return out


# -- columns and groupings ---------------------------------------------------------------------


def test_columns_are_annex_a_md() -> None:
    assert CARE_LIST_COLUMNS == EXPECTED_COLUMNS
    assert [len(c) for c in CARE_LIST_COLUMNS.values()] == [34, 17, 16]
    # the schema's required columns ("Blank allowed = no"), Sex for Gender
    assert CARE_REQUIRED["List 9"] == set(CHILD[:3]) | {
        EXPECTED_COLUMNS["List 9"][5], DISABILITY, *TEAM, "Allocated Personal Advisor",
        "Eligibility Category", "LA in Touch"}
    assert CARE_REQUIRED["List 10"] == {"Child Unique ID", "Sex", "Ethnicity", DISABILITY,
                                        "Date the Child Entered Care",
                                        "Date of Decision that Child Should be Placed for "
                                        "Adoption"}
    assert len(CARE_REQUIRED["List 8"]) == 21


def test_every_903_code_has_its_annex_a_group() -> None:
    assert set(LEGAL_STATUS) == LEGAL_STATUS_CODES - SHORT_BREAK_STATUSES
    assert set(LEGAL_STATUS.values()) == ALLOWED_LEGAL_STATUS
    assert set(PLACEMENT_TYPE) == PLACEMENT_TYPE_CODES
    assert set(PLACEMENT_TYPE.values()) <= ALLOWED_PLACEMENT
    assert set(REASON_CEASED) == REASON_CARE_CEASED_CODES
    assert set(REASON_CEASED.values()) == ALLOWED_REASON
    assert set(PROVIDER) == PLACEMENT_PROVIDER_CODES
    assert set(PROVIDER.values()) == {"a) Own LA", "b) Private", "c) Other"}
    assert set(ACCOMMODATION.values()) == ALLOWED_ACCOMMODATION
    assert set(IN_TOUCH.values()) <= {"a) In touch", "b) Not in touch", "d) Exclude"}
    assert all(label.startswith(code + ": ") for code, label in ACTIVITY.items())
    assert set(NO_LONGER_PLACED) == {"RD1", "RD2", "RD3", "RD4"}


def test_the_choices_the_schema_leaves_open() -> None:
    """K3 and Z11-Z14 have no group in the schema (January 2025); PR0 is under two."""
    assert PLACEMENT_TYPE["K3"] == "f) Residential accommodation"
    assert {PLACEMENT_TYPE[z] for z in ("Z11", "Z12", "Z13", "Z14")} == {"n) Other placements"}
    assert PROVIDER["PR0"] == "c) Other"
    assert REASON_CEASED["E17"].startswith("e) Left care to live with")


# -- list 8 ------------------------------------------------------------------------------------


def test_list_8_section20_then_care_order() -> None:
    row = lists([kids.section20_then_care_order()])["List 8"]["LAC0001"]
    assert row == {**row, **{
        "Sex": "a) Male", "Ethnicity": "a) WBRI", "Age of Child (Years)": 11,
        EXPECTED_COLUMNS["List 8"][5]: "No", DISABILITY: "Unknown",
        "Date Started to be Looked After": d(2024, 11, 1),
        "Child's Category of Need": "a) Abuse or neglect",
        EXPECTED_COLUMNS["List 8"][9]: "No",
        "Start date of current legal status": d(2026, 1, 10),
        "Child's Legal Status": "b) Full care orders",
        "Date of Latest Statutory Review": d(2026, 2, 5),
        # U6 (from before the 12 months) and U4; the hospital stay (T1) and the return to the
        # same U4 carer are not placements
        "Number of Placements in the Last 12 months": 2,
        "Date Ceased to be Looked After": None, "Reason Ceased to be Looked After": None,
        "Start Date of Most Recent Placement": d(2025, 12, 5),
        "Placement Type": "a) Foster placement", "Placement Provider": "a) Own LA",
        "Placement postcode": "E1 7AA", "URN of Placement": "XXXXXXX",
        EXPECTED_COLUMNS["List 8"][28]: 1, EXPECTED_COLUMNS["List 8"][29]: 0,
        EXPECTED_COLUMNS["List 8"][30]: "Yes", EXPECTED_COLUMNS["List 8"][31]: "Yes",
        "Allocated Team": "Unallocated", "Allocated Worker": "SW0002",
    }}
    # what the record does not hold is blank
    for column in ("Date of Last Social Work Visit", "What is the permanence plan for this child?",
                   "Date of Last IRO Visit / Contact to the Child",
                   "Date of Last Health Assessment", "Date of Last Dental Check",
                   "Placement Location", "LA of Placement"):
        assert row[column] is None, column


def test_list_8_who_is_in_it() -> None:
    got = lists(everyone())["List 8"]
    # the care leaver left in 2024 and LAC0003 on 20 August 2025, before the period; short
    # breaks (V3) are not in Annex A
    assert sorted(got) == ["LAC0001", "LAC0004", "LAC0006", "LAC0007", "LAC0008"]
    assert "LAC0003" in lists(everyone(), (d(2025, 8, 20), d(2026, 3, 31)))["List 8"]
    assert "LAC0003" not in lists(everyone(), (d(2025, 8, 21), d(2026, 3, 31)))["List 8"]
    assert "LAC0005" not in lists(everyone(), (d(2025, 4, 1), d(2026, 3, 31)))["List 8"]


def test_list_8_second_period_missing_and_absent() -> None:
    row = lists([back_in_care()])["List 8"]["LAC0008"]
    assert row["Date Started to be Looked After"] == d(2025, 11, 1)
    assert row[EXPECTED_COLUMNS["List 8"][9]] == "Yes"
    assert row["Number of Placements in the Last 12 months"] == 2  # one in each period
    assert row["Placement Type"] == "n) Other placements"  # Z12
    assert row["Placement Provider"] == "c) Other"  # Z11-Z14 have no provider in the 903
    assert row[EXPECTED_COLUMNS["List 8"][28]] == 1
    assert row[EXPECTED_COLUMNS["List 8"][29]] == 2
    # still missing on the last day; the away episodes are not missing ones: no interview yet
    assert row[EXPECTED_COLUMNS["List 8"][30]] is None
    assert row[DISABILITY] == "Yes"
    assert row["Allocated Worker"] == "Unallocated"


def test_list_8_adopted_in_the_period_and_explicit_allocation() -> None:
    case = CareCase(kids.adopted(), team="Adoption team", worker="A Worker")
    row = lists([case])["List 8"]["LAC0004"]
    assert row["Date Ceased to be Looked After"] == d(2025, 11, 20)
    assert row["Reason Ceased to be Looked After"] == "a) Adopted"
    assert row["Child's Legal Status"] == "d) Placement order granted"
    assert row["Start date of current legal status"] == d(2024, 5, 1)
    assert row["Placement Type"] == "b) Placed for adoption"
    assert (row["Allocated Team"], row["Allocated Worker"]) == ("Adoption team", "A Worker")


def test_list_8_as_it_stood_on_the_last_day() -> None:
    """Earlier periods: what happened after the last day is not shown."""
    row = lists([kids.section20_then_care_order()], (d(2025, 6, 1), d(2025, 8, 31)))[
        "List 8"]["LAC0001"]
    assert row["Child's Legal Status"] == "a) Interim care orders"
    assert row["Start date of current legal status"] == d(2025, 6, 15)
    assert row["Date of Latest Statutory Review"] == d(2025, 8, 14)
    assert row["Start Date of Most Recent Placement"] == d(2024, 11, 1)
    assert row[EXPECTED_COLUMNS["List 8"][28]] == 0


def test_placement_location_from_a_postcode_lookup() -> None:
    areas = {"E1 7AA": "Tower Hamlets", "E1 7AD": "City of London"}
    got = lists(everyone(), council="City of London", locate=areas.get)["List 8"]
    assert (got["LAC0001"]["LA of Placement"], got["LAC0001"]["Placement Location"]) == (
        "Tower Hamlets", "b) Out")
    assert (got["LAC0006"]["LA of Placement"], got["LAC0006"]["Placement Location"]) == (
        "City of London", "a) In")


# -- list 9 ------------------------------------------------------------------------------------


def test_list_9_care_leavers() -> None:
    got = lists(everyone())["List 9"]
    assert sorted(got) == ["LAC0002", "LAC0003", "LAC0006"]
    leaver = got["LAC0002"]
    assert leaver == {**leaver, **{
        "Eligibility Category": "b) Former relevant", "LA in Touch": "a) In touch",
        "Latest Date of Contact": d(2025, 9, 20), "Type of Accommodation": "k) Independent living",
        "Suitability of Accommodation": "a) Suitable",
        "Activity Status": ACTIVITY["F5"], "Allocated Personal Advisor": None,
        "Latest Pathway Plan Review Date": None, EXPECTED_COLUMNS["List 9"][5]: "No"}}
    assert got["LAC0003"]["Eligibility Category"] == "b) Former relevant"
    assert got["LAC0003"]["LA in Touch"] == "c) Not recorded"
    uasc = got["LAC0006"]
    assert uasc["Eligibility Category"] == "d) Eligible"  # 17, in care since July 2025
    assert uasc[EXPECTED_COLUMNS["List 9"][5]] == "Yes"
    with_pa = lists([CareCase(kids.care_leaver(), personal_adviser="PA One")])["List 9"]
    assert with_pa["LAC0002"]["Allocated Personal Advisor"] == "PA One"


BORN = d(2008, 6, 1)  # 14 on 1 June 2022, 16 on 1 June 2024, 18 on 1 June 2026


@pytest.mark.parametrize(("periods", "on", "expected"), [
    ([PeriodOfCare(d(2024, 1, 1))], d(2025, 1, 1), "d) Eligible"),
    ([PeriodOfCare(d(2024, 5, 1))], d(2024, 7, 1), None),  # not yet 13 weeks
    ([PeriodOfCare(d(2024, 1, 1), end=d(2024, 9, 1))], d(2025, 1, 1), "a) Relevant"),
    ([PeriodOfCare(d(2024, 1, 1), end=d(2024, 9, 1))], d(2026, 7, 1), "b) Former relevant"),
    # 13 weeks made of two periods since the 14th birthday
    ([PeriodOfCare(d(2022, 7, 1), end=d(2022, 8, 15)),
      PeriodOfCare(d(2024, 5, 20), end=d(2024, 7, 10))], d(2024, 9, 1), "a) Relevant"),
    ([PeriodOfCare(d(2024, 5, 20), end=d(2024, 7, 10))], d(2024, 9, 1), "c) Qualifying"),
    ([PeriodOfCare(d(2023, 1, 1), end=d(2024, 6, 1))], d(2025, 1, 1), None),  # left at 16
    ([PeriodOfCare(d(2024, 1, 1))], d(2024, 5, 1), None),  # under 16
    ([PeriodOfCare(d(2024, 1, 1), end=d(2024, 9, 1), reason_ceased="E11")], d(2025, 1, 1), None),
    ([PeriodOfCare(d(2024, 1, 1), end=d(2024, 9, 1))], d(2033, 6, 1), None),  # 25
    ([], d(2025, 1, 1), None),
])
def test_leaving_care_category(periods: list[PeriodOfCare], on: d, expected: str | None) -> None:
    assert leaving_care_category(BORN, periods, on) == expected


def test_list_9_from_21_only_while_in_touch() -> None:
    leaver = kids.care_leaver()  # 21 on 15 September 2027
    later = (d(2027, 10, 1), d(2028, 3, 31))
    assert lists([leaver], later)["List 9"] == {}
    leaver.record.care_leaver_contacts.append(CareLeaverContact(d(2027, 9, 20), "NREQ", "0", "0"))
    row = lists([leaver], later)["List 9"]["LAC0002"]
    assert row["LA in Touch"] == "b) Not in touch"
    assert (row["Type of Accommodation"], row["Activity Status"]) == (None, None)
    assert row["Suitability of Accommodation"] == "c) Not in touch or not recorded"


# -- list 10 -----------------------------------------------------------------------------------


def test_list_10_adoption() -> None:
    got = lists(everyone())["List 10"]
    assert sorted(got) == ["LAC0004", "LAC0007"]
    adopted = got["LAC0004"]
    assert [adopted[c] for c in EXPECTED_COLUMNS["List 10"][7:]] == [
        d(2023, 3, 1), d(2024, 2, 1), d(2024, 5, 1), d(2025, 1, 10), d(2025, 2, 1),
        d(2025, 11, 20), None, None, None]
    assert adopted["Family identifier"] is None
    reversed_ = got["LAC0007"]
    assert [reversed_[c] for c in EXPECTED_COLUMNS["List 10"][7:]] == [
        d(2024, 7, 1), d(2025, 4, 20), d(2025, 6, 10), None, None, None, d(2026, 1, 15),
        "a) Child’s needs changed", d(2025, 8, 1)]
    assert reversed_[DISABILITY] == "No"


def test_list_10_only_live_decisions() -> None:
    # adopted on 20 November 2025: not in a period starting after it
    assert lists([kids.adopted()], (d(2025, 11, 21), d(2026, 3, 31)))["List 10"] == {}
    # before the reversal: no reversal shown yet
    row = lists([adoption_reversed()], (d(2025, 7, 1), d(2025, 12, 31)))["List 10"]["LAC0007"]
    assert row["Date of Decision that Child Should No Longer be Placed for Adoption"] is None
    assert row["Reason Why Child No Longer Placed for Adoption"] is None
    # before the decision: nothing
    assert lists([adoption_reversed()], (d(2024, 10, 1), d(2025, 3, 31)))["List 10"] == {}


# -- the same as the 903 -----------------------------------------------------------------------


def _dmy(text: str) -> d | None:
    if not text:
        return None
    day, month, year = text.split("/")
    return d(int(year), int(month), int(day))


def test_lists_agree_with_the_903() -> None:
    """Lists 8 to 10 for 1 October 2025 to 31 March 2026 (its last 12 months: the 903's
    2025-26) against the 903 rows of the same children."""
    tables: dict[str, dict[str, list[dict[str, str]]]] = {}
    for table, row in ssda903_rows(everyone(), 2026):
        values = dict(zip(TABLES[table], row, strict=True))
        tables.setdefault(table, {}).setdefault(values["CHILD"], []).append(values)
    got = lists(everyone())

    for cid, row in got["List 8"].items():
        episodes = tables["Episodes"][cid]
        last = episodes[-1]
        assert row["Child's Legal Status"] == LEGAL_STATUS[last["LS"]]
        assert row["Placement Type"] == PLACEMENT_TYPE[last["PLACE"]]
        assert row["Placement postcode"] == last["PL_POST"]
        assert row["Date Ceased to be Looked After"] == _dmy(last["DEC"])
        assert row["Reason Ceased to be Looked After"] == REASON_CEASED.get(last["REC"])
        starts = [e for e in episodes if e["RNE"] == "S"]
        if starts:
            assert row["Date Started to be Looked After"] == _dmy(starts[-1]["DECOM"])
        else:
            assert row["Date Started to be Looked After"] < _dmy(episodes[0]["DECOM"])
        j = len(episodes) - 1  # back to the episode the latest legal status began with
        while j > 0 and episodes[j]["RNE"] != "S" and episodes[j - 1]["LS"] == last["LS"]:
            j -= 1
        if episodes[j]["RNE"] in ("S", "L", "B", "U"):
            assert row["Start date of current legal status"] == _dmy(episodes[j]["DECOM"])
        else:  # began before the year
            assert row["Start date of current legal status"] < _dmy(episodes[j]["DECOM"])
        assert row["Number of Placements in the Last 12 months"] == _903_placements(episodes)
        missing = tables.get("Missing", {}).get(cid, [])
        assert row[EXPECTED_COLUMNS["List 8"][28]] == sum(m["MISSING"] == "M" for m in missing)
        assert row[EXPECTED_COLUMNS["List 8"][29]] == sum(m["MISSING"] == "A" for m in missing)

    for cid, row in got["List 9"].items():
        for oc3 in tables.get("OC3", {}).get(cid, []):
            assert row["LA in Touch"] == IN_TOUCH[oc3["IN_TOUCH"]]
            assert row["Activity Status"] == ACTIVITY.get(oc3["ACTIV"])
            assert row["Type of Accommodation"] == ACCOMMODATION.get(oc3["ACCOM"][:1])
    assert "LAC0002" in tables["OC3"]

    for cid, row in got["List 10"].items():
        [placed] = tables["PlacedAdoption"][cid]
        assert row["Date of Decision that Child Should be Placed for Adoption"] == _dmy(
            placed["DATE_PLACED"])
        assert row["Date of Decision that Child Should No Longer be Placed for Adoption"] == \
            _dmy(placed["DATE_PLACED_CEASED"])
        assert row["Reason Why Child No Longer Placed for Adoption"] == NO_LONGER_PLACED.get(
            placed["REASON_PLACED_CEASED"])
        episodes = tables["Episodes"][cid]
        adopted = [e for e in episodes if e["REC"] in ("E11", "E12")]
        assert row["Date of Adoption Order"] == (_dmy(adopted[0]["DEC"]) if adopted else None)
        for ad1 in tables.get("AD1", {}).get(cid, []):
            assert row["Date of Decision that Child Should be Placed for Adoption"] == _dmy(
                ad1["DATE_INT"])
            assert row["Date of Matching Child and Prospective Adopters"] == _dmy(
                ad1["DATE_MATCH"])
        for column, codes in (("Date Placed for Adoption", ("A3", "A4", "A5", "A6")),
                              ("Date the child was placed for fostering in FFA or concurrent "
                               "planning placement", ("U2", "U5"))):
            first = next((e for e in episodes if e["PLACE"] in codes), None)
            if first is not None and first["RNE"] != "L":
                assert row[column] == _dmy(first["DECOM"]), (cid, column)
        e1 = next((e for e in episodes if e["LS"] == "E1"), None)
        if e1 is not None and e1["RNE"] in ("L", "B", "U"):
            assert row["Date of Placement Order"] == _dmy(e1["DECOM"])
    # each case checked above had something to compare
    assert tables["AD1"]["LAC0004"] and tables["PlacedAdoption"]["LAC0007"]


def _903_placements(episodes: list[dict[str, str]]) -> int:
    """Placements counted from the 903 rows of the year: every change of placement (and the one
    the year starts in), less temporary placements and returns from them."""
    count = 0
    for i, e in enumerate(episodes):
        if e["PLACE"].startswith("T"):
            continue
        if i == 0 or e["RNE"] in ("S", "P", "B", "T", "U"):
            back = (i >= 2 and episodes[i - 1]["PLACE"].startswith("T")
                    and episodes[i - 2]["PLACE"] == e["PLACE"]
                    and episodes[i - 2]["PL_POST"] == e["PL_POST"])
            count += not back
    return count


# -- the workbook ------------------------------------------------------------------------------


def test_workbook_with_lists_8_to_10(tmp_path: Path) -> None:
    path = tmp_path / "annex_a.xlsx"
    summary = write_annex_a([], path, *PERIOD, care=CareLists(everyone()))
    workbook = load_workbook(path)
    assert workbook.sheetnames == [f"List {n}" for n in range(3, 11)]
    for name, columns in EXPECTED_COLUMNS.items():
        assert [c.value for c in workbook[name][1]] == columns, name
    got = workbook_rows(path)
    assert summary.rows == {name: len(sheet) for name, sheet in got.items()}
    assert summary.rows["List 8"] == 5 and summary.rows["List 10"] == 2
    # dates are dates; what the record cannot fill is listed, never guessed
    assert got["List 10"][0]["Date of Adoption Order"] == d(2025, 11, 20)
    assert {m.column for m in summary.missing} == {
        "Placement Location", "LA of Placement", "Allocated Personal Advisor"}
    assert sum(m.column == "Allocated Personal Advisor" for m in summary.missing) == 3


def test_workbook_without_looked_after_children_is_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "annex_a.xlsx"
    summary = write_annex_a([], path, *PERIOD)
    assert load_workbook(path).sheetnames == [f"List {n}" for n in range(3, 8)]
    assert "List 8" not in summary.rows


def test_a_bad_record_names_the_child() -> None:
    child = kids.uasc()
    broken = replace(child, record=replace(child.record, placements=[]))
    with pytest.raises(RecordError, match="LAC0006"):
        care_rows(broken, *PERIOD)


def test_a_missing_category_of_need_is_listed(tmp_path: Path) -> None:
    child = kids.uasc()
    child.record.periods[0].need = None
    summary = write_annex_a([], tmp_path / "a.xlsx", *PERIOD, care=CareLists(
        [child], council="City of London", locate=lambda _: "City of London"))
    assert [str(m) for m in summary.missing] == [
        "List 8, LAC0006: Child's Category of Need",
        "List 9, LAC0006: Allocated Personal Advisor"]
