"""Three-valued evaluation and the outcomes of a form."""

from __future__ import annotations

from typing import Any

import pytest

from carepath.core.codes import STATUTORY_CODELISTS
from carepath.core.expressions.evaluator import compile_expression
from carepath.core.yamlsource import load_yaml
from carepath.engine.check.symbolic import SET, UNKNOWN, evaluate, form_outcomes, truth
from carepath.forms.loader import parse_form
from carepath.forms.schema import Form


def value(source: str, **names: Any) -> Any:
    return evaluate(compile_expression(source), names)


@pytest.mark.parametrize(("source", "names", "expected"), [
    ("not nfa", {"nfa": True}, False),
    ("not nfa", {"nfa": UNKNOWN}, UNKNOWN),
    ("next_step == 'close'", {"next_step": "close"}, True),
    ("next_step == 'close'", {"next_step": None}, False),
    ("next_step == 'close'", {}, UNKNOWN),  # not set: either way
    ("a == 'x' or b", {"a": "x", "b": UNKNOWN}, True),
    ("a == 'x' and b", {"a": "y", "b": UNKNOWN}, False),
    ("a == 'x' and b", {"a": "x", "b": UNKNOWN}, UNKNOWN),
    ("a in ['x', 'y']", {"a": "y"}, True),
    ("a not in ('x', 'y')", {"a": "z"}, True),
    ("d is None", {"d": SET}, False),
    ("d != None", {"d": SET}, True),
    ("d == '2025-01-01'", {"d": SET}, UNKNOWN),
    ("held == 'not_held' or outcome != 'continue'", {"held": "held", "outcome": "close"}, True),
])
def test_evaluate(source: str, names: dict[str, Any], expected: Any) -> None:
    assert value(source, **names) == expected or value(source, **names) is expected


def test_dates_and_conditional_expressions() -> None:
    review = ("months_after(cp_plan.last_review, 6) if cp_plan.last_review "
              "else months_after(cp_plan.start, 3)")
    assert value(review, **{"cp_plan.last_review": None, "cp_plan.start": SET}) == SET
    assert value(review, **{"cp_plan.last_review": None, "cp_plan.start": None}) is None
    # which branch is taken is unknown, but both give a date
    either = ("working_days_after(referral.date, 45) if assessment.start <= "
              "working_days_after(referral.date, 1) else working_days_after(assessment.start, 45)")
    assert truth(value(either, **{"referral.date": SET, "assessment.start": SET})) is True
    assert value(either, **{"referral.date": SET, "assessment.start": None}) is UNKNOWN


FORM = """
id: decision
title: Decide
fields:
  - {name: nfa, type: yesno, label: "No further action?", required: true, record: referral.nfa}
  - {name: need, type: choice, codelist: primary_need, label: Need, show_if: not nfa,
     required: true, record: episode.primary_need}
  - {name: next_step, type: choice, label: Next, show_if: not nfa, required: true,
     options: [{value: assess, label: Assess}, {value: strategy, label: Strategy}]}
  - {name: closed, type: date, label: Closed, show_if: nfa, required: true, record: closure.date}
  - {name: ended, type: date, label: Plan ended, show_if: not nfa,
     record: cin_plan.end}
  - {name: count, type: number, label: Count, required: true}
  - {name: start, type: date, label: Start, show_if: count > 2, required: true,
     record: assessment.start}
"""


def form() -> Form:
    return parse_form(load_yaml(FORM, "decision.yaml"), "decision.yaml", STATUTORY_CODELISTS)


def test_form_outcomes_follow_the_deciding_answers() -> None:
    outcomes = form_outcomes(form(), {"next_step"}, STATUTORY_CODELISTS)
    assert [o.label for o in outcomes] == [
        "nfa = yes", "nfa = no, next_step = 'assess'", "nfa = no, next_step = 'strategy'"]
    yes, assess, _ = outcomes
    assert yes.items == {"referral.nfa": True}
    assert yes.sure == {"referral.nfa", "closure.date"}
    assert assess.sure == {"referral.nfa", "episode.primary_need"}
    assert assess.values["next_step"] == "assess" and assess.values["closed"] is None
    # an optional question may be left blank; a show_if over a number cannot be worked out
    assert assess.optional == {"cin_plan.end"} and yes.optional == frozenset()
    assert assess.unsure == {"assessment.start"}
    assert assess.may_fill("cin_plan.end") and not yes.may_fill("cin_plan.end")
