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
