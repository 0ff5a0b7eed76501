"""Opening a case: the child's identifying details and the referral, checked like a form.

These two forms belong to the engine, not to packs: every council records the same statutory
items when a referral arrives. A pack's own forms take over from the referral decision on.

The record refuses here what the DfE CIN census rules refuse for one child (the rule is named in
the message): a UPN with a wrong format, LA code or check letter (rules 1510-1550), a referral
more than 40 weeks before the child's (expected) date of birth (8606). A date of birth after the
referral date is refused too: a child not yet born when referred is recorded with the expected
date of birth (and sex U, rule 8750) until the birth. What needs the child's earlier episodes
(overlapping episodes, rule 8820) is checked when the episode is opened
(``CaseRuntime.open_episode``); what needs other children (the same UPN twice, rule 1520) is for
the caller holding the database: :func:`carepath.core.upn.duplicate_upn_problem`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from carepath.core.codes import STATUTORY_CODELISTS
from carepath.core.upn import upn_problem
from carepath.core.yamlsource import load_yaml
from carepath.engine.record.case_record import Child
from carepath.forms.loader import parse_form
from carepath.forms.schema import Form
from carepath.forms.validation import FieldError, FormErrors, ValidationContext, validate

CHILD_FORM_YAML = """
id: child
title: Child's details
fields:
  - {name: la_child_id, type: text, label: Local authority child ID, required: true, max: 20,
     record: child.la_child_id, example: C0001}
  - {name: upn, type: text, label: Unique pupil number (UPN), record: child.upn,
     example: C201250001001}
  - {name: upn_unknown, type: choice, codelist: upn_unknown, label: Reason the UPN is unknown,
     record: child.upn_unknown, example: UN1}
  - {name: birth_date, type: date, label: Date of birth, not_future: true,
     hint: "For example, 27 3 2015", record: child.birth_date, example: 2015-06-01}
  - {name: expected_birth_date, type: date, label: Expected date of birth,
     hint: "For an unborn child. For example, 27 3 2026", record: child.expected_birth_date,
     example: 2026-01-10}
  - {name: sex, type: choice, codelist: sex, label: Sex, required: true, record: child.sex,
     hint: Choose U for an unborn child, example: F}
  - {name: ethnicity, type: choice, codelist: ethnicity, label: Ethnicity, required: true,
     record: child.ethnicity, example: WBRI}
  - {name: disabilities, type: multichoice, codelist: disability, label: Disabilities,
     required: true, record: child.disabilities, example: [NONE]}
"""

REFERRAL_FORM_YAML = """
id: referral
title: Referral
fields:
  - {name: date, type: date, label: Date of the referral, required: true, not_future: true,
     hint: "For example, 27 3 2025", record: referral.date, example: 2025-05-01}
  - {name: source, type: choice, codelist: referral_source, label: Source of the referral,
     required: true, record: referral.source, example: "2A"}
"""

_forms: dict[str, Form] = {}


def intake_form(name: str) -> Form:
    """The engine's own ``child`` or ``referral`` form."""
    if name not in _forms:
        text = CHILD_FORM_YAML if name == "child" else REFERRAL_FORM_YAML
        _forms[name] = parse_form(load_yaml(text, f"<{name} form>"), f"<{name} form>",
                                  STATUTORY_CODELISTS)
    return _forms[name]


LA_CHILD_ID_RE = re.compile(r"^[A-Za-z0-9]{1,20}$")
# DfE rule 8606: a referral at most 40 weeks before the (expected) date of birth
MOST_BEFORE_BIRTH = timedelta(weeks=40)


def long_date(day: date) -> str:
    """A date as GOV.UK writes it: 27 March 2025."""
    return f"{day.day} {day:%B %Y}"


def check_child(raw: Mapping[str, Any], ctx: ValidationContext) -> Child:
    """Validate a child's details (every problem at once) and return the record's Child."""
    errors: list[FieldError] = []
    wrong: set[str] = set()
    try:
        values = validate(intake_form("child"), raw, ctx)
    except FormErrors as exc:
        errors.extend(exc.errors)
        # still check the answers that were fine, so every problem is reported at once
        wrong = {e.field.split(".")[0] for e in exc.errors}
        values = {k: v for k, v in raw.items() if k not in wrong}
    upn, unknown = values.get("upn"), values.get("upn_unknown")
    if wrong & {"upn", "upn_unknown"}:
        pass  # already reported
    elif upn and unknown:
        errors.append(FieldError("upn_unknown", "Give either a unique pupil number or the "
                                 "reason it is unknown, not both"))
    elif not upn and not unknown:
        errors.append(FieldError("upn", "Enter the unique pupil number, or the reason it "
                                 "is unknown"))
    elif upn and (problem := upn_problem(str(upn).upper())):
        errors.append(FieldError("upn", problem))
    born, expected = values.get("birth_date"), values.get("expected_birth_date")
    if wrong & {"birth_date", "expected_birth_date"}:
        pass  # already reported
    elif born and expected:
        errors.append(FieldError("expected_birth_date", "Give either the date of birth or "
                                 "the expected date of birth, not both"))
    elif not born and not expected:
        errors.append(FieldError("birth_date", "Enter the date of birth, or the expected "
                                 "date of birth for an unborn child"))
    elif expected and "sex" not in wrong and values.get("sex") not in (None, "U"):
        errors.append(FieldError("sex", "Select U for the sex of an unborn child (DfE rule "
                                 "8750)"))
    la_id = str(values.get("la_child_id") or "")
    if la_id and not LA_CHILD_ID_RE.match(la_id):
        errors.append(FieldError("la_child_id", "Local authority child ID must be letters "
                                 "and numbers only, 20 characters or less"))
    if errors:
        raise FormErrors(errors)
    return Child(
        la_child_id=str(values["la_child_id"]),
        upn=str(values["upn"]).upper() if values.get("upn") else None,
        upn_unknown=values.get("upn_unknown"),
        birth_date=values.get("birth_date"),
        expected_birth_date=values.get("expected_birth_date"),
        sex=values.get("sex"),
        ethnicity=values.get("ethnicity"),
        disabilities=list(values.get("disabilities") or []),
    )


def check_referral(raw: Mapping[str, Any], ctx: ValidationContext) -> dict[str, Any]:
    """Validate a referral; returns {'date': date, 'source': code}."""
    return validate(intake_form("referral"), raw, ctx)


def check_child_at_referral(child: Child, referral_date: date) -> None:
    """The child's dates against the referral's (each checked on its own already): raises
    :class:`FormErrors` with fields ``child.birth_date`` / ``referral.date``. Like every form
    message, these never quote the answers (a date of birth is personal data)."""
    errors: list[FieldError] = []
    if child.birth_date is not None and child.birth_date > referral_date:
        errors.append(FieldError(
            "child.birth_date",
            "Date of birth must be the same as or before the referral date. For a child who was "
            "not born when referred, enter the expected date of birth instead"))
    born = child.birth_date or child.expected_birth_date
    if born is not None and referral_date < born - MOST_BEFORE_BIRTH:
        errors.append(FieldError(
            "referral.date",
            "The referral date must be no more than 40 weeks before the child's "
            f"{'expected ' if child.birth_date is None else ''}date of birth (DfE rule 8606)"))
    if errors:
        raise FormErrors(errors)
