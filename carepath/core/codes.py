"""Statutory code lists (CIN census 2025-26, and the SSDA903 2025-26 lists of
:mod:`carepath.core.looked_after_codes`) and the code-list type packs use for local lists."""

from __future__ import annotations

from dataclasses import dataclass

from carepath.core.looked_after_codes import LAC_CODE_TABLES


@dataclass(frozen=True)
class Code:
    code: str
    label: str


@dataclass(frozen=True)
class Codelist:
    id: str
    title: str
    codes: tuple[Code, ...]
    statutory: bool = False

    def __contains__(self, value: object) -> bool:
        return any(c.code == value for c in self.codes)

    def label(self, value: str) -> str:
        for c in self.codes:
            if c.code == value:
                return c.label
        return value


# The CIN census 2025-26 code sets: sex, upn_unknown, ethnicity, disability, referral_source,
# primary_need, closure_reason, abuse_category, assessment_factors. Assessment factors 18A and 19A
# were retired (18B/18C and 19B/19C replace them) and are not offered. Then the SSDA903 2025-26
# lists (ids starting ``lac_``), from carepath.core.looked_after_codes.
STATUTORY_CODELISTS: dict[str, Codelist]


def _codelist(id_: str, title: str, *codes: tuple[str, str]) -> Codelist:
    return Codelist(id_, title, tuple(Code(c, label) for c, label in codes), statutory=True)


STATUTORY_CODELISTS = {
    cl.id: cl
    for cl in (
        _codelist(
            "sex",
            "Sex",
            ("M", "Male"),
            ("F", "Female"),
            ("U", "Unknown"),
        ),
        _codelist(
            "upn_unknown",
            "Reason the unique pupil number is unknown",
            ("UN1", "Child is not of school age"),
            ("UN2", "UPN unknown: reason UN2"),
            ("UN3", "UPN unknown: reason UN3"),
            ("UN4", "UPN unknown: reason UN4"),
            ("UN5", "UPN unknown: reason UN5"),
            ("UN6", "UPN unknown: reason UN6"),
            ("UN7", "Referral with no further action"),
        ),
        _codelist(
            "ethnicity",
            "Ethnicity",
            ("WBRI", "White British"),
            ("WIRI", "White Irish"),
            ("WIRT", "Traveller of Irish heritage"),
            ("WOTH", "Any other White background"),
            ("WROM", "Gypsy/Roma"),
            ("MWBC", "White and Black Caribbean"),
            ("MWBA", "White and Black African"),
            ("MWAS", "White and Asian"),
            ("MOTH", "Any other mixed background"),
            ("AIND", "Indian"),
            ("APKN", "Pakistani"),
            ("ABAN", "Bangladeshi"),
            ("AOTH", "Any other Asian background"),
            ("BCRB", "Caribbean"),
            ("BAFR", "African"),
            ("BOTH", "Any other Black background"),
            ("CHNE", "Chinese"),
            ("OOTH", "Any other ethnic group"),
            ("REFU", "Refused"),
            ("NOBT", "Information not yet obtained"),
        ),
        _codelist(
            "disability",
            "Disability",
            ("NONE", "No disability"),
            ("MOB", "Mobility"),
            ("HAND", "Hand function"),
            ("PC", "Personal care"),
            ("INC", "Incontinence"),
            ("COMM", "Communication"),
            ("LD", "Learning"),
            ("HEAR", "Hearing"),
            ("VIS", "Vision"),
            ("BEH", "Behaviour"),
            ("CON", "Consciousness"),
            ("AUT", "Autism"),
            ("DDA", "Other"),
        ),
        _codelist(
            "referral_source",
            "Source of referral",
            ("1A", "Individual: family member, relative or carer"),
            ("1B", "Individual: acquaintance (including neighbours and child minders)"),
            ("1C", "Individual: self"),
            ("1D", "Individual: other (including strangers)"),
            ("2A", "Schools"),
            ("2B", "Education services"),
            ("3A", "Health: GP"),
            ("3B", "Health: health visitor"),
            ("3C", "Health: school nurse"),
            ("3D", "Health: other primary health services"),
            ("3E", "Health: A&E"),
            ("3F", "Health: other (for example a hospice)"),
            ("4", "Housing (local authority housing or housing association)"),
            ("5A", "Local authority services: social care (for example adult social care)"),
            ("5B", "Local authority services: other internal (for example youth offending, "
                   "excluding housing)"),
            ("5C", "Local authority services: external (for example another local "
                   "authority's adult social care)"),
            ("5D", "Local authority services: early help"),
            ("6", "Police"),
            ("7", "Other legal agency (courts, probation, immigration, CAFCASS, prison)"),
            ("8", "Other (children's centres, independent agency providers, voluntary "
                  "organisations)"),
            ("9", "Anonymous"),
            ("10", "Unknown"),
        ),
        _codelist(
            "primary_need",
            "Primary need",
            ("N0", "Not stated"),
            ("N1", "Abuse or neglect"),
            ("N2", "Child's disability"),
            ("N3", "Parental disability or illness"),
            ("N4", "Family in acute stress"),
            ("N5", "Family dysfunction"),
            ("N6", "Socially unacceptable behaviour"),
            ("N7", "Low income"),
            ("N8", "Absent parenting"),
            ("N9", "Cases other than children in need"),
        ),
        _codelist(
            "closure_reason",
            "Reason for closure",
            ("RC1", "Adopted"),
            ("RC2", "Died"),
            ("RC3", "Child arrangements order"),
            ("RC4", "Special guardianship order"),
            ("RC5", "Transferred to services of another local authority"),
            ("RC6", "Transferred to adult social care services"),
            ("RC7", "Services ceased for any other reason, including child no longer in need"),
            ("RC8", "Case closed after assessment, no further action"),
            ("RC9", "Case closed after assessment, referred to early help"),
        ),
        _codelist(
            "abuse_category",
            "Category of abuse",
            ("NEG", "Neglect"),
            ("PHY", "Physical abuse"),
            ("SAB", "Sexual abuse"),
            ("EMO", "Emotional abuse"),
            ("MUL", "Multiple/not recommended"),
        ),
        _codelist(
            "assessment_factors",
            "Factors identified at the end of assessment",
            ("1A", "Alcohol misuse: concerns about the child"),
            ("1B", "Alcohol misuse: concerns about the parent(s) or carer(s)"),
            ("1C", "Alcohol misuse: concerns about another person living in the household"),
            ("2A", "Drug misuse: concerns about the child"),
            ("2B", "Drug misuse: concerns about the parent(s) or carer(s)"),
            ("2C", "Drug misuse: concerns about another person living in the household"),
            ("3A", "Domestic abuse: the child is the subject"),
            ("3B", "Domestic abuse: the parent(s) or carer(s) are the subject"),
            ("3C", "Domestic abuse: another person living in the household is the subject"),
            ("4A", "Mental health: concerns about the child"),
            ("4B", "Mental health: concerns about the parent(s) or carer(s)"),
            ("4C", "Mental health: concerns about another person in the family or household"),
            ("5A", "Learning disability: concerns about the child"),
            ("5B", "Learning disability: concerns about the parent(s) or carer(s)"),
            ("5C", "Learning disability: concerns about another person in the family or "
                   "household"),
            ("6A", "Physical disability or illness: concerns about the child"),
            ("6B", "Physical disability or illness: concerns about the parent(s) or carer(s)"),
            ("6C", "Physical disability or illness: concerns about another person in the "
                   "family or household"),
            ("7A", "Young carer"),
            ("8B", "Privately fostered: overseas children who intend to return"),
            ("8C", "Privately fostered: overseas children who intend to stay"),
            ("8D", "Privately fostered: UK children in educational placements"),
            ("8E", "Privately fostered: UK children making alternative family arrangements"),
            ("8F", "Privately fostered: other"),
            ("9A", "Unaccompanied asylum-seeking child"),
            ("10A", "Going or being missing"),
            ("11A", "Child sexual exploitation"),
            ("12A", "Trafficking"),
            ("13A", "Gangs"),
            ("14A", "Socially unacceptable behaviour"),
            ("15A", "Self-harm"),
            ("16A", "Abuse or neglect: neglect"),
            ("17A", "Abuse or neglect: emotional abuse"),
            ("18B", "Abuse or neglect: physical abuse, child on child"),
            ("18C", "Abuse or neglect: physical abuse, adult on child"),
            ("19B", "Abuse or neglect: sexual abuse, child on child"),
            ("19C", "Abuse or neglect: sexual abuse, adult on child"),
            ("20", "Other"),
            ("21", "No factors identified"),
            ("22A", "Female genital mutilation"),
            ("23A", "Abuse linked to faith or belief"),
            ("24A", "Child criminal exploitation"),
        ),
        *(_codelist(id_, title, *codes) for id_, title, codes in LAC_CODE_TABLES),
    )
}
