"""A few fictitious looked-after children, built in Python, covering the 903's main paths for
2025-26: section 20 then a care order with placement moves, a hospital stay and a missing
episode; a care leaver; an adoption; short breaks (V3); an unaccompanied asylum seeker; a young
person who leaves care at 18 in the year."""

from __future__ import annotations

from datetime import date as d

from carepath.engine.record.looked_after import (
    Adoption,
    CareLeaverContact,
    HealthOutcomes,
    LACReview,
    LegalStatus,
    LookedAfter,
    MissingEpisode,
    PeriodOfCare,
    Placement,
    PreviousPermanence,
    SocialWorkerPeriod,
)
from carepath.engine.record.model import Child
from carepath.returns.ssda903 import LookedAfterChild

HOME = "EC2V 7AA"


def _placement(type_: str, start: d, end: d | None, carer: str, postcode: str, *,
               provider: str | None = "PR1", urn: str | None = "XXXXXXX",
               reason: str | None = None, home: str = HOME) -> Placement:
    return Placement(type_, start, end, provider=provider, carer=carer, urn=urn,
                     postcode=postcode, home_postcode=home, reason_changed=reason)


def section20_then_care_order() -> LookedAfterChild:
    """Section 20 (V2), interim then full care order; a move of foster carer, a stay in
    hospital (T1) and back, a night missing; looked after 12 months at 31 March (OC2)."""
    child = Child("LAC0001", upn="A201123412001", birth_date=d(2014, 5, 5), sex="M",
                  ethnicity="WBRI")
    record = LookedAfter(
        periods=[PeriodOfCare(d(2024, 11, 1), "N1")],
        legal_statuses=[LegalStatus("V2", d(2024, 11, 1), d(2025, 6, 15)),
                        LegalStatus("C1", d(2025, 6, 15), d(2026, 1, 10)),
                        LegalStatus("C2", d(2026, 1, 10))],
        placements=[
            _placement("U6", d(2024, 11, 1), d(2025, 9, 1), "FC1", "EC2V 7AF", reason="CREQB"),
            _placement("U4", d(2025, 9, 1), d(2025, 12, 1), "FC2", "E1 7AA"),
            _placement("T1", d(2025, 12, 1), d(2025, 12, 5), "HOSP", "E1 7AD", provider=None,
                       urn=None),
            _placement("U4", d(2025, 12, 5), None, "FC2", "E1 7AA"),
        ],
        reviews=[LACReview(d(2024, 11, 28), "PN1"), LACReview(d(2025, 2, 20), "PN1"),
                 LACReview(d(2025, 8, 14), "PN5"), LACReview(d(2026, 2, 5), "PN1")],
        missing=[MissingEpisode("M", d(2025, 10, 3), d(2025, 10, 4), True, True)],
        outcomes=[HealthOutcomes(2026, sdq_score=14, convicted=False, immunisations=True,
                                 teeth_check=True, health_assessment=True,
                                 substance_misuse=False)],
        social_workers=[SocialWorkerPeriod("SW0001", d(2024, 11, 1), d(2025, 7, 1), "FCONTA"),
                        SocialWorkerPeriod("SW0002", d(2025, 7, 1), None, "LEFTRL")],
    )
    return LookedAfterChild(child, record)


def care_leaver() -> LookedAfterChild:
    """Left care at 18 in the previous year; in touch around the 19th birthday (OC3 only)."""
    child = Child("LAC0002", upn="A201123412002", birth_date=d(2006, 9, 15), sex="M",
                  ethnicity="BAFR")
    record = LookedAfter(
        periods=[PeriodOfCare(d(2021, 3, 1), "N5", d(2024, 9, 15), "E5")],
        legal_statuses=[LegalStatus("C2", d(2021, 3, 1), d(2024, 9, 15))],
        placements=[_placement("U4", d(2021, 3, 1), d(2024, 9, 15), "FC7", "E1 7AE")],
        care_leaver_contacts=[CareLeaverContact(d(2024, 9, 1), "YES", "F2", "D1"),
                              CareLeaverContact(d(2025, 9, 20), "YES", "F5", "U1")],
        social_workers=[SocialWorkerPeriod("SW0003", d(2021, 3, 1), d(2024, 9, 15), "FCONTA")],
    )
    return LookedAfterChild(child, record)


def leaves_care_at_18() -> LookedAfterChild:
    """Eighteen in the year and leaves care that day (E17 staying put): no OC3 yet."""
    child = Child("LAC0003", upn="A201123412003", birth_date=d(2007, 8, 20), sex="M",
                  ethnicity="WBRI")
    record = LookedAfter(
        periods=[PeriodOfCare(d(2022, 1, 10), "N4", d(2025, 8, 20), "E17")],
        legal_statuses=[LegalStatus("C2", d(2022, 1, 10))],
        placements=[_placement("U6", d(2022, 1, 10), None, "FC9", "E1 7AF")],
        reviews=[LACReview(d(2025, 6, 1), "PN1")],
        social_workers=[SocialWorkerPeriod("SW0004", d(2022, 1, 10), None, "FCONTA")],
    )
    return LookedAfterChild(child, record)


def adopted() -> LookedAfterChild:
    """Section 20, care order, placement order; matched, placed for adoption (A6) and adopted
    in the year (E12): AD1 and PlacedAdoption."""
    child = Child("LAC0004", upn="A201123412004", birth_date=d(2022, 1, 10), sex="F",
                  ethnicity="WBRI")
    record = LookedAfter(
        periods=[PeriodOfCare(d(2023, 3, 1), "N1", d(2025, 11, 20), "E12")],
        legal_statuses=[LegalStatus("V2", d(2023, 3, 1), d(2023, 9, 1)),
                        LegalStatus("C2", d(2023, 9, 1), d(2024, 5, 1)),
                        LegalStatus("E1", d(2024, 5, 1))],
        placements=[
            _placement("U6", d(2023, 3, 1), d(2025, 2, 1), "FC3", "EC2V 7AF", reason="CARPL"),
            _placement("A6", d(2025, 2, 1), None, "ADOPTERS1", "E1 7AA"),
        ],
        reviews=[LACReview(d(2025, 7, 30), "PN0")],
        adoptions=[Adoption(d(2024, 2, 1), placement_order=d(2024, 5, 1), matched=d(2025, 1, 10),
                            adopters=2, adopters_sex="MF", adopters_legal_status="L11",
                            by_foster_carer=False)],
        social_workers=[SocialWorkerPeriod("SW0005", d(2023, 3, 1), None, "FCONTA")],
    )
    return LookedAfterChild(child, record)


def short_breaks() -> LookedAfterChild:
    """A disabled child on an agreed series of short breaks (V3): each break a period."""
    child = Child("LAC0005", upn="A201123412005", birth_date=d(2015, 3, 3), sex="F",
                  ethnicity="WBRI", disabilities=["AUT"])
    breaks = [(d(2025, 5, 2), d(2025, 5, 5)), (d(2025, 8, 8), d(2025, 8, 11)),
              (d(2026, 2, 13), d(2026, 2, 16))]
    record = LookedAfter(
        periods=[PeriodOfCare(s, "N2", e, "E4A") for s, e in breaks],
        legal_statuses=[LegalStatus("V3", s, e) for s, e in breaks],
        placements=[Placement("K2", s, e, provider="PR1", carer="HOME1", urn="SC123456")
                    for s, e in breaks],
        previous_permanence=PreviousPermanence("Z1"),
    )
    return LookedAfterChild(child, record)


def uasc() -> LookedAfterChild:
    """An unaccompanied asylum-seeking child, 16, who arrived in the year."""
    child = Child("LAC0006", upn_unknown="UN2", birth_date=d(2009, 1, 15), sex="M",
                  ethnicity="OOTH")
    record = LookedAfter(
        periods=[PeriodOfCare(d(2025, 7, 1), "N8")],
        legal_statuses=[LegalStatus("V2", d(2025, 7, 1))],
        placements=[_placement("U6", d(2025, 7, 1), None, "FC11", "E1 7AD", home="E1 7AE")],
        reviews=[LACReview(d(2025, 7, 25), "PN1"), LACReview(d(2025, 10, 20), "PN1")],
        uasc=True,
        previous_permanence=PreviousPermanence("Z1"),
        social_workers=[SocialWorkerPeriod("SW0006", d(2025, 7, 1), None, "FCONTA")],
    )
    return LookedAfterChild(child, record)


def all_children() -> list[LookedAfterChild]:
    return [section20_then_care_order(), care_leaver(), leaves_care_at_18(), adopted(),
            short_breaks(), uasc()]
