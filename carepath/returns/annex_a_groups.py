"""The Annex A schema's lettered categories for the SSDA903 codes (lists 8 to 10), as
``looked_after.md`` §5 and the liia-tools schema's category maps group them. Where the schema
(January 2025) has no group, carepath chooses, marked "chosen" below and explained in
:mod:`carepath.returns.annex_a_care`."""

from __future__ import annotations

from carepath.core.looked_after_codes import (
    ADOPTED_REASONS,
    ADOPTION_PLACEMENTS,
    TEMPORARY_PLACEMENTS,
)

LEGAL_STATUS = {"C1": "a) Interim care orders", "C2": "b) Full care orders",
                "D1": "c) Freed for  Adoption", "E1": "d) Placement order granted",
                "V2": "e) Accommodated under S20",
                **dict.fromkeys(("L1", "L2", "L3"),
                                "f) Detained on child protection grounds in LA accommodation"),
                **dict.fromkeys(("J1", "J2", "J3"), "g) Youth justice legal Statuses")}
PLACEMENT_TYPE = {
    **dict.fromkeys(("U1", "U2", "U3", "U4", "U5", "U6"), "a) Foster placement"),
    **dict.fromkeys(sorted(ADOPTION_PLACEMENTS), "b) Placed for adoption"),
    "P1": "c) Placed with parents", "P3": "e) Residential employment",
    "K3": "f) Residential accommodation",  # chosen: no group in the schema (H5's successor)
    "K1": "g) Secure Children’s Homes", "K2": "h) Children’s Homes",
    "R1": "i) Residential Care Home", "R2": "j) NHS/Health Trust",
    "R3": "k) Family Centre or Mother and Baby Unit", "R5": "l) Young Offender Institution",
    "S1": "m) Residential school",
    **dict.fromkeys(("Z11", "Z12", "Z13", "Z14"), "n) Other placements"),  # chosen: Z1's split
    **dict.fromkeys(sorted(TEMPORARY_PLACEMENTS), "o) Temporary placement"),
}
OWN_LA, PRIVATE, OTHER_PROVIDER = "a) Own LA", "b) Private", "c) Other"
PROVIDER = {"PR1": OWN_LA, "PR4": PRIVATE, "PR0": OTHER_PROVIDER, "PR2": OTHER_PROVIDER,
            "PR3": OTHER_PROVIDER, "PR5": OTHER_PROVIDER}
REASON_CEASED = {
    **dict.fromkeys(sorted(ADOPTED_REASONS), "a) Adopted"), "E2": "b) Died",
    "E3": "c) Care taken by another LA",
    **dict.fromkeys(("E4A", "E4B"), "d) Returned home to live with parents or relatives"),
    **dict.fromkeys(("E13", "E17"), "e) Left care to live with parents, relatives or other "
                                    "person with no parental responsibility"),
    "E41": "f) Residence order granted",
    **dict.fromkeys(("E45", "E46", "E47", "E48"), "g) Special Guardianship Orders"),
    **dict.fromkeys(("E5", "E6"), "h) Moved into independent living"),
    "E7": "i) Transferred to residential care funded by adult social services",
    "E9": "j) Sentenced to custody", "E14": "k) Accommodation on remand ended",
    "E15": "l) Age assessment determined child was 18 or over", "E16": "m) Child moved abroad",
    "E8": "n) Care ceased for any other reason",
}
IN_TOUCH = {"YES": "a) In touch", "NO": "b) Not in touch", "REFU": "b) Not in touch",
            "NREQ": "b) Not in touch", "DIED": "d) Exclude", "RHOM": "d) Exclude"}
NOT_RECORDED = "c) Not recorded"
ACCOMMODATION = {
    "B": "a) With parents or relatives", "C": "b) Community home",
    "D": "c) Semi-independent transitional accommodation", "E": "d) Supported lodgings",
    "G": "e) Gone abroad", "H": "f) Deported", "K": "g) Ordinary lodgings",
    "R": "h) Residence not known", "S": "i) No fixed abode / homeless", "T": "j) Foyers",
    "U": "k) Independent living", "V": "l) Emergency accommodation",
    "W": "m) Bed and breakfast", "X": "n) In custody", "Y": "p) Other accommodation",
    "Z": "o) With Former Foster Carer",
}
SUITABILITY = {"1": "a) Suitable", "2": "b) Not suitable"}
SUITABILITY_UNKNOWN, SUITABILITY_EXCLUDE = "c) Not in touch or not recorded", "d) Exclude"
ACTIVITY = {
    "F1": "F1: Full time in higher education", "P1": "P1: Part time in higher education",
    "F2": "F2: Full time in education other than higher",
    "P2": "P2: Part time in education other than higher",
    "F4": "F4: Young person engaged full time in an apprenticeship",
    "P4": "P4: Young person engaged part time in an apprenticeship",
    "F5": "F5: Young person engaged full time in training or employment (not apprenticeship)",
    "P5": "P5: Young person engaged part time in training or employment (not apprenticeship)",
    "G4": "G4: Not in education, employment or training - illness or disability",
    "G5": "G5: Not in education, employment or training - other",
    "G6": "G6: Not in education, employment or training - pregnancy or parenting",
}
ELIGIBLE, RELEVANT, FORMER_RELEVANT, QUALIFYING = (
    "d) Eligible", "a) Relevant", "b) Former relevant", "c) Qualifying")
NO_LONGER_PLACED = {"RD1": "a) Child’s needs changed", "RD2": "b) Court did not make a PO",
                    "RD3": "c) Prospective adopters cannot be found",
                    "RD4": "d) Any other reason"}
