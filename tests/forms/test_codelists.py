"""parse_codelist: a pack's own code lists, and the errors with their line numbers."""

from __future__ import annotations

import textwrap

import pytest

from carepath.core.codes import Code, Codelist
from carepath.core.errors import PackError
from carepath.core.yamlsource import load_yaml
from carepath.forms.codelists import STATUTORY_IDS, parse_codelist

FILE = "codelists/contact_outcome.yaml"

GOOD = """\
id: contact_outcome
title: Contact outcome
codes:
  - {code: A, label: Advice and information}
  - {code: R, label: Referral to children's social care}
  - {code: 7, label: Seven}
"""


def parse(text: str, **kwargs: object) -> Codelist:
    return parse_codelist(load_yaml(textwrap.dedent(text), FILE), FILE, **kwargs)  # type: ignore[arg-type]


def refused(text: str, **kwargs: object) -> PackError:
    with pytest.raises(PackError) as caught:
        parse(text, **kwargs)
    assert caught.value.file == FILE
    return caught.value


def test_good_codelist() -> None:
    codelist = parse(GOOD, reserved={"sex"}, expected_id="contact_outcome")
    assert codelist == Codelist(
        "contact_outcome",
        "Contact outcome",
        (
            Code("A", "Advice and information"),
            Code("R", "Referral to children's social care"),
            Code("7", "Seven"),
        ),
        statutory=False,
    )
    assert "7" in codelist and 7 not in codelist
    assert codelist.label("R") == "Referral to children's social care"


def test_statutory_ids_are_reserved_by_default() -> None:
    assert {"sex", "closure_reason", "assessment_factors"} <= STATUTORY_IDS
    err = refused("title: Sex\nid: sex\ncodes: [{code: M, label: Male}]\n")
    assert err.line == 2
    assert err.detail.startswith("code list 'sex' is a built-in statutory list")


def test_reserved_ids_passed_in() -> None:
    err = refused(GOOD, reserved={"contact_outcome"})
    assert err.line == 1
    assert "a pack cannot redefine it" in err.detail
    assert parse(GOOD.replace("contact_outcome", "sex"), reserved=()).id == "sex"


def test_not_a_mapping() -> None:
    err = refused("- a\n- b\n")
    assert err.line == 1
    assert err.detail == "a code list must be a mapping with id, title and codes"


def test_missing_id_title_codes() -> None:
    err = refused("\ntitle: T\ncodes: [{code: A, label: A}]\n")
    assert (err.line, err.detail) == (2, "the code list has no id")
    err = refused("id: x\ncodes: [{code: A, label: A}]\n")
    assert (err.line, err.detail) == (1, "code list 'x' has no title")
    err = refused("id: x\ntitle: X\n")
    assert (err.line, err.detail) == (1, "code list 'x' has no codes")
    err = refused("id: x\ntitle: X\ncodes: []\n")
    assert (err.line, err.detail) == (3, "codes of code list 'x' must be a list of {code, label}")


def test_bad_id_and_expected_id() -> None:
    err = refused("title: X\nid: Contact-Outcome\ncodes: [{code: A, label: A}]\n")
    assert err.line == 2
    assert "code list id 'Contact-Outcome' must be lower case" in err.detail
    err = refused(GOOD, expected_id="outcomes")
    assert err.line == 1
    assert err.detail == (
        "code list id 'contact_outcome' does not match its file name (expected 'outcomes')"
    )


def test_unknown_keys_suggest() -> None:
    err = refused("id: x\ntitle: X\ncode:\n  - {code: A, label: A}\n")
    assert err.line == 3
    assert err.detail == "unknown key 'code' in the code list; did you mean 'codes'?"
    err = refused("id: x\ntitle: X\ncodes:\n  - {code: A, lable: A}\n")
    assert err.line == 4
    assert err.detail == "unknown key 'lable' in a code of code list 'x'; did you mean 'label'?"


def test_bad_codes() -> None:
    err = refused("id: x\ntitle: X\ncodes:\n  - {code: A, label: A}\n  - {code: A, label: B}\n")
    assert (err.line, err.detail) == (5, "code 'A' appears twice in code list 'x'")
    err = refused("id: x\ntitle: X\ncodes:\n  - {label: A}\n")
    assert err.line == 4
    assert err.detail == "a code of code list 'x' needs a code (text or a whole number)"
    err = refused("id: x\ntitle: X\ncodes:\n  - {code: A}\n")
    assert (err.line, err.detail) == (4, "code 'A' of code list 'x' has no label")
    err = refused("id: x\ntitle: X\ncodes:\n  - A\n")
    assert err.line == 4
    assert err.detail == "each code of code list 'x' must be a mapping with code and label"
    err = refused("id: x\ntitle: X\ncodes:\n  - {code: true, label: Yes}\n")
    assert err.line == 4
