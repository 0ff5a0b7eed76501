"""A submitted page back into answers: every field type, bad dates, buttons, hidden answers."""

from __future__ import annotations

import json
from datetime import date

import pytest
from werkzeug.datastructures import MultiDict

from carepath.adapters.web.forms import (
    Intent,
    SubmissionError,
    build_page,
    parse_submission,
    raw_from_values,
)
from carepath.forms.schema import Form
from carepath.forms.validation import FormErrors, example_values, validate

from .helpers import all_types_form, browser_post, ctx, every_pack_form, render

FORMS = every_pack_form()


def cleaned_or_errors(form: Form, values: dict[str, object]) -> object:
    try:
        return validate(form, values, ctx())
    except FormErrors as exc:
        return exc.errors


@pytest.mark.parametrize(("name", "form"), [*FORMS, ("all_types", all_types_form())],
                         ids=[*(n for n, _ in FORMS), "all_types"])
def test_a_page_sent_back_as_shown_gives_the_same_answers(name: str, form: Form) -> None:
    examples = example_values(form)
    html = render(build_page(form, raw_from_values(form, examples), ctx()))
    sent = parse_submission(form, browser_post(html), ctx())
    assert sent.intent == Intent("submit")
    assert cleaned_or_errors(form, sent.values) == cleaned_or_errors(form, examples)
    # what is shown again (a draft) is JSON, and shows the same page
    again = render(build_page(form, json.loads(json.dumps(sent.raw)), ctx()))
    assert again == html


def post(**fields: str | list[str]) -> MultiDict[str, str]:
    pairs: list[tuple[str, str]] = []
    for name, value in fields.items():
        for v in value if isinstance(value, list) else [value]:
            pairs.append((name, v))
    return MultiDict(pairs)


def test_each_field_type_as_validation_takes_it() -> None:
    form = all_types_form()
    sent = parse_submission(form, post(**{
        "name": " Sam ", "notes": "a\r\nb", "summary": "", "visited-day": "27",
        "visited-month": "3", "visited-year": "2025", "count": "4", "seen": "no",
        "outcome": "plan", "ethnicity": "", "factors": ["3B", "4B"], "visits-rows": "1",
        "visits-0-when-day": "6", "visits-0-when-month": "5", "visits-0-when-year": "2025",
        "visits-0-alone": "yes", "visits-0-who": ["mother", "father"]}), ctx())
    assert sent.values == {
        "name": " Sam ", "notes": "a\r\nb", "visited": "2025-03-27", "count": "4",
        "seen": "no", "outcome": "plan", "factors": ["3B", "4B"],
        "visits": [{"when": "2025-05-06", "alone": "yes", "who": ["mother", "father"]}],
    }
    cleaned = validate(form, sent.values, ctx())
    assert cleaned["visited"] == date(2025, 3, 27) and cleaned["seen"] is False
    assert cleaned["count"] == 4 and cleaned["name"] == "Sam" and cleaned["notes"] == "a\nb"
    assert cleaned["visits"][0]["when"] == date(2025, 5, 6)
    assert sent.raw["visited"] == {"day": "27", "month": "3", "year": "2025"}
    assert sent.raw["ethnicity"] == "" and sent.raw["kinds"] == []


@pytest.mark.parametrize(
    ("parts", "page_says"),
    [
        (("31", "", "2025"), "Date of the visit must include a month"),
        (("31", "2", "2025"), "Date of the visit must be a real date"),
        (("x", "2", "2025"), "Date of the visit must be a real date"),
        (("2025-03-27", "", ""), "Date of the visit must include a month and year"),
        (("1", "3", "25"), "Year must include 4 numbers"),
    ],
)
def test_a_bad_date_is_a_validation_error_on_the_date_with_its_parts_kept(
        parts: tuple[str, str, str], page_says: str) -> None:
    form = all_types_form()
    day, month, year = parts
    sent = parse_submission(form, post(**{"visited-day": day, "visited-month": month,
                                          "visited-year": year}), ctx())
    assert sent.raw["visited"] == {"day": day, "month": month, "year": year}
    with pytest.raises(FormErrors) as refused:
        validate(form, sent.values, ctx())
    assert refused.value.by_field()["visited"] == "Date of the visit must be a real date"
    page = build_page(form, sent.raw, ctx(), refused.value.errors)
    said = [e for e in page.error_list if e["href"].startswith("#visited-")]
    assert [e["text"] for e in said] == [page_says]
    html = render(page)
    assert f'value="{day}"' in html


def test_a_date_left_empty_is_no_answer() -> None:
    form = all_types_form()
    sent = parse_submission(form, post(**{"visited-day": " ", "visited-month": "",
                                          "visited-year": ""}), ctx())
    assert "visited" not in sent.values
    with pytest.raises(FormErrors) as refused:
        validate(form, sent.values, ctx())
    assert refused.value.by_field()["visited"] == "Enter the date of the visit"


def test_hidden_questions_answers_are_dropped() -> None:
    form = all_types_form()
    sent = parse_submission(form, post(**{
        "outcome": "plan", "reason": "RC1", "visits-rows": "2",
        "visits-0-alone": "yes", "visits-0-why_not": "kept?",
        "visits-1-alone": "no", "visits-1-why_not": "Asleep"}), ctx())
    assert "reason" not in sent.values
    assert sent.values["visits"] == [{"alone": "yes"}, {"alone": "no", "why_not": "Asleep"}]
    shown = parse_submission(form, post(outcome="close", reason="RC1"), ctx())
    assert shown.values["reason"] == "RC1"


@pytest.mark.parametrize(
    ("button", "intent"),
    [
        (("_save_draft", ""), Intent("save_draft")),
        (("_refresh", "1"), Intent("refresh")),
        (("_continue", ""), Intent("submit")),
        (("_add", "visits"), Intent("add", "visits")),
        (("_remove", "visits:0"), Intent("remove", "visits", 0)),
    ],
)
def test_buttons(button: tuple[str, str], intent: Intent) -> None:
    form = all_types_form()
    data = post(**{"visits-rows": "1", "visits-0-alone": "no"})
    data.add(*button)
    sent = parse_submission(form, data, ctx())
    assert sent.intent == intent
    assert sent.intent.validates is (intent.kind == "submit")


def test_add_and_remove_rows() -> None:
    form = all_types_form()
    html = render(build_page(form, {}, ctx()))
    sent = parse_submission(form, browser_post(html, ("_add", "visits")), ctx())
    assert sent.raw["visits"] == [{}]
    html = render(build_page(form, sent.raw, ctx()))
    data = browser_post(html, ("_add", "visits"))
    data["visits-0-alone"] = "no"
    data["visits-0-when-day"] = "6"
    sent = parse_submission(form, data, ctx())
    assert len(sent.raw["visits"]) == 2 and sent.raw["visits"][0]["alone"] == "no"
    html = render(build_page(form, sent.raw, ctx()))
    assert 'name="visits-1-when-day"' in html and 'value="6"' in html
    # remove the first: the second moves up
    data = browser_post(html, ("_remove", "visits:0"))
    data["visits-1-alone"] = "yes"
    sent = parse_submission(form, data, ctx())
    assert len(sent.raw["visits"]) == 1
    assert sent.raw["visits"][0]["when"] == {"day": "", "month": "", "year": ""}
    assert sent.raw["visits"][0]["alone"] == "yes"
    html = render(build_page(form, sent.raw, ctx()))
    assert 'name="visits-1-alone"' not in html
    assert 'name="visits-0-alone" type="radio" value="yes" checked' in html


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"_add": "nope"}, "no list of entries called 'nope'"),
        ({"_add": "name"}, "no list of entries called 'name'"),
        ({"_remove": "visits:x", "visits-rows": "1"}, "not one this page shows"),
        ({"_remove": "visits:3", "visits-rows": "1"}, "not one this page shows"),
        ({"visits-rows": "many"}, "number of rows"),
        ({"visits-rows": "100000"}, "number of rows"),
        ({"_add": "visits", "visits-rows": "3"}, "as many entries as it may have"),
    ],
)
def test_what_no_page_sends_is_refused(data: dict[str, str], problem: str) -> None:
    with pytest.raises(SubmissionError, match=problem):
        parse_submission(all_types_form(), MultiDict(data), ctx())


def test_raw_from_values_takes_cleaned_answers() -> None:
    form = all_types_form()
    cleaned = validate(form, example_values(form), ctx())
    raw = raw_from_values(form, cleaned)
    assert raw["visited"] == {"day": "27", "month": "3", "year": "2025"}
    assert raw["seen"] == "yes" and raw["count"] == "3"
    assert raw["visits"][0]["alone"] == "no"
    assert "reason" not in raw
    assert raw_from_values(form, {"visited": "not a date"})["visited"] == \
        {"day": "", "month": "", "year": ""}
