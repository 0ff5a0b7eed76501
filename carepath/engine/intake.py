"""Opening a case: the child's identifying details and the referral, checked like a form.

These two forms belong to the engine, not to packs: every council records the same statutory
items when a referral arrives. A pack's own forms take over from the referral decision on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from carepath.core.codes import STATUTORY_CODELISTS
from carepath.core.yamlsource import load_yaml
from carepath.engine.record.case_record import Child
from carepath.engine.stories.story import upn_problem
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
     record: child.birth_date, example: 2015-06-01}
  - {name: expected_birth_date, type: date, label: Expected date of birth,
     record: child.expected_birth_date, example: 2026-01-10}
  - {name: sex, type: choice, codelist: sex, label: Sex, required: true, record: child.sex,
     example: F}
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
     record: referral.date, example: 2025-05-01}
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
