"""Every pack form as a GOV.UK page: components, values kept, errors linked, conditions."""

from __future__ import annotations

import pytest

from carepath.adapters.web.forms import build_page, preview_page, raw_from_values
from carepath.core.record_items import RECORD_NAMESPACES
from carepath.forms.schema import FieldType, Form
from carepath.forms.validation import FormErrors, example_values, validate

from .helpers import (
    all_types_form,
    assert_unique_ids,
    ctx,
    doc,
    every_pack_form,
    ids,
    render,
)

FORMS = every_pack_form()


def record_names(open_: bool) -> dict[str, dict[str, object]]:
    """A record context in which every plan, enquiry and assessment is open (or not)."""
    return {ns: {"open": open_} for ns in RECORD_NAMESPACES}


def test_both_packs_have_forms() -> None:
    packs = {name.split("/")[0] for name, _ in FORMS}
    assert packs == {"intake", "ics2010", "wt2023"}
    assert len(FORMS) > 25


def check_page_html(form: Form, html: str, names: set[str]) -> None:
    assert_unique_ids(html)
    tree = doc(html)
    present = set(ids(html))
    for label in tree.xpath("//label[@for]"):
        assert label.get("for") in present, label.get("for")
    for element in tree.xpath("//*[@aria-describedby]"):
        for ref in element.get("aria-describedby").split():
            assert ref in present, ref
    sent = {e.get("name") for e in tree.xpath("//input|//textarea|//select")}
    for name in names:
        f = form.field(name)
        if f.type is FieldType.DATE:
            assert {f"{name}-day", f"{name}-month", f"{name}-year"} <= sent
        elif f.type is FieldType.GROUP:
            assert f"{name}-rows" in sent
        else:
            assert name in sent, name


@pytest.mark.parametrize(("name", "form"), FORMS, ids=[n for n, _ in FORMS])
@pytest.mark.parametrize("open_", [True, False], ids=["open", "closed"])
def test_every_form_renders_every_question_asked(name: str, form: Form, open_: bool) -> None:
    context = ctx(**record_names(open_))
    for raw in ({}, raw_from_values(form, example_values(form))):
        page = build_page(form, raw, context)
        html = render(page)
        asked = {v.name for v in page.fields}
        assert asked, name
        check_page_html(form, html, asked)
        assert "There is a problem" not in html


@pytest.mark.parametrize(("name", "form"), FORMS, ids=[n for n, _ in FORMS])
def test_every_form_previews_every_field_disabled(name: str, form: Form) -> None:
    page = preview_page(form)
    assert [v.name for v in page.fields] == form.names()
    html = render(page)
    check_page_html(form, html, set(form.names()))
    tree = doc(html)
    controls = tree.xpath("//input[not(@type='hidden')]|//textarea|//select")
    assert controls and all(c.get("disabled") is not None for c in controls)
    assert not tree.xpath("//button[@name='_refresh' or @name='_add' or @name='_remove']")
    conditional = [f for f in form.fields if f.show_if is not None]
    for f in conditional:
        assert f"Asked only when: {f.show_if.source}" in " ".join(tree.itertext())  # type: ignore[union-attr]


@pytest.mark.parametrize(("name", "form"), FORMS, ids=[n for n, _ in FORMS])
@pytest.mark.parametrize("open_", [True, False], ids=["open", "closed"])
def test_error_summary_links_to_each_field_with_an_error(name: str, form: Form,
                                                         open_: bool) -> None:
    context = ctx(**record_names(open_))
    with pytest.raises(FormErrors) as refused:
        validate(form, {}, context)
    page = build_page(form, {}, context, refused.value.errors)
    html = render(page)
    assert_unique_ids(html)
    present = set(ids(html))
    links = doc(html).xpath("//div[contains(@class,'govuk-error-summary')]//a")
    assert len(links) == len(refused.value.by_field())
    for link in links:
        assert link.get("href")[1:] in present, link.get("href")
    # each error is also inline, with GOV.UK's hidden "Error:" before it
    inline = doc(html).xpath("//p[contains(@class,'govuk-error-message')]")
    assert len(inline) == len(links)
    assert all("Error:" in "".join(p.itertext()) for p in inline)
    assert page.has_errors


def test_all_types_render_with_the_right_component() -> None:
    form = all_types_form()
    page = build_page(form, raw_from_values(form, example_values(form)), ctx())
    kinds = {v.name: v.kind for v in page.fields}
    assert kinds == {
        "name": "input", "notes": "textarea", "summary": "character_count",
        "visited": "date", "count": "input", "seen": "radios", "outcome": "radios",
        "ethnicity": "select", "factors": "checkboxes", "kinds": "checkboxes",
        "visits": "group",
    }  # reason: hidden (outcome is 'plan')
    html = render(page)
    check_page_html(form, html, set(kinds))
    tree = doc(html)
    assert tree.xpath("//input[@name='name']/@value") == ["Sam"]
    assert tree.xpath("//textarea[@name='notes']/text()")[0].strip() == "Some notes"
    assert tree.xpath("//input[@name='count']/@inputmode") == ["decimal"]
    assert tree.xpath("//select[@name='ethnicity']/option[@selected]/@value") == ["WBRI"]
    assert tree.xpath("//input[@name='seen'][@checked]/@value") == ["yes"]
    assert tree.xpath("//input[@name='outcome'][@checked]/@value") == ["plan"]
    assert tree.xpath("//input[@name='kinds'][@checked]/@value") == ["visit"]
    assert sorted(tree.xpath("//input[@name='factors'][@checked]/@value")) == ["3B", "4B"]
    # "No factors identified" comes last, after "or", and unticks the others
    last = tree.xpath("//input[@name='factors']")[-1]
    assert last.get("value") == "21" and last.get("data-behaviour") == "exclusive"
    assert tree.xpath("//div[@class='govuk-checkboxes__divider']/text()") == ["or"]
    # a row of the group with its own fields
    assert tree.xpath("//input[@name='visits-rows']/@value") == ["1"]
    assert tree.xpath("//input[@name='visits-0-when-year']/@value") == ["2025"]
    assert tree.xpath("//input[@name='visits-0-alone'][@checked]/@value") == ["no"]
    assert tree.xpath("//textarea[@name='visits-0-why_not']/text()")[0].strip() == "Asleep"
    assert tree.xpath("//input[@name='visits-0-who'][@checked]/@value") == ["mother"]
    # guidance: the form's as paragraphs, a field's in "Help with this question"
    assert [p.text for p in tree.xpath("//main/p[@class='govuk-body']")] == [
        "First paragraph.", "Second paragraph."]
    assert "Help with this question" in html and "Longer help." in html
    # optional questions say so; required ones do not
    labels = [" ".join(e.text_content().split()) for e in tree.xpath("//label|//legend")]
    assert "Notes (optional)" in labels and "Name of the professional" in labels
    # the character count's no-JavaScript message
    assert "You can enter up to 100 characters" in html


def test_date_parts_are_kept_as_typed_and_the_wrong_part_is_marked() -> None:
    form = all_types_form()
    raw = {"visited": {"day": "31", "month": "", "year": "2025"}, "outcome": "close"}
    page = build_page(form, raw, ctx(), {"visited": "Date of the visit must be a real date"})
    html = render(page)
    tree = doc(html)
    assert tree.xpath("//input[@name='visited-day']/@value") == ["31"]
    assert tree.xpath("//input[@name='visited-month']/@value") == [""]
    assert tree.xpath("//input[@name='visited-year']/@value") == ["2025"]
    month = tree.xpath("//input[@name='visited-month']")[0]
    assert "govuk-input--error" in month.get("class")
    assert "govuk-input--error" not in tree.xpath("//input[@name='visited-day']")[0].get("class")
    link = tree.xpath("//div[contains(@class,'govuk-error-summary')]//a")[0]
    assert link.get("href") == "#visited-month"
    assert link.text.strip() == "Date of the visit must include a month"


@pytest.mark.parametrize(
    ("parts", "message", "marked"),
    [
        (("", "", "2025"), "Date of the visit must include a day and month", ["day", "month"]),
        (("31", "2", "2025"), "Date of the visit must be a real date", ["day", "month", "year"]),
        (("1", "13", "2025"), "Date of the visit must be a real date", ["month"]),
        (("1", "2", "25"), "Year must include 4 numbers", ["year"]),
        (("a", "2", "2025"), "Date of the visit must be a real date", ["day"]),
    ],
)
def test_date_problems_in_govuk_words(parts: tuple[str, str, str], message: str,
                                      marked: list[str]) -> None:
    from carepath.adapters.web.forms import date_problem

    f = all_types_form().field("visited")
    assert date_problem(f, dict(zip(("day", "month", "year"), parts, strict=True))) == \
        (message, marked)


def test_a_date_error_that_is_not_about_its_parts_marks_the_whole_date() -> None:
    form = all_types_form()
    raw = {"visited": {"day": "1", "month": "1", "year": "2031"}}
    page = build_page(form, raw, ctx(), {"visited": "Date of the visit must be today or in the "
                                                    "past"})
    tree = doc(render(page))
    assert all("govuk-input--error" in e.get("class")
               for e in tree.xpath("//input[starts-with(@name,'visited-')]"))
    assert tree.xpath("//div[contains(@class,'govuk-error-summary')]//a/@href") == \
        ["#visited-day"]


def test_show_if_question_is_absent_until_its_condition_holds() -> None:
    form = all_types_form()
    for raw, shown in (({}, False), ({"outcome": "plan"}, False), ({"outcome": "close"}, True)):
        page = build_page(form, raw, ctx())
        html = render(page)
        assert ("name=\"reason\"" in html) is shown
    # the question a show_if reads is followed by "Update the questions"
    tree = doc(render(build_page(form, {}, ctx())))
    buttons = tree.xpath("//button[@name='_refresh']")
    assert [b.text.strip() for b in buttons] == ["Update the questions"] * len(buttons)
    before = buttons[0].xpath("preceding::input[1]")[0]
    assert before.get("name") == "outcome"


def test_show_if_reading_the_record() -> None:
    form = dict(every_pack_form())["wt2023/close_case"]
    readers = [f for f in form.fields if f.show_if and "cin_plan" in f.show_if.names]
    assert readers
    for open_ in (True, False):
        names = {"cin_plan": {"open": open_}, "cp_plan": {"open": not open_}}
        page = build_page(form, {}, ctx(**names))
        asked = {v.name for v in page.fields}
        for f in readers:
            assert (f.name in asked) is bool(f.show_if.evaluate(names))  # type: ignore[union-attr]


def test_group_rows_and_their_buttons() -> None:
    form = all_types_form()
    raw = {"visits": [{}, {"alone": "yes"}]}
    tree = doc(render(build_page(form, raw, ctx())))
    removes = tree.xpath("//button[@name='_remove']")
    assert [b.get("value") for b in removes] == ["visits:0", "visits:1"]
    assert "Remove entry 2 from Visits" in " ".join(removes[1].text_content().split())
    add = tree.xpath("//button[@name='_add']")
    assert [(b.get("value"), b.get("id")) for b in add] == [("visits", "visits-add")]
    assert "Add another entry" in add[0].text_content()
    # the row answered "seen alone" asks no "why not"
    assert tree.xpath("//textarea[@name='visits-1-why_not']") == []
    # at the group's max (3) there is no "Add another"
    full = doc(render(build_page(form, {"visits": [{}, {}, {}]}, ctx())))
    assert full.xpath("//button[@name='_add']") == []
    empty = doc(render(build_page(form, {}, ctx())))
    assert empty.xpath("//input[@name='visits-rows']/@value") == ["0"]
    assert "Add an entry" in empty.xpath("//button[@name='_add']")[0].text_content()


def test_group_errors_link_to_the_add_button_and_to_row_fields() -> None:
    form = all_types_form()
    errors = {"visits": "Visits must have 1 entry or more",
              "visits.0.when": "Enter the date of visit"}
    html = render(build_page(form, {"visits": [{}]}, ctx(), errors))
    assert_unique_ids(html)
    tree = doc(html)
    hrefs = tree.xpath("//div[contains(@class,'govuk-error-summary')]//a/@href")
    assert hrefs == ["#visits-add", "#visits-0-when-day"]
    present = set(ids(html))
    assert all(h[1:] in present for h in hrefs)


def test_an_error_for_no_question_on_the_page_is_still_in_the_summary() -> None:
    page = build_page(all_types_form(), {}, ctx(), {"elsewhere": "Something went wrong"})
    assert {"text": "Something went wrong"} in page.error_list
    assert "Something went wrong" in render(page)


def test_values_are_escaped() -> None:
    form = all_types_form()
    html = render(build_page(form, {"name": "<script>alert(1)</script>"}, ctx()))
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_enter_in_a_text_box_submits_rather_than_removing_a_row() -> None:
    form = all_types_form()
    tree = doc(render(build_page(form, {"visits": [{}]}, ctx())))
    first = tree.xpath("//form//button")[0]
    assert first.get("name") is None and first.get("tabindex") == "-1"
    assert "govuk-visually-hidden" in first.get("class")
    plain = dict(every_pack_form())["wt2023/core_group"]
    page = build_page(plain, {}, ctx())
    assert not page.has_other_buttons
    assert doc(render(page)).xpath("//form//button/@name") == ["_continue"]
