"""parse_form: the example form from the docs, and every error kind with its line number."""

from __future__ import annotations

import textwrap
from datetime import date

import pytest

from carepath.core.codes import Code, Codelist
from carepath.core.errors import PackError
from carepath.core.yamlsource import load_yaml
from carepath.forms.loader import parse_form
from carepath.forms.schema import Field, FieldType, Form, Option

FILE = "forms/assessment_outcome.yaml"

CODELISTS = {
    "closure_reason": Codelist(
        "closure_reason",
        "Reason for closure",
        (Code("RC1", "Adopted"), Code("RC8", "Case closed after assessment, no further action")),
        statutory=True,
    ),
    "assessment_factors": Codelist(
        "assessment_factors",
        "Assessment factors",
        (Code("1A", "Alcohol misuse: child"), Code("21", "No factors identified")),
        statutory=True,
    ),
    "contact_outcome": Codelist(
        "contact_outcome",
        "Contact outcome",
        (Code("A", "Advice and information"), Code("R", "Referral")),
    ),
}

DOC_FORM = """\
id: assessment_outcome
title: Record the outcome of the assessment
guidance: |
  Complete this when the team manager has authorised the assessment.
fields:
  - name: authorised
    type: date
    label: Date the assessment was authorised
    hint: For example, 27 3 2025
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
    max: 10
    fields:
      - {name: date, type: date, label: Date of visit, required: true, example: 2025-05-06}
"""


def parse(text: str, expected_id: str | None = None) -> Form:
    return parse_form(load_yaml(textwrap.dedent(text), FILE), FILE, CODELISTS, expected_id)


def refused(text: str, expected_id: str | None = None) -> PackError:
    with pytest.raises(PackError) as caught:
        parse(text, expected_id)
    assert caught.value.file == FILE
    return caught.value


def one_field(body: str) -> str:
    """A form whose fields are ``body`` (YAML list items, already indented by two spaces)."""
    return "id: f\ntitle: F\nfields:\n" + textwrap.dedent(body).strip("\n").rstrip() + "\n"


# --------------------------------------------------------------------------- the good form


def test_doc_form_parses() -> None:
    form = parse(DOC_FORM, expected_id="assessment_outcome")
    assert form.id == "assessment_outcome"
    assert form.title == "Record the outcome of the assessment"
    assert form.guidance is not None and form.guidance.startswith("Complete this")
    assert form.file == FILE and form.line == 1
    assert form.names() == ["authorised", "factors", "next_step", "closure_reason", "visits"]
    assert [f.name for f in form.record_fields()] == ["authorised", "factors", "closure_reason"]

    authorised = form.field("authorised")
    assert authorised.type is FieldType.DATE
    assert authorised.required and authorised.not_future
    assert authorised.not_before == "referral"
    assert authorised.record == "assessment.authorised"
    assert authorised.example == date(2025, 6, 10)
    assert authorised.hint == "For example, 27 3 2025"
    assert authorised.line == 6

    factors = form.field("factors")
    assert factors.codelist == "assessment_factors"
    assert factors.options == (
        Option("1A", "Alcohol misuse: child"),
        Option("21", "No factors identified"),
    )
    assert factors.example == ["21"]  # YAML's 21 is the code '21'

    next_step = form.field("next_step")
    assert next_step.codelist is None
    assert [o.value for o in next_step.options] == ["cin_plan", "close"]
    assert next_step.option_label("close") == "Close the case"

    closure = form.field("closure_reason")
    assert closure.show_if is not None
    assert closure.show_if.names == frozenset({"next_step"})

    visits = form.field("visits")
    assert visits.type is FieldType.GROUP
    assert (visits.min, visits.max) == (0, 10)
    assert [f.name for f in visits.fields] == ["date"]
    assert visits.fields[0].example == date(2025, 5, 6)
    assert visits.example is None

    with pytest.raises(KeyError):
        form.field("nope")


def test_inline_options_that_are_codes_of_the_record_items_list() -> None:
    form = parse(
        one_field("""
          - name: reason
            type: choice
            label: Reason for closure
            record: closure.reason
            options:
              - {value: RC8, label: No further action}
        """)
    )
    assert form.field("reason").options == (Option("RC8", "No further action"),)


def test_numeric_option_values_become_text() -> None:
    form = parse(
        one_field("""
          - name: score
            type: choice
            label: Score
            options: [{value: 1, label: One}, {value: 2, label: Two}]
            example: 2
        """)
    )
    f = form.field("score")
    assert [o.value for o in f.options] == ["1", "2"]
    assert f.example == "2"


def test_errors_overrides_and_group_example_are_kept() -> None:
    form = parse(
        one_field("""
          - name: started
            type: date
            label: Start date
          - name: visits
            type: group
            label: Visits
            fields:
              - {name: seen, type: date, label: Date seen, not_before: started}
              - {name: note, type: textarea, label: Note, show_if: seen}
            example: [{seen: 2025-01-02, note: " fine "}]
          - name: count
            type: number
            label: Number of children
            errors: {required: Enter how many children there are, min: Too few}
            min: 1
        """)
    )
    assert form.field("visits").example == [{"seen": date(2025, 1, 2), "note": "fine"}]
    assert dict(form.field("count").errors) == {
        "required": "Enter how many children there are",
        "min": "Too few",
    }
    assert isinstance(form.field("visits").fields[0], Field)


# --------------------------------------------------------------------------- form-level errors


def test_not_a_mapping() -> None:
    err = refused("- just\n- a list\n")
    assert err.line == 1
    assert "must be a mapping" in err.detail


def test_missing_id() -> None:
    err = refused("\ntitle: T\nfields: []\n")
    assert err.line == 2
    assert err.detail == "the form has no id"


def test_missing_title() -> None:
    err = refused("id: f\nfields:\n  - {name: a, type: text, label: A}\n")
    assert err.line == 1
    assert err.detail == "form 'f' has no title"


def test_missing_fields() -> None:
    err = refused("id: f\ntitle: T\n")
    assert err.line == 1
    assert err.detail == "form 'f' has no fields"


def test_empty_fields() -> None:
    err = refused("id: f\ntitle: T\nfields: []\n")
    assert err.line == 3
    assert "one or more fields" in err.detail


def test_id_must_match_file_name() -> None:
    err = refused("title: T\nid: other\nfields:\n  - {name: a, type: text, label: A}\n", "f")
    assert err.line == 2
    assert "form id 'other' does not match its file name (expected 'f')" in err.detail
    assert "forms/assessment_outcome.yaml:2: " in str(err)


def test_bad_form_id() -> None:
    err = refused("id: Bad-Id\ntitle: T\nfields:\n  - {name: a, type: text, label: A}\n")
    assert err.line == 1
    assert "form id 'Bad-Id'" in err.detail


def test_unknown_form_key_suggests() -> None:
    err = refused("id: f\ntitle: T\nguidence: x\nfields:\n  - {name: a, type: text, label: A}\n")
    assert err.line == 3
    assert err.detail == "unknown key 'guidence' in the form; did you mean 'guidance'?"


# --------------------------------------------------------------------------- field-level errors


def test_unknown_field_key_suggests() -> None:
    err = refused(
        one_field("""
          - name: a
            type: text
            label: A
            requird: true
        """)
    )
    assert err.line == 7
    assert err.detail == "unknown key 'requird' in field 'a'; did you mean 'required'?"


def test_unknown_field_key_without_close_match_lists_nothing_misleading() -> None:
    err = refused(
        one_field("""
          - name: a
            type: text
            label: A
            colour: blue
        """)
    )
    assert err.line == 7
    assert "unknown key 'colour' in field 'a'" in err.detail


def test_duplicate_field_names() -> None:
    err = refused(
        one_field("""
          - name: a
            type: text
            label: A
          - name: a
            type: date
            label: Again
        """)
    )
    assert err.line == 7
    assert err.detail == "field name 'a' is used twice in form 'f' (first on line 4)"


def test_duplicate_names_in_a_group_row() -> None:
    err = refused(
        one_field("""
          - name: g
            type: group
            label: G
            fields:
              - {name: x, type: text, label: X}
              - {name: x, type: text, label: X}
        """)
    )
    assert err.line == 9
    assert "field name 'x' is used twice in group 'g'" in err.detail


@pytest.mark.parametrize("name", ["Outcome", "1st", "next-step", "in", "not", "_x"])
def test_bad_field_names(name: str) -> None:
    err = refused(
        one_field(f"""
          - type: text
            label: A
            name: "{name}"
        """)
    )
    assert err.line == 6
    assert f"field name '{name}' must be lower case letters" in err.detail


def test_field_without_name() -> None:
    err = refused(
        one_field("""
          - type: text
            label: A
        """)
    )
    assert err.line == 4
    assert err.detail == "a field has no name"


def test_field_that_is_not_a_mapping() -> None:
    err = refused("id: f\ntitle: T\nfields:\n  - just text\n")
    assert err.line == 4
    assert "must be a mapping with name, type and label" in err.detail


def test_unknown_type_suggests() -> None:
    err = refused(
        one_field("""
          - name: a
            label: A
            type: dat
        """)
    )
    assert err.line == 6
    assert err.detail == "type 'dat' of field 'a' is not known; did you mean 'date'?"


def test_missing_type_and_label() -> None:
    err = refused(one_field("  - {name: a, label: A}"))
    assert (err.line, err.detail) == (4, "field 'a' has no type")
    err = refused(one_field("  - {name: a, type: text}"))
    assert (err.line, err.detail) == (4, "field 'a' has no label")


def test_choice_without_options_or_codelist() -> None:
    err = refused(
        one_field("""
          - name: a
            label: A
            type: choice
        """)
    )
    assert err.line == 6
    assert err.detail == "field 'a' is a choice question with no options or codelist"


def test_choice_with_options_and_codelist() -> None:
    err = refused(
        one_field("""
          - name: a
            type: multichoice
            label: A
            options: [{value: x, label: X}]
            codelist: contact_outcome
        """)
    )
    assert err.line == 8
    assert err.detail == "field 'a' has both options and codelist; use one"


def test_unknown_codelist_suggests() -> None:
    err = refused(
        one_field("""
          - name: a
            type: choice
            label: A
            codelist: contact_outcomes
        """)
    )
    assert err.line == 7
    assert err.detail == (
        "code list 'contact_outcomes' of field 'a' is not known; did you mean 'contact_outcome'?"
    )


def test_duplicate_option_and_option_without_label() -> None:
    err = refused(
        one_field("""
          - name: a
            type: choice
            label: A
            options:
              - {value: x, label: X}
              - {value: x, label: Y}
        """)
    )
    assert err.line == 9
    assert err.detail == "option 'x' of field 'a' appears twice"
    err = refused(
        one_field("""
          - name: a
            type: choice
            label: A
            options:
              - {value: x}
        """)
    )
    assert err.line == 8
    assert err.detail == "option 'x' of field 'a' has no label"


def test_setting_for_another_type() -> None:
    err = refused(
        one_field("""
          - name: a
            type: text
            label: A
            not_future: true
        """)
    )
    assert err.line == 7
    assert err.detail == "not_future does not apply to field 'a': only to date questions"


def test_unknown_record_item_suggests() -> None:
    err = refused(
        one_field("""
          - name: a
            type: date
            label: A
            record: assessment.authorized
        """)
    )
    assert err.line == 7
    assert err.detail == (
        "record item 'assessment.authorized' of field 'a' is not known; "
        "did you mean 'assessment.authorised'?"
    )


@pytest.mark.parametrize(
    ("ftype", "item", "holds", "wanted"),
    [
        ("text", "assessment.authorised", "a date", "date"),
        ("date", "referral.nfa", "yes or no", "yesno"),
        ("multichoice", "closure.reason", "one code from 'closure_reason'", "choice"),
        ("choice", "assessment.factors", "codes from 'assessment_factors'", "multichoice"),
        ("textarea", "child.upn", "text", "text"),
        ("number", "child.upn", "text", "text"),
    ],
)
def test_record_item_type_must_match(ftype: str, item: str, holds: str, wanted: str) -> None:
    extra = "codelist: contact_outcome" if ftype in ("choice", "multichoice") else ""
    err = refused(
        one_field(f"""
          - name: a
            type: {ftype}
            label: A
            record: {item}
            {extra}
        """)
    )
    assert err.line == 7
    assert err.detail == (
        f"field 'a' is a {ftype} question, but record item '{item}' holds {holds}; "
        f"use type: {wanted}"
    )


def test_code_item_needs_its_own_codelist() -> None:
    err = refused(
        one_field("""
          - name: a
            type: choice
            label: A
            codelist: contact_outcome
            record: closure.reason
        """)
    )
    assert err.line == 8
    assert err.detail == (
        "field 'a' uses code list 'contact_outcome', but record item 'closure.reason' holds "
        "codes from 'closure_reason'; use codelist: closure_reason"
    )


def test_code_item_inline_options_must_be_its_codes() -> None:
    err = refused(
        one_field("""
          - name: a
            type: multichoice
            label: A
            record: assessment.factors
            options:
              - {value: 21, label: None}
              - {value: 99, label: Made up}
        """)
    )
    assert err.line == 8
    assert err.detail == (
        "options '99' of field 'a' are not codes of 'assessment_factors', which record item "
        "'assessment.factors' holds"
    )


def test_group_cannot_fill_the_record() -> None:
    err = refused(
        one_field("""
          - name: g
            type: group
            label: G
            record: cp_plan.review
            fields:
              - {name: d, type: date, label: D}
        """)
    )
    assert err.line == 7
    assert err.detail == "field 'g' is a group; a group cannot fill a record item"


def test_groups_cannot_nest() -> None:
    err = refused(
        one_field("""
          - name: g
            type: group
            label: G
            fields:
              - name: inner
                type: group
                label: Inner
                fields:
                  - {name: d, type: date, label: D}
        """)
    )
    assert err.line == 9
    assert err.detail == "field 'inner' is a group inside a group; groups cannot nest"


def test_group_without_fields() -> None:
    err = refused(one_field("  - {name: g, type: group, label: G}"))
    assert err.line == 4
    assert err.detail == "group field 'g' has no fields"


def test_show_if_reads_a_later_field() -> None:
    err = refused(
        one_field("""
          - name: closure_reason
            type: choice
            label: Reason
            codelist: closure_reason
            show_if: outcome == 'close'
          - name: outcome
            type: choice
            label: Outcome
            options: [{value: close, label: Close}]
        """)
    )
    assert err.line == 8
    assert err.detail == "show_if reads 'outcome', which is not a field before 'closure_reason'"


def test_show_if_reads_itself_or_unknown_names() -> None:
    err = refused(
        one_field("""
          - name: a
            type: text
            label: A
            show_if: a == 'x'
        """)
    )
    assert err.line == 7
    assert err.detail == "show_if reads 'a', which is not a field before 'a'"


@pytest.mark.parametrize(
    "source",
    ["__import__('os').system('true')", "a.__class__", "[x for x in a]", "lambda: 1"],
)
def test_show_if_unsafe(source: str) -> None:
    err = refused(
        one_field(f"""
          - name: a
            type: text
            label: A
          - name: b
            type: text
            label: B
            show_if: "{source}"
        """)
    )
    assert err.line == 10
    assert err.detail.startswith("show_if of field 'b' is refused: ")


def test_show_if_in_a_group_row_reads_earlier_row_and_form_fields() -> None:
    form = parse(
        one_field("""
          - name: kind
            type: choice
            label: Kind
            options: [{value: home, label: Home visit}, {value: office, label: Office}]
          - name: visits
            type: group
            label: Visits
            fields:
              - {name: seen, type: yesno, label: Child seen}
              - {name: why, type: text, label: Why not, show_if: "not seen and kind == 'home'"}
        """)
    )
    why = form.field("visits").fields[1]
    assert why.show_if is not None and why.show_if.names == {"seen", "kind"}
    err = refused(
        one_field("""
          - name: visits
            type: group
            label: Visits
            fields:
              - {name: why, type: text, label: Why not, show_if: "after == 1"}
          - {name: after, type: number, label: After}
        """)
    )
    assert err.line == 8
    assert err.detail == "show_if reads 'after', which is not a field before 'why'"


@pytest.mark.parametrize(
    ("target", "why"),
    [("later", "later"), ("note", "note"), ("nowhere", "nowhere"), ("d", "d")],
)
def test_not_before_must_name_referral_or_an_earlier_date(target: str, why: str) -> None:
    err = refused(
        one_field(f"""
          - {{name: note, type: text, label: Note}}
          - name: d
            type: date
            label: D
            not_before: {target}
          - {{name: later, type: date, label: Later}}
        """)
    )
    assert err.line == 8
    assert err.detail == (
        f"not_before of field 'd' names '{why}', which is not 'referral' or a date field before 'd'"
    )


def test_min_more_than_max() -> None:
    err = refused(
        one_field("""
          - name: n
            type: number
            label: N
            max: 2
            min: 5
        """)
    )
    assert err.line == 8
    assert err.detail == "min of field 'n' is more than its max"


def test_text_length_must_be_whole() -> None:
    err = refused(
        one_field("""
          - name: t
            type: text
            label: T
            max: 2.5
        """)
    )
    assert err.line == 7
    assert err.detail == "max of field 't' must be a whole number, 0 or more"


def test_required_must_be_a_flag() -> None:
    err = refused(
        one_field("""
          - name: t
            type: text
            label: T
            required: "yes please"
        """)
    )
    assert err.line == 7
    assert err.detail == "required of field 't' must be true or false"


def test_unknown_error_override() -> None:
    err = refused(
        one_field("""
          - name: t
            type: text
            label: T
            errors:
              required: Enter T
              reqired: Enter T again
        """)
    )
    assert err.line == 9
    assert err.detail == "unknown key 'reqired' in errors of field 't'; did you mean 'required'?"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("type: date\n    example: soon", "T must be a real date"),
        ("type: date\n    example: '2025-02-30'", "T must be a real date"),
        ("type: number\n    max: 3\n    example: 4", "T must be 3 or less"),
        (
            "type: choice\n    codelist: contact_outcome\n    example: Z",
            "Select the t from the list",
        ),
        ("type: yesno\n    example: maybe", "Select yes or no for the t"),
        (
            "type: multichoice\n    codelist: contact_outcome\n    example: [A, A]",
            "Select each option for the t only once",
        ),
        ("type: text\n    required: true\n    example: '  '", "Enter the t"),
    ],
)
def test_example_must_be_a_valid_answer(body: str, problem: str) -> None:
    err = refused("id: f\ntitle: F\nfields:\n  - name: t\n    label: T\n    " + body + "\n")
    assert err.line == 5 + body.count("\n") + 1
    assert err.detail == f"example of field 't' is not a valid answer: {problem}"


def test_group_example_rows_are_checked() -> None:
    err = refused(
        one_field("""
          - name: visits
            type: group
            label: Visits
            max: 1
            fields:
              - {name: d, type: date, label: Date of visit, required: true}
            example:
              - {}
        """)
    )
    assert err.line == 10
    assert err.detail == (
        "example of field 'visits' is not a valid answer (visits.0.d): Enter the date of visit"
    )
    err = refused(
        one_field("""
          - name: visits
            type: group
            label: Visits
            max: 1
            fields:
              - {name: d, type: date, label: Date of visit}
            example: [{d: 2025-01-01}, {d: 2025-01-02}]
        """)
    )
    assert err.line == 10
    assert err.detail == (
        "example of field 'visits' is not a valid answer: Visits must have 1 entry or fewer"
    )


def test_plain_dicts_work_without_lines() -> None:
    data = {"id": "f", "title": "F", "fields": [{"name": "a", "type": "text", "label": "A"}]}
    form = parse_form(data, "forms/f.yaml", {})
    assert form.line == 0 and form.fields[0].line == 0
    with pytest.raises(PackError) as caught:
        parse_form({"id": "f", "title": "F"}, "forms/f.yaml", {})
    assert caught.value.line is None
    assert str(caught.value) == "forms/f.yaml: form 'f' has no fields"
