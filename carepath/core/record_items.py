"""The record items a form field may fill (``record:`` in a form), with their types.

``X.start`` items open a new X in the current episode; the other ``X.*`` items update the latest
X of the current episode (see ``carepath.engine.record.case_record.apply_values``). The
looked-after items (:data:`LOOKED_AFTER_ITEMS`) belong to the child, not to an episode: their
opening items and rules are in ``carepath.engine.record.lac_changes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ItemType(Enum):
    TEXT = "text"
    DATE = "date"
    YESNO = "yesno"
    CODE = "code"  # one code from `codelist`
    CODES = "codes"  # several codes from `codelist`
    NUMBER = "number"  # a whole number


@dataclass(frozen=True)
class RecordItem:
    path: str
    type: ItemType
    codelist: str | None = None
    title: str = ""


def _item(path: str, type_: ItemType, title: str, codelist: str | None = None) -> RecordItem:
    return RecordItem(path, type_, codelist, title)


T, D, Y, C, CS = ItemType.TEXT, ItemType.DATE, ItemType.YESNO, ItemType.CODE, ItemType.CODES
N = ItemType.NUMBER

# The looked-after record (child-level, not per episode; see
# carepath.engine.record.lac_changes for what each does). In the order they are applied.
LOOKED_AFTER_ITEMS: tuple[RecordItem, ...] = (
    _item("care.start", D, "Date started to be looked after (period of care)"),
    _item("care.need", C, "Category of need at the start of the period of care",
          "lac_category_of_need"),
    _item("legal_status.start", D, "Legal status start date"),
    _item("legal_status.code", C, "Legal status", "lac_legal_status"),
    _item("legal_status.end", D, "Legal status end date"),
    _item("placement.start", D, "Placement start date"),
    _item("placement.type", C, "Placement type", "lac_placement_type"),
    _item("placement.provider", C, "Placement provider", "lac_placement_provider"),
    _item("placement.carer", T, "Carer or setting (identifier)"),
    _item("placement.urn", T, "Ofsted unique reference number of the placement"),
    _item("placement.postcode", T, "Placement postcode"),
    _item("placement.home_postcode", T, "Child's home postcode"),
    _item("placement.end", D, "Placement end date"),
    _item("placement.reason_changed", C, "Reason for the change of placement",
          "lac_reason_place_change"),
    _item("social_worker.start", D, "Social worker allocation start date"),
    _item("social_worker.id", T, "Social worker identifier (SW...)"),
    _item("social_worker.reason", C, "Reason for the change of social worker",
          "lac_sw_change_reason"),
    _item("social_worker.end", D, "Social worker allocation end date"),
    _item("lac_review.date", D, "Looked-after child review date"),
    _item("lac_review.participation", C, "Child's participation in the review",
          "lac_review_participation"),
    _item("missing.start", D, "Missing or away from placement: start date"),
    _item("missing.kind", C, "Missing or away from placement", "lac_missing_type"),
    _item("missing.end", D, "Missing or away from placement: end date"),
    _item("missing.rhi_offered", Y, "Return home interview offered"),
    _item("missing.rhi_accepted", Y, "Return home interview accepted"),
    _item("uasc.status", Y, "Unaccompanied asylum-seeking child"),
    _item("uasc.ceased", D, "Date UASC status ceased"),
    _item("mother.status", Y, "The young person is a mother"),
    _item("mother.first_child_born", D, "Date of birth of the mother's first child"),
    _item("adoption.decision", D, "Date of the decision that the child should be placed for "
          "adoption"),
    _item("adoption.placement_order", D, "Date of the placement order"),
    _item("adoption.matched", D, "Date matched with prospective adopters"),
    _item("adoption.adopters", N, "Number of adopters (1 or 2)"),
    _item("adoption.adopters_sex", C, "Sex of adopter(s)", "lac_adopter_sex"),
    _item("adoption.adopters_legal_status", C, "Legal status of adopter(s)",
          "lac_adopter_legal_status"),
    _item("adoption.by_foster_carer", Y, "Adopted by former foster carer(s)"),
    _item("adoption.reversed", D, "Date of the decision that the child should no longer be "
          "placed for adoption"),
    _item("adoption.reversed_reason", C, "Reason the child should no longer be placed for "
          "adoption", "lac_reason_placed_ceased"),
    _item("previous_permanence.option", C, "Permanence before coming into care",
          "lac_previous_permanence"),
    _item("previous_permanence.date", T, "Date of the previous permanence order (YYYY, YYYY-MM "
          "or YYYY-MM-DD)"),
    _item("previous_permanence.la", T, "Council that made the previous permanence order"),
    _item("outcomes.year", N, "Collection year of the outcomes (the year it ends: 2026 for "
          "2025-26)"),
    _item("outcomes.sdq_score", N, "Strengths and difficulties questionnaire score (0 to 40)"),
    _item("outcomes.sdq_reason", C, "Reason no SDQ score", "lac_sdq_reason"),
    _item("outcomes.convicted", Y, "Convicted or subject to a youth caution in the year"),
    _item("outcomes.health_check", Y, "Development assessments up to date (under 5)"),
    _item("outcomes.immunisations", Y, "Immunisations up to date"),
    _item("outcomes.teeth_check", Y, "Teeth checked by a dentist"),
    _item("outcomes.health_assessment", Y, "Annual health assessment up to date"),
    _item("outcomes.substance_misuse", Y, "Identified as having a substance misuse problem"),
    _item("outcomes.intervention_received", Y, "Received an intervention for substance misuse"),
    _item("outcomes.intervention_offered", Y, "Offered an intervention for substance misuse"),
    _item("care_leaver.contact", D, "Date of contact with the care leaver"),
    _item("care_leaver.in_touch", C, "Council in touch with the care leaver", "lac_in_touch"),
    _item("care_leaver.activity", C, "Care leaver's main activity", "lac_care_leaver_activity"),
    _item("care_leaver.accommodation", C, "Care leaver's accommodation and its suitability",
          "lac_care_leaver_accommodation"),
    _item("care_leaver.personal_adviser", T, "Care leaver's personal adviser"),
    _item("care.end", D, "Date ceased to be looked after (period of care)"),
    _item("care.reason_ceased", C, "Reason ceased to be looked after", "lac_reason_care_ceased"),
)
LOOKED_AFTER_NAMESPACES: frozenset[str] = frozenset(i.path.split(".")[0]
                                                    for i in LOOKED_AFTER_ITEMS)

RECORD_ITEMS: dict[str, RecordItem] = {
    i.path: i
    for i in (
        _item("child.la_child_id", T, "LA child ID"),
        _item("child.upn", T, "Unique pupil number"),
        _item("child.upn_unknown", C, "Reason UPN unknown", "upn_unknown"),
        _item("child.birth_date", D, "Date of birth"),
        _item("child.expected_birth_date", D, "Expected date of birth"),
        _item("child.sex", C, "Sex", "sex"),
        _item("child.ethnicity", C, "Ethnicity", "ethnicity"),
        _item("child.disabilities", CS, "Disabilities", "disability"),
        _item("referral.date", D, "Referral date"),
        _item("referral.source", C, "Referral source", "referral_source"),
        _item("referral.nfa", Y, "Referral with no further action"),
        _item("episode.primary_need", C, "Primary need", "primary_need"),
        _item("episode.emergency_protection", D,
              "Date of an emergency protection order or police protection"),
        _item("assessment.start", D, "Assessment start date"),
        _item("assessment.authorised", D, "Assessment authorisation date"),
        _item("assessment.factors", CS, "Factors identified at assessment", "assessment_factors"),
        _item("s47.start", D, "Section 47 start (strategy discussion) date"),
        _item("s47.icpc_date", D, "Initial child protection conference date"),
        _item("s47.icpc_not_required", Y, "Initial child protection conference not required"),
        _item("cp_plan.start", D, "Child protection plan start date"),
        _item("cp_plan.initial_category", C, "Initial category of abuse", "abuse_category"),
        _item("cp_plan.latest_category", C, "Latest category of abuse", "abuse_category"),
        _item("cp_plan.review", D, "Child protection review date"),
        _item("cp_plan.end", D, "Child protection plan end date"),
        _item("cin_plan.start", D, "Child in need plan start date"),
        _item("cin_plan.end", D, "Child in need plan end date"),
        _item("closure.date", D, "Case closure date"),
        _item("closure.reason", C, "Reason for closure", "closure_reason"),
        *LOOKED_AFTER_ITEMS,
    )
}

# Record dates a timescale may count from (`from:` in timescales.yaml) and the names
# timescale expressions may read. Each is a key of `record_context()`.
CONTEXT_DATES: frozenset[str] = frozenset(
    {
        "referral.date",
        "assessment.start",
        "assessment.authorised",
        "s47.start",
        "s47.icpc_date",
        "cp_plan.start",
        "cp_plan.last_review",
        "cp_plan.end",
        "cin_plan.start",
        "cin_plan.end",
        "closure.date",
        "missing.end",
        "child.birth_date",
        "child.expected_birth_date",
    }
)
CONTEXT_NAMESPACES: frozenset[str] = frozenset(p.split(".")[0] for p in CONTEXT_DATES) | {"episode"}

# Every name of the case record that expressions (gateway conditions, timers, show_if, action
# `available`, timescales) may read: namespace -> its keys. It mirrors `record_context()` in
# carepath.engine.record.context (a test holds them equal); the namespaces are reserved, so no
# form field may take one of their names.
RECORD_CONTEXT_KEYS: dict[str, frozenset[str]] = {
    "child": frozenset({"la_child_id", "upn", "upn_unknown", "birth_date", "expected_birth_date",
                        "sex", "ethnicity", "disabilities", "age_years"}),
    "referral": frozenset({"date", "source", "nfa"}),
    "episode": frozenset({"number", "primary_need", "closed", "assessments", "open"}),
    "assessment": frozenset({"start", "authorised", "factors", "open"}),
    "s47": frozenset({"start", "icpc_date", "icpc_not_required", "icpc_target", "open"}),
    "cp_plan": frozenset({"start", "end", "initial_category", "latest_category", "last_review",
                          "reviews", "previous_plans", "open"}),
    "cin_plan": frozenset({"start", "end", "open"}),
    "closure": frozenset({"date", "reason"}),
    "care": frozenset({"start", "need", "end", "reason_ceased", "periods", "open"}),
    "legal_status": frozenset({"code", "start"}),
    "placement": frozenset({"type", "provider", "start", "open"}),
    "lac_review": frozenset({"last", "count"}),
    "missing": frozenset({"start", "kind", "end", "open"}),
    "adoption": frozenset({"decision", "matched", "open"}),
    "care_leaver": frozenset({"last_contact", "uasc"}),
}
RECORD_NAMESPACES: frozenset[str] = frozenset(RECORD_CONTEXT_KEYS)
RECORD_NAMES: frozenset[str] = RECORD_NAMESPACES | frozenset(
    f"{ns}.{key}" for ns, keys in RECORD_CONTEXT_KEYS.items() for key in keys)


def unknown_record_read(names: frozenset[str], paths: frozenset[str],
                        allowed: frozenset[str] = frozenset()) -> str | None:
    """The first name an expression reads (``names``: top-level, ``paths``: dotted) that is
    neither in ``allowed`` (plain names such as form answers) nor a record name; a bare
    namespace (``cin_plan`` alone) is not a record name either."""
    for path in sorted(paths):
        if "." in path:
            if path not in RECORD_NAMES:
                return path
        elif path not in allowed:
            return path
    for name in sorted(names):
        if name not in allowed and name not in RECORD_NAMESPACES:
            return name
    return None


def record_read_problem(paths: frozenset[str]) -> str | None:
    """What is wrong with the record names among ``paths`` (an expression's dotted names), or
    None: a dotted name must be a record name, and a namespace cannot be read whole."""
    for path in sorted(paths):
        namespace = path.split(".")[0]
        if "." in path and path not in RECORD_NAMES:
            if namespace in RECORD_NAMESPACES:
                keys = ", ".join(sorted(RECORD_CONTEXT_KEYS[namespace]))
                return f"'{path}' is not a record name ({namespace} has: {keys})"
            return (f"'{path}' is not a record name (the record's namespaces are "
                    f"{', '.join(sorted(RECORD_NAMESPACES))})")
        if "." not in path and path in RECORD_NAMESPACES:
            return f"'{path}' is a record namespace: read one of its names, such as '{path}.open'"
    return None
