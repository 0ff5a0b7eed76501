"""validate, visible_fields, record_values, example_values: coercion, rules, show_if, wording."""

from __future__ import annotations

import textwrap
from datetime import date, datetime
from typing import Any

import pytest

from carepath.core.codes import Code, Codelist
from carepath.core.errors import CarepathError
from carepath.core.expressions.evaluator import compile_expression
from carepath.core.yamlsource import load_yaml
from carepath.forms.loader import parse_form
from carepath.forms.schema import Field, FieldType, Form, Option
from carepath.forms.validation import (
    FieldError,
    FormErrors,
    ValidationContext,
    clean_answer,
    example_values,
    parse_date,
    record_values,
    shown_keys,
    validate,
    visible_fields,
)

CODELISTS = {
    "closure_reason": Codelist(
        "closure_reason",
        "Reason for closure",
        (Code("RC1", "Adopted"), Code("RC8", "Case closed after assessment")),
        statutory=True,
    ),
    "assessment_factors": Codelist(
        "assessment_factors",
        "Assessment factors",
        (Code("1A", "Alcohol misuse: child"), Code("2B", "Drug misuse"), Code("21", "None")),
        statutory=True,
    ),
}

OUTCOME = """\
id: assessment_outcome
title: Record the outcome of the assessment
fields:
  - name: authorised
    type: date
    label: Date the assessment was authorised
    required: true
    not_future: true
    not_before: referral
    record: assessment.authorised
    example: 2025-06-10
  - name: factors
    type: multichoice
    codelist: assessment_factors
    label: Factors identified at the end of the assessment
    record: assessment.factors
    required: true
    example: [21]
  - name: next_step
    type: choice
    label: What happens next?
    options:
      - {value: cin_plan, label: Child in need plan}
      - {value: close, label: Close the case}
    required: true
    example: close
  - name: closure_reason
    type: choice
    codelist: closure_reason
    label: Reason for closure
    show_if: next_step == 'close'
    required: true
    record: closure.reason
    example: RC8
  - name: visits
    type: group
    label: Visits
    min: 0
    max: 2
    fields:
      - {name: date, type: date, label: Date of visit, required: true, example: 2025-05-06}
      - {name: seen, type: yesno, label: Child seen alone}
      - {name: why, type: text, label: Reason the child was not seen, show_if: seen == False}
"""

TODAY = date(2025, 7, 1)
CTX = ValidationContext(today=TODAY, referral_date=date(2025, 5, 1))


def make(text: str) -> Form:
    return parse_form(load_yaml(textwrap.dedent(text), "forms/x.yaml"), "forms/x.yaml", CODELISTS)


def form_of(*fields: str) -> Form:
    """A form from field lines written as YAML flow mappings."""
    body = "\n".join(f"  - {f}" for f in fields)
    return make(f"id: x\ntitle: X\nfields:\n{body}\n")


def errors(form: Form, raw: dict[str, Any], ctx: ValidationContext = CTX) -> dict[str, str]:
    with pytest.raises(FormErrors) as caught:
        validate(form, raw, ctx)
    return caught.value.by_field()


def one_error(form: Form, raw: dict[str, Any], ctx: ValidationContext = CTX) -> str:
    found = errors(form, raw, ctx)
    assert len(found) == 1, found
    return next(iter(found.values()))


OUTCOME_FORM = make(OUTCOME)


# --------------------------------------------------------------------------- the whole form


def test_good_answers_are_cleaned_for_every_field() -> None:
    cleaned = validate(
        OUTCOME_FORM,
        {
            "authorised": "2025-06-10",
            "factors": [21, "1A"],
            "next_step": "close",
            "closure_reason": " RC8 ",
            "visits": [{"date": date(2025, 5, 6), "seen": "No", "why": "  asleep "}],
        },
        CTX,
    )
    assert cleaned == {
        "authorised": date(2025, 6, 10),
        "factors": ["1A", "21"],  # in the form's order
        "next_step": "close",
        "closure_reason": "RC8",
        "visits": [{"date": date(2025, 5, 6), "seen": False, "why": "asleep"}],
    }
    assert record_values(OUTCOME_FORM, cleaned) == {
        "assessment.authorised": date(2025, 6, 10),
        "assessment.factors": ["1A", "21"],
        "closure.reason": "RC8",
    }


def test_every_error_comes_back_at_once() -> None:
    with pytest.raises(FormErrors) as caught:
        validate(OUTCOME_FORM, {"next_step": "close", "colour": "blue"}, CTX)
    problem = caught.value
    assert isinstance(problem, CarepathError)
    assert problem.errors == [
        FieldError("colour", "'colour' is not a question on this form"),
        FieldError("authorised", "Enter the date the assessment was authorised"),
        FieldError(
            "factors",
            "Select at least one option for the factors identified at the end of the assessment",
        ),
        FieldError("closure_reason", "Select the reason for closure"),
    ]
    assert str(problem) == "There is a problem: 4 answers need changing"


def test_the_issue_wording() -> None:
    message = one_error(OUTCOME_FORM, {"factors": ["21"], "next_step": "cin_plan"})
    assert message == "Enter the date the assessment was authorised"


def test_one_error_summary_is_singular() -> None:
    assert (
        str(FormErrors([FieldError("a", "Enter a")]))
        == "There is a problem: 1 answer needs changing"
    )


def test_absent_optional_and_hidden_fields_are_none() -> None:
    cleaned = validate(
        OUTCOME_FORM,
        {"authorised": date(2025, 6, 1), "factors": "21", "next_step": "cin_plan"},
        CTX,
    )
    assert cleaned == {
        "authorised": date(2025, 6, 1),
        "factors": ["21"],
        "next_step": "cin_plan",
        "closure_reason": None,
        "visits": None,
    }
    assert record_values(OUTCOME_FORM, cleaned) == {
        "assessment.authorised": date(2025, 6, 1),
        "assessment.factors": ["21"],
    }


def test_hidden_fields_answer_is_dropped_not_checked() -> None:
    cleaned = validate(
        OUTCOME_FORM,
        {
            "authorised": "2025-06-01",
            "factors": ["21"],
            "next_step": "cin_plan",
            "closure_reason": "not even a code",
        },
        CTX,
    )
    assert cleaned["closure_reason"] is None


def test_show_if_shows_the_field() -> None:
    message = one_error(
        OUTCOME_FORM,
        {
            "authorised": "2025-06-01",
            "factors": ["21"],
            "next_step": "close",
            "closure_reason": "X",
        },
    )
    assert message == "Select the reason for closure from the list"


def test_visible_fields_follow_answers() -> None:
    names = [f.name for f in visible_fields(OUTCOME_FORM, {"next_step": "cin_plan"}, CTX)]
    assert names == ["authorised", "factors", "next_step", "visits"]
    names = [f.name for f in visible_fields(OUTCOME_FORM, {"next_step": "close"}, CTX)]
    assert names == ["authorised", "factors", "next_step", "closure_reason", "visits"]
    # raw and invalid answers are fine: an invalid answer counts as no answer
    names = [f.name for f in visible_fields(OUTCOME_FORM, {"next_step": "?"}, CTX)]
    assert "closure_reason" not in names


def test_shown_keys_name_group_rows_fields_too() -> None:
    form = form_of(
        "{name: mode, type: text, label: Mode}",
        "{name: rows, type: group, label: Rows, fields: [{name: seen, type: yesno, label: Seen},"
        " {name: why, type: text, label: Why, show_if: \"not seen or mode == 'all'\"}]}",
    )
    raw = {"mode": "some", "rows": [{"seen": "yes"}, {"seen": "no"}, {}]}
    assert shown_keys(form, raw, CTX) == {"mode", "rows", "rows.0.seen", "rows.1.seen",
                                          "rows.1.why", "rows.2.seen", "rows.2.why"}
    assert "rows.0.why" in shown_keys(form, {**raw, "mode": "all"}, CTX)
    assert shown_keys(form, {}, CTX) == {"mode", "rows"}


def test_show_if_reads_context_names_and_form_fields_win() -> None:
    form = form_of("{name: a, type: text, label: A}", "{name: b, type: text, label: B}")
    shown = Field(
        "c",
        FieldType.TEXT,
        "C",
        required=True,
        show_if=compile_expression("earlier == 'yes' and a != 'x'"),
    )
    form = Form(form.id, form.title, None, (*form.fields, shown))
    ctx = ValidationContext(today=TODAY, names={"earlier": "yes", "a": "x"})
    assert one_error(form, {"a": "y"}, ctx) == "Enter the c"
    # the form's own 'a' (x) wins over the context's
    assert validate(form, {"a": "x"}, ctx)["c"] is None
    # a condition that cannot be worked out (unknown name) hides the field
    assert validate(form, {"a": "y"}, ValidationContext(today=TODAY))["c"] is None


def test_show_if_over_an_unanswered_field_hides() -> None:
    form = form_of(
        "{name: n, type: number, label: Number of children}",
        "{name: more, type: text, label: More, required: true, show_if: n > 2}",
    )
    assert validate(form, {}, CTX) == {"n": None, "more": None}
    assert one_error(form, {"n": "3"}, CTX) == "Enter the more"


# --------------------------------------------------------------------------- dates


def test_date_coercion() -> None:
    form = form_of("{name: d, type: date, label: Date of birth}")
    assert validate(form, {"d": "2020-02-29"}, CTX) == {"d": date(2020, 2, 29)}
    assert validate(form, {"d": date(2020, 1, 1)}, CTX) == {"d": date(2020, 1, 1)}
    assert validate(form, {"d": "  "}, CTX) == {"d": None}
    for bad in ["2021-02-29", "29/02/2020", "2020-2-3", "yesterday", datetime(2020, 1, 1), 2020]:
        assert one_error(form, {"d": bad}) == "Date of birth must be a real date"


def test_dates_as_the_hints_write_them() -> None:
    """The forms' hints say "For example, 27 3 2025" and the terminal asks for YYYY-MM-DD:
    both are accepted, and only real days."""
    form = form_of("{name: d, type: date, label: Date of birth}")
    for text in ["27 3 2025", " 27  03 2025 ", "2025-03-27"]:
        assert validate(form, {"d": text}, CTX) == {"d": date(2025, 3, 27)}
    assert parse_date("1 1 2020") == date(2020, 1, 1)
    for bad in ["29 2 2021", "27 13 2025", "27 3 25", "3 27 2025", "27 3", "27-3-2025"]:
        assert parse_date(bad) is None, bad
        assert one_error(form, {"d": bad}) == "Date of birth must be a real date"


def test_every_date_hint_of_the_built_in_forms_is_a_date_the_forms_accept() -> None:
    """Each "For example, …" in a date question's hint (the packs' forms and the engine's own
    intake forms) is read by the same parser as the answers."""
    import re
    from pathlib import Path

    from carepath.core.codes import STATUTORY_CODELISTS
    from carepath.engine.intake import intake_form

    root = Path(__file__).parents[2] / "carepath" / "processes"
    forms = [intake_form("child"), intake_form("referral")]
    for path in sorted(root.glob("*/forms/*.yaml")):
        forms.append(parse_form(load_yaml(path.read_text(), str(path)), str(path),
                                STATUTORY_CODELISTS))
    hints = 0
    for f in (f for form in forms for f in form.fields):
        if f.type is FieldType.DATE and f.hint and "For example" in f.hint:
            example = re.search(r"For example, (.+?)\.?$", f.hint.strip())
            assert example is not None, f.hint
            assert parse_date(example.group(1)) is not None, (f.name, f.hint)
            hints += 1
    assert hints > 30


def test_not_future_and_not_before() -> None:
    form = form_of(
        "{name: strategy, type: date, label: Date of the strategy discussion, not_before: referral}",
        "{name: icpc, type: date, label: ICPC date, not_future: true, not_before: strategy}",
    )
    found = errors(form, {"strategy": "2025-04-30", "icpc": "2025-07-02"})
    assert found == {
        "strategy": "Date of the strategy discussion must be the same as or after the referral date",
        "icpc": "ICPC date must be today or in the past",
    }
    found = errors(form, {"strategy": "2025-06-02", "icpc": "2025-06-01"})
    assert found == {
        "icpc": "ICPC date must be the same as or after the date of the strategy discussion"
    }
    assert validate(form, {"strategy": "2025-05-01", "icpc": "2025-07-01"}, CTX) == {
        "strategy": date(2025, 5, 1),
        "icpc": date(2025, 7, 1),
    }
    # no referral date known: that rule is skipped
    ctx = ValidationContext(today=TODAY)
    assert validate(form, {"strategy": "2020-01-01"}, ctx)["strategy"] == date(2020, 1, 1)


# --------------------------------------------------------------------------- other types


def test_number_coercion_and_bounds() -> None:
    form = form_of("{name: n, type: number, label: Number of children, min: 1, max: 12}")
    assert validate(form, {"n": "3"}, CTX) == {"n": 3}
    assert validate(form, {"n": " 2.5 "}, CTX) == {"n": 2.5}
    assert validate(form, {"n": 4}, CTX) == {"n": 4}
    assert validate(form, {"n": 4.0}, CTX) == {"n": 4.0}
    for bad in ["three", "1e3", True, [1], float("nan")]:
        assert one_error(form, {"n": bad}) == "Number of children must be a number"
    assert one_error(form, {"n": 0}) == "Number of children must be 1 or more"
    assert one_error(form, {"n": "13"}) == "Number of children must be 12 or less"


def test_yesno_coercion() -> None:
    form = form_of("{name: y, type: yesno, label: Child seen alone, required: true}")
    for raw, value in [
        (True, True),
        (False, False),
        ("Yes", True),
        ("no", False),
        (" TRUE ", True),
        ("false", False),
        ("Y", True),
        ("n", False),
    ]:
        assert validate(form, {"y": raw}, CTX) == {"y": value}
    assert one_error(form, {}) == "Select yes or no for the child seen alone"
    assert one_error(form, {"y": "maybe"}) == "Select yes or no for the child seen alone"
    assert one_error(form, {"y": 1}) == "Select yes or no for the child seen alone"
    question = form_of("{name: y, type: yesno, label: 'Is an ICPC needed?', required: true}")
    assert one_error(question, {}) == "Select yes or no"


def test_choice_values_compare_as_text() -> None:
    form = form_of(
        "{name: f, type: choice, label: Factor, codelist: assessment_factors, required: true}"
    )
    assert validate(form, {"f": 21}, CTX) == {"f": "21"}
    assert validate(form, {"f": 21.0}, CTX) == {"f": "21"}
    assert one_error(form, {"f": "22"}) == "Select the factor from the list"
    assert one_error(form, {"f": True}) == "Select the factor from the list"
    assert one_error(form, {"f": ["21"]}) == "Select the factor from the list"
    assert one_error(form, {}) == "Select the factor"


def test_multichoice_coercion() -> None:
    form = form_of("{name: f, type: multichoice, label: Factors, codelist: assessment_factors}")
    assert validate(form, {"f": "2B"}, CTX) == {"f": ["2B"]}
    assert validate(form, {"f": ["2B", 21, "1A"]}, CTX) == {"f": ["1A", "2B", "21"]}
    assert validate(form, {"f": []}, CTX) == {"f": None}
    assert one_error(form, {"f": ["21", 21]}) == "Select each option for the factors only once"
    assert one_error(form, {"f": ["21", "99"]}) == "Select the factors from the list"


def test_text_is_stripped_and_length_checked() -> None:
    form = form_of(
        "{name: t, type: text, label: UPN, min: 3, max: 5}",
        "{name: notes, type: textarea, label: Your notes}",
    )
    assert validate(form, {"t": "  abc  ", "notes": " a\r\nb "}, CTX) == {
        "t": "abc",
        "notes": "a\nb",
    }
    assert validate(form, {"t": 12345}, CTX)["t"] == "12345"
    assert one_error(form, {"t": "abcdef"}) == "UPN must be 5 characters or less"
    assert one_error(form, {"t": "ab"}) == "UPN must be 3 characters or more"
    assert one_error(form, {"notes": {"a": 1}}) == "Your notes must be text"


# --------------------------------------------------------------------------- wording


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("{name: a, type: text, label: Your name, required: true}", "Enter your name"),
        ("{name: a, type: text, label: A reason, required: true}", "Enter a reason"),
        ("{name: a, type: text, label: The address, required: true}", "Enter the address"),
        ("{name: a, type: date, label: ICPC date, required: true}", "Enter the ICPC date"),
        ("{name: a, type: number, label: Age, required: true}", "Enter the age"),
        (
            "{name: a, type: choice, label: 'What happens next?', required: true, "
            "options: [{value: x, label: X}]}",
            "Select what happens next",
        ),
        (
            "{name: a, type: group, label: Visits, required: true, "
            "fields: [{name: d, type: date, label: D}]}",
            "Add at least one entry to the visits",
        ),
    ],
)
def test_required_wording(field: str, message: str) -> None:
    assert one_error(form_of(field), {}) == message


def test_errors_overrides_win() -> None:
    form = form_of(
        "{name: d, type: date, label: D, required: true, not_future: true, "
        "errors: {required: Enter the day it happened, future: Cannot be tomorrow}}",
        "{name: n, type: number, label: N, min: 1, max: 2, "
        "errors: {invalid: Use digits, min: Too small, max: Too big}}",
        "{name: e, type: date, label: E, not_before: d, errors: {before: E is too early}}",
        "{name: r, type: date, label: R, not_before: referral, errors: {before: Before referral}}",
    )
    assert errors(form, {"n": "x"}) == {"d": "Enter the day it happened", "n": "Use digits"}
    assert errors(form, {"d": "2025-07-02", "n": 0})["d"] == "Cannot be tomorrow"
    found = errors(form, {"d": "2025-06-02", "n": 3, "e": "2025-06-01", "r": "2025-04-01"})
    assert found == {"n": "Too big", "e": "E is too early", "r": "Before referral"}
    assert errors(form, {"d": "2025-06-02", "n": 0}) == {"n": "Too small"}


def test_messages_never_contain_values() -> None:
    found = errors(OUTCOME_FORM, {"authorised": "Jane Smith 2025", "factors": ["Secret"]})
    assert not any("Jane" in m or "Secret" in m for m in found.values())


# --------------------------------------------------------------------------- groups


def test_group_rows_are_validated_with_their_keys() -> None:
    raw = {
        "authorised": "2025-06-01",
        "factors": ["21"],
        "next_step": "cin_plan",
        "visits": [
            {"date": "2025-05-06", "seen": "yes", "why": "dropped: hidden"},
            {"seen": "no", "colour": "red"},
            "not a row",
        ],
    }
    with pytest.raises(FormErrors) as caught:
        validate(OUTCOME_FORM, raw, CTX)
    assert caught.value.errors == [
        FieldError("visits", "Visits must have 2 entries or fewer"),
        FieldError("visits.1.colour", "'colour' is not a question on this form"),
        FieldError("visits.1.date", "Enter the date of visit"),
        FieldError("visits.2", "Visits must be a list of entries"),
    ]


def test_group_rows_clean_and_show_if_per_row() -> None:
    form = form_of(
        "{name: kind, type: choice, label: Kind, options: [{value: home, label: Home}]}",
        "{name: rows, type: group, label: Visits, min: 1, fields: ["
        "{name: seen, type: yesno, label: Seen, required: true}, "
        "{name: why, type: text, label: Reason not seen, required: true, "
        "show_if: \"not seen and kind == 'home'\"}]}",
    )
    cleaned = validate(
        form,
        {"kind": "home", "rows": [{"seen": "yes", "why": "x"}, {"seen": "no", "why": "ill"}]},
        CTX,
    )
    assert cleaned["rows"] == [{"seen": True, "why": None}, {"seen": False, "why": "ill"}]
    assert errors(form, {"kind": "home", "rows": [{"seen": "no"}]}) == {
        "rows.0.why": "Enter the reason not seen"
    }
    assert validate(form, {"rows": [{"seen": "no"}]}, CTX)["rows"] == [{"seen": False, "why": None}]
    assert errors(form, {"rows": {"seen": "no"}}) == {"rows": "Visits must be a list of entries"}


def test_group_min_rows() -> None:
    form = form_of(
        "{name: g, type: group, label: Visits, min: 2, fields: [{name: d, type: date, label: D}]}"
    )
    assert one_error(form, {"g": [{"d": "2025-01-01"}]}) == "Visits must have 2 entries or more"
    assert validate(form, {"g": []}, CTX) == {"g": None}


# --------------------------------------------------------------------------- examples


def test_example_values_respect_show_if() -> None:
    examples = example_values(OUTCOME_FORM)
    assert examples == {
        "authorised": date(2025, 6, 10),
        "factors": ["21"],
        "next_step": "close",
        "closure_reason": "RC8",
        "visits": [{"date": date(2025, 5, 6)}],
    }
    assert validate(OUTCOME_FORM, examples, CTX)["closure_reason"] == "RC8"

    form = form_of(
        "{name: next_step, type: choice, label: Next, example: cin, "
        "options: [{value: cin, label: CIN}, {value: close, label: Close}]}",
        "{name: reason, type: text, label: Reason, show_if: next_step == 'close', example: gone}",
        "{name: note, type: text, label: Note}",
    )
    assert example_values(form) == {"next_step": "cin"}


def test_group_example_needs_a_valid_row() -> None:
    form = form_of(
        "{name: g, type: group, label: G, fields: ["
        "{name: d, type: date, label: D, required: true}, {name: t, type: text, label: T, "
        "example: x}]}",
    )
    assert example_values(form) == {}  # 'd' is required and has no example


def test_clean_answer_skips_date_context() -> None:
    f = Field("d", FieldType.DATE, "D", not_future=True, not_before="referral")
    assert clean_answer(f, "2999-01-01") == (date(2999, 1, 1), [])
    value, problems = clean_answer(f, "soon")
    assert value is None and problems == [FieldError("d", "D must be a real date")]


def test_forms_built_in_code_work_too() -> None:
    f = Field("c", FieldType.CHOICE, "Colour", options=(Option("r", "Red"),), required=True)
    form = Form("f", "F", None, (f,))
    assert validate(form, {"c": "r"}, ValidationContext(today=TODAY)) == {"c": "r"}
    assert form.record_fields() == []
    with pytest.raises(TypeError):
        validate(form, ["c"], CTX)  # type: ignore[arg-type]
