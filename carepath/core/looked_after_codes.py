"""Statutory code lists of the SSDA903 return 2025-26 (children looked after, care leavers,
adoption), with their meanings.

The lists are those the DfE rules enforce for 2025-26 (``csc-validator-be-903`` 0.1.17, ruleset
``lac2025_26``); the meanings follow the DfE guidance as reproduced in Data to Insight's
Standard Safeguarding Dataset. ``carepath.core.codes`` makes each one a statutory
:class:`~carepath.core.codes.Codelist` (ids below); the frozensets are for quick checks in the
pure layers. Sex and ethnicity are the CIN census lists (``sex``, ``ethnicity``): the 903 uses
the same codes.

Z11 to Z14 split the old Z1 "other placements" in 2025-26; their DfE meanings were not
available when this was written, so their labels say so (get the DfE 2025-26 guide).
"""

from __future__ import annotations

CodeTable = tuple[str, str, tuple[tuple[str, str], ...]]

LAC_CODE_TABLES: tuple[CodeTable, ...] = (
    ("lac_reason_new_episode", "Reason for new episode (RNE)", (
        ("S", "Started to be looked after"),
        ("L", "Change of legal status only"),
        ("P", "Change of placement and carer(s) only"),
        ("T", "Change of placement, same carer(s), legal status unchanged"),
        ("B", "Change of legal status and placement and carer(s) on the same day"),
        ("U", "Change of legal status and placement (same carer) on the same day"),
    )),
    ("lac_legal_status", "Legal status (LS)", (
        ("C1", "Interim care order (section 38)"),
        ("C2", "Full care order (section 31)"),
        ("D1", "Freeing order granted (Adoption Act 1976)"),
        ("E1", "Placement order granted (Adoption and Children Act 2002 section 21)"),
        ("V2", "Single period of accommodation under section 20"),
        ("V3", "Agreed series of short-term breaks, individual episodes recorded"),
        ("V4", "Agreed series of short-term breaks, agreements recorded"),
        ("L1", "Under police protection and in local authority accommodation (section 46)"),
        ("L2", "Emergency protection order (section 44)"),
        ("L3", "Child assessment order (section 43) and in local authority accommodation"),
        ("J1", "Remanded to local authority accommodation or youth detention accommodation"),
        ("J2", "Placed in local authority accommodation under PACE 1984"),
        ("J3", "Sentenced to a youth rehabilitation order with residence or intensive "
               "fostering requirement"),
    )),
    ("lac_category_of_need", "Category of need at the start of the period of care (CIN)", (
        ("N1", "Abuse or neglect"),
        ("N2", "Child's disability"),
        ("N3", "Parental illness or disability"),
        ("N4", "Family in acute stress"),
        ("N5", "Family dysfunction"),
        ("N6", "Socially unacceptable behaviour"),
        ("N7", "Low income"),
        ("N8", "Absent parenting"),
    )),
    ("lac_placement_type", "Placement type (PLACE), 2025-26", (
        ("A3", "Placed for adoption with consent, with current foster carer(s)"),
        ("A4", "Placed for adoption with consent, not with current foster carer(s)"),
        ("A5", "Placed for adoption with placement order, with current foster carer(s)"),
        ("A6", "Placed for adoption with placement order, not with current foster carer(s)"),
        ("K1", "Secure children's home"),
        ("K2", "Children's home subject to Children's Homes Regulations"),
        ("K3", "Supported accommodation not subject to children's homes regulations"),
        ("P1", "Placed with own parent(s) or other person(s) with parental responsibility"),
        ("P3", "Residential employment"),
        ("R1", "Residential care home"),
        ("R2", "NHS, health trust or other establishment providing medical or nursing care"),
        ("R3", "Family centre or mother and baby unit"),
        ("R5", "Young offender institution"),
        ("S1", "Residential school (not dual-registered as a children's home)"),
        ("T0", "Temporary move of any type"),
        ("T1", "Temporary period in hospital"),
        ("T2", "Temporary absence on the child's holiday"),
        ("T3", "Temporary accommodation while the foster carer is on holiday"),
        ("T4", "Temporary accommodation of seven days or less, any other reason"),
        ("U1", "Foster placement with relative or friend: long term"),
        ("U2", "Foster placement with relative or friend who is also an approved adopter "
               "(fostering for adoption or concurrent planning)"),
        ("U3", "Foster placement with relative or friend: other"),
        ("U4", "Foster placement with other foster carer: long term"),
        ("U5", "Foster placement with other foster carer who is also an approved adopter "
               "(fostering for adoption or concurrent planning)"),
        ("U6", "Foster placement with other foster carer: other"),
        ("Z11", "Other placement, code Z11 (2025-26; see the DfE guide for its meaning)"),
        ("Z12", "Other placement, code Z12 (2025-26; see the DfE guide for its meaning)"),
        ("Z13", "Other placement, code Z13 (2025-26; see the DfE guide for its meaning)"),
        ("Z14", "Other placement, code Z14 (2025-26; see the DfE guide for its meaning)"),
    )),
    ("lac_placement_provider", "Placement provider (PLACE_PROVIDER)", (
        ("PR0", "Parent(s) or other person(s) with parental responsibility"),
        ("PR1", "Own local authority provision (incl. a regional adoption agency it hosts)"),
        ("PR2", "Other local authority provision (incl. a regional adoption agency another "
                "authority hosts)"),
        ("PR3", "Other public provision (for example the NHS)"),
        ("PR4", "Private provision"),
        ("PR5", "Voluntary or third sector provision"),
    )),
    ("lac_reason_episode_ceased", "Reason episode ceased (REC)", (
        ("X1", "Episode ceases and a new one begins the same day (same period of care)"),
        ("E11", "Adopted: application unopposed"),
        ("E12", "Adopted: consent dispensed with by the court"),
        ("E2", "Died"),
        ("E3", "Care taken over by another local authority in the UK"),
        ("E4A", "Returned home to parents, relatives or others with parental responsibility "
                "as part of the care plan"),
        ("E4B", "Returned home to parents, relatives or others with parental responsibility, "
                "not as part of the care plan"),
        ("E13", "Left care to live with parents, relatives or others without parental "
                "responsibility"),
        ("E41", "Residence order or child arrangements order (who the child lives with)"),
        ("E45", "Special guardianship order to former foster carer(s) who are relatives or "
                "friends"),
        ("E46", "Special guardianship order to former foster carer(s), not relatives or "
                "friends"),
        ("E47", "Special guardianship order to other carer(s) who are relatives or friends"),
        ("E48", "Special guardianship order to other carer(s), not relatives or friends"),
        ("E5", "Moved into independent living with formalised support"),
        ("E6", "Moved into independent living without formalised support"),
        ("E7", "Transferred to residential care funded by adult social care"),
        ("E9", "Sentenced to custody"),
        ("E14", "Accommodation on remand ended"),
        ("E15", "Age assessment found the child to be 18 or over"),
        ("E16", "Child moved abroad"),
        ("E17", "Aged 18 or over and remained with current carers"),
        ("E8", "Period of care ceased for any other reason"),
    )),
    ("lac_reason_place_change", "Reason for placement change (REASON_PLACE_CHANGE)", (
        ("CARPL", "Change to or implementation of the care plan"),
        ("CLOSE", "Carer resigns or the setting closes"),
        ("ALLEG", "Removal because of a section 47 allegation"),
        ("STAND", "Standards of care concern"),
        ("APPRR", "Approval or registration removed"),
        ("CREQB", "Carer requests the placement end: child's behaviour"),
        ("CREQO", "Carer requests the placement end: other reasons"),
        ("CHILD", "Child requests the placement end"),
        ("LAREQ", "Responsible or area authority requests the placement end"),
        ("PLACE", "Change of placement status only, same carer"),
        ("CUSTOD", "Custody"),
        ("OTHER", "Other"),
    )),
    ("lac_review_participation", "Participation in the review (REVIEW_CODE)", (
        ("PN0", "Child under 4 at the time of the review"),
        ("PN1", "Child attends and speaks for self"),
        ("PN2", "Child attends, an advocate or the IRO speaks for the child"),
        ("PN3", "Child attends and conveys views symbolically"),
        ("PN4", "Child attends but does not contribute"),
        ("PN5", "Child does not attend but briefs an advocate or the IRO"),
        ("PN6", "Child does not attend but conveys views by a facilitative medium"),
        ("PN7", "Child does not attend and views are not conveyed"),
    )),
    ("lac_missing_type", "Missing or away from placement (MISSING)", (
        ("M", "Missing: whereabouts unknown"),
        ("A", "Away from placement without authorisation: whereabouts known"),
    )),
    ("lac_in_touch", "Local authority in touch with the care leaver (IN_TOUCH)", (
        ("YES", "In touch"),
        ("NO", "Not in touch"),
        ("DIED", "Died"),
        ("REFU", "Young person refuses contact"),
        ("NREQ", "Young person no longer requires services"),
        ("RHOM", "Returned to parents for six months or more"),
    )),
    ("lac_care_leaver_activity", "Care leaver's main activity (ACTIV)", (
        ("F1", "Full-time in higher education"),
        ("P1", "Part-time in higher education"),
        ("F2", "Full-time in education other than higher education"),
        ("P2", "Part-time in education other than higher education"),
        ("F4", "Full-time apprenticeship"),
        ("P4", "Part-time apprenticeship"),
        ("F5", "Full-time training or employment (not an apprenticeship)"),
        ("P5", "Part-time training or employment (not an apprenticeship)"),
        ("G4", "Not in education, employment or training: illness or disability"),
        ("G5", "Not in education, employment or training: other reasons"),
        ("G6", "Not in education, employment or training: pregnancy or parenting"),
        ("0", "Not known or not in touch"),
    )),
    ("lac_care_leaver_accommodation", "Care leaver's accommodation and its suitability (ACCOM)", (
        ("B1", "With parents or relatives: suitable"),
        ("B2", "With parents or relatives: not suitable"),
        ("C1", "Community home or other residential care (incl. NHS): suitable"),
        ("C2", "Community home or other residential care (incl. NHS): not suitable"),
        ("D1", "Semi-independent transitional accommodation: suitable"),
        ("D2", "Semi-independent transitional accommodation: not suitable"),
        ("E1", "Supported lodgings: suitable"),
        ("E2", "Supported lodgings: not suitable"),
        ("G1", "Gone abroad: suitable"),
        ("G2", "Gone abroad: not suitable"),
        ("H1", "Deported: suitable"),
        ("H2", "Deported: not suitable"),
        ("K1", "Ordinary lodgings: suitable"),
        ("K2", "Ordinary lodgings: not suitable"),
        ("R1", "Residence not known: suitable"),
        ("R2", "Residence not known: not suitable"),
        ("S2", "No fixed abode or homeless: not suitable"),
        ("T1", "Foyer: suitable"),
        ("T2", "Foyer: not suitable"),
        ("U1", "Independent living: suitable"),
        ("U2", "Independent living: not suitable"),
        ("V1", "Emergency accommodation: suitable"),
        ("V2", "Emergency accommodation: not suitable"),
        ("W1", "Bed and breakfast: suitable"),
        ("W2", "Bed and breakfast: not suitable"),
        ("X2", "In custody: not suitable"),
        ("Y1", "Other accommodation: suitable"),
        ("Y2", "Other accommodation: not suitable"),
        ("Z1", "With former foster carer(s): suitable"),
        ("Z2", "With former foster carer(s): not suitable"),
        ("0", "Not known or not in touch"),
    )),
    ("lac_sdq_reason", "Reason no SDQ score (SDQ_REASON)", (
        ("SDQ1", "Child under 4 or over 16 at the date of the assessment"),
        ("SDQ2", "Carer refused to complete the questionnaire"),
        ("SDQ3", "Not possible because of the severity of the child's disability"),
        ("SDQ4", "Other reason"),
        ("SDQ5", "Young person refuses to allow the questionnaire to be completed"),
    )),
    ("lac_sw_change_reason", "Reason for change of social worker (SW_REASON)", (
        ("MANAGE", "Managing caseloads"),
        ("FCONTA", "First contact or re-referral"),
        ("LEFTRL", "Previous social worker left the role"),
        ("ORGRST", "Organisational restructure"),
        ("TSPROC", "Transfer by standard process"),
        ("ABSENC", "Absence cover, or return from absence"),
        ("CHCHAN", "Child requested a change"),
        ("PCCHAN", "Parent or carer requested a change"),
        ("SWDIED", "Previous social worker died"),
        ("OTHERS", "Other reason"),
    )),
    ("lac_previous_permanence", "Previous permanence option (PREV_PERM)", (
        ("P1", "Adoption"),
        ("P2", "Special guardianship order"),
        ("P3", "Residence order or child arrangements order"),
        ("P4", "Unknown"),
        ("Z1", "None"),
    )),
    ("lac_reason_placed_ceased", "Reason the child should no longer be placed for adoption "
                                 "(REASON_PLACED_CEASED)", (
        ("RD1", "The child's needs changed"),
        ("RD2", "The court did not make a placement order"),
        ("RD3", "Prospective adopters could not be found"),
        ("RD4", "Any other reason"),
    )),
    ("lac_adopter_sex", "Sex of adopter(s) (SEX_ADOPTR)", (
        ("M1", "Single male adopter"),
        ("F1", "Single female adopter"),
        ("MM", "Male couple"),
        ("FF", "Female couple"),
        ("MF", "Male and female couple"),
    )),
    ("lac_adopter_legal_status", "Legal status of adopter(s) (LS_ADOPTR)", (
        ("L0", "Single adopter"),
        ("L11", "Different-sex married couple"),
        ("L12", "Same-sex married couple"),
        ("L2", "Civil partners"),
        ("L3", "Different-sex couple, not married"),
        ("L4", "Same-sex couple, not married or in a civil partnership"),
    )),
)


def _care_ceased() -> CodeTable:
    """REC without X1: the reasons a period of care ends (what a worker records; X1 is
    derived, never typed)."""
    for id_, _, codes in LAC_CODE_TABLES:
        if id_ == "lac_reason_episode_ceased":
            return ("lac_reason_care_ceased", "Reason ceased to be looked after (REC)",
                    tuple((code, meaning) for code, meaning in codes if code != "X1"))
    raise KeyError("lac_reason_episode_ceased")  # pragma: no cover


LAC_CODE_TABLES = (*LAC_CODE_TABLES, _care_ceased())


def _codes(list_id: str) -> frozenset[str]:
    for id_, _, codes in LAC_CODE_TABLES:
        if id_ == list_id:
            return frozenset(code for code, _ in codes)
    raise KeyError(list_id)


RNE_CODES = _codes("lac_reason_new_episode")
LEGAL_STATUS_CODES = _codes("lac_legal_status")
CATEGORY_OF_NEED_CODES = _codes("lac_category_of_need")
PLACEMENT_TYPE_CODES = _codes("lac_placement_type")
PLACEMENT_PROVIDER_CODES = _codes("lac_placement_provider")
REASON_EPISODE_CEASED_CODES = _codes("lac_reason_episode_ceased")
# what ends a period of care: every REC except X1 (which only joins two episodes of one period)
REASON_CARE_CEASED_CODES = REASON_EPISODE_CEASED_CODES - {"X1"}
REASON_PLACE_CHANGE_CODES = _codes("lac_reason_place_change")
REVIEW_PARTICIPATION_CODES = _codes("lac_review_participation")
MISSING_TYPE_CODES = _codes("lac_missing_type")
IN_TOUCH_CODES = _codes("lac_in_touch")
ACTIVITY_CODES = _codes("lac_care_leaver_activity")
ACCOMMODATION_CODES = _codes("lac_care_leaver_accommodation")
SDQ_REASON_CODES = _codes("lac_sdq_reason")
SW_REASON_CODES = _codes("lac_sw_change_reason")
PREVIOUS_PERMANENCE_CODES = _codes("lac_previous_permanence")
REASON_PLACED_CEASED_CODES = _codes("lac_reason_placed_ceased")
ADOPTER_SEX_CODES = _codes("lac_adopter_sex")
ADOPTER_LEGAL_STATUS_CODES = _codes("lac_adopter_legal_status")

# Placement groups the 903 rules treat alike.
TEMPORARY_PLACEMENTS = frozenset({"T0", "T1", "T2", "T3", "T4"})
ADOPTION_PLACEMENTS = frozenset({"A3", "A4", "A5", "A6"})
SHORT_BREAK_STATUSES = frozenset({"V3", "V4"})
# Placements that carry no provider (rules 213/526) and no Ofsted URN (rule 222)
NO_PROVIDER_PLACEMENTS = TEMPORARY_PLACEMENTS | {"Z11", "Z12", "Z13", "Z14"}
NO_URN_PLACEMENTS = NO_PROVIDER_PLACEMENTS | {"P1", "P3", "R1", "R2", "R5"}
ADOPTED_REASONS = frozenset({"E11", "E12"})
