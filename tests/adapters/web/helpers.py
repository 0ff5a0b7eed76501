"""Rendering a form page as the web app does, and reading the HTML back like a browser."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import lxml.html
from jinja2 import ChoiceLoader, Environment, PackageLoader, PrefixLoader
from werkzeug.datastructures import MultiDict

from carepath.adapters.packs import PackRegistry
from carepath.adapters.web.forms import FormPage
from carepath.core.codes import STATUTORY_CODELISTS
from carepath.core.yamlsource import load_yaml
from carepath.engine.intake import intake_form
from carepath.forms.loader import parse_form
from carepath.forms.schema import Form
from carepath.forms.validation import ValidationContext

PACKS = ("ics2010", "wt2023")

ENV = Environment(
    loader=ChoiceLoader([
        PackageLoader("carepath.adapters.web", "templates"),
        PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
    ]),
    autoescape=True,
)
PAGE = ENV.from_string(
    '{% from "components/form_fields.html" import error_summary, form_guidance, form_fields %}'
    "<main>{{ error_summary(page) }}{{ form_guidance(page) }}"
    '<form method="post" action="/x" novalidate>{{ form_fields(page) }}'
    '<button class="govuk-button" name="_continue">Continue</button></form></main>'
)

TODAY = date(2030, 1, 1)


def ctx(**names: Any) -> ValidationContext:
    return ValidationContext(today=TODAY, names=names)


def render(page: FormPage) -> str:
    return PAGE.render(page=page)


def doc(html: str) -> Any:
    return lxml.html.fromstring(html)


def ids(html: str) -> list[str]:
    return [str(e.get("id")) for e in doc(html).xpath("//*[@id]")]


def assert_unique_ids(html: str) -> None:
    twice = [i for i, n in Counter(ids(html)).items() if n > 1]
    assert not twice, f"duplicate ids: {twice}"


def browser_post(html: str, button: tuple[str, str] | None = None) -> MultiDict[str, str]:
    """What a browser sends for the page's form as it stands (plus the button pressed)."""
    form = doc(html).xpath("//form")[0]
    pairs = [(k, v) for k, v in form.form_values() if not k.startswith("_")]
    if button is not None:
        pairs.append(button)
    return MultiDict(pairs)


def every_pack_form() -> list[tuple[str, Form]]:
    registry = PackRegistry()
    forms = [(f"intake/{name}", intake_form(name)) for name in ("child", "referral")]
    for pack_name in PACKS:
        pack = registry.get(pack_name)
        forms += [(f"{pack_name}/{form_id}", form) for form_id, form in sorted(pack.forms.items())]
    return forms


# Every field type, a group with a show_if inside its rows, a text field with no example.
ALL_TYPES_YAML = """
id: all_types
title: Every kind of question
guidance: |
  First paragraph.

  Second paragraph.
fields:
  - {name: name, type: text, label: Name of the professional, required: true, max: 50,
     example: Sam}
  - {name: notes, type: textarea, label: Notes, guidance: Longer help., example: Some notes}
  - {name: summary, type: textarea, label: Summary, max: 100}
  - {name: visited, type: date, label: Date of the visit, required: true, not_future: true,
     example: 2025-03-27}
  - {name: count, type: number, label: Number of visits, min: 0, max: 50, example: 3}
  - {name: seen, type: yesno, label: "Was the child seen?", required: true, example: true}
  - name: outcome
    type: choice
    label: Outcome
    required: true
    options:
      - {value: close, label: Close}
      - {value: plan, label: Plan}
    example: plan
  - {name: reason, type: choice, label: Reason for closure, codelist: closure_reason,
     required: true, show_if: "outcome == 'close'", example: RC1}
  - {name: ethnicity, type: choice, codelist: ethnicity, label: Ethnicity, example: WBRI}
  - {name: factors, type: multichoice, codelist: assessment_factors, label: Factors,
     example: ["3B", "4B"]}
  - name: kinds
    type: multichoice
    label: Kinds of contact
    options:
      - {value: phone, label: Phone}
      - {value: visit, label: Visit}
    example: [visit]
  - name: visits
    type: group
    label: Visits
    hint: Each visit to the child
    max: 3
    fields:
      - {name: when, type: date, label: Date of visit, required: true, example: 2025-05-06}
      - {name: alone, type: yesno, label: "Seen alone?", required: true, example: false}
      - {name: why_not, type: textarea, label: Why not alone, show_if: "not alone",
         required: true, example: Asleep}
      - name: who
        type: multichoice
        label: Who was there
        options:
          - {value: mother, label: Mother}
          - {value: father, label: Father}
        example: [mother]
"""


def all_types_form() -> Form:
    return parse_form(load_yaml(ALL_TYPES_YAML, "all_types.yaml"), "all_types.yaml",
                      STATUTORY_CODELISTS)
