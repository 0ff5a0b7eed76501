"""The record items a form field may fill (``record:`` in a form), with their types.

``X.start`` items open a new X in the current episode; the other ``X.*`` items update the latest
X of the current episode (see ``carepath.engine.record.case_record.apply_values``).
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


@dataclass(frozen=True)
class RecordItem:
    path: str
    type: ItemType
    codelist: str | None = None
    title: str = ""


def _item(path: str, type_: ItemType, title: str, codelist: str | None = None) -> RecordItem:
    return RecordItem(path, type_, codelist, title)


T, D, Y, C, CS = ItemType.TEXT, ItemType.DATE, ItemType.YESNO, ItemType.CODE, ItemType.CODES

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
        "child.birth_date",
        "child.expected_birth_date",
    }
)
CONTEXT_NAMESPACES: frozenset[str] = frozenset(p.split(".")[0] for p in CONTEXT_DATES) | {"episode"}
