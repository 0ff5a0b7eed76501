"""timescales.yaml: parsing (every error names its line) and due dates of each kind."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from carepath.core.errors import ExpressionError, PackError
from carepath.core.expressions.evaluator import Expression
from carepath.core.yamlsource import load_yaml
from carepath.engine.time.timescales import Timescale, Timescales, months_after, parse_timescales

D = date

PACK_TIMESCALES = """\
closure_days: [2025-12-29, 2025-12-30]       # council closure days
timescales:
  referral_decision: {title: Referral decision, working_days: 1, from: referral.date}
  assessment:        {title: Assessment, working_days: 45, from: referral.date}
  icpc:              {title: Initial child protection conference, working_days: 15, from: s47.start}
  first_review:      {title: First review conference, months: 3, from: s47.icpc_date}
  visit:
    title: Visit
    days: 10
    from: cp_plan.start
  cp_review:         {title: Review conference,
                      expression: "months_after(cp_plan.last_review, 6) if cp_plan.last_review
                                   else months_after(cp_plan.start, 3)"}
"""


def parse(text: str, **kwargs: Any) -> Timescales:
    return parse_timescales(load_yaml(text, "timescales.yaml"), "timescales.yaml", **kwargs)


def context(**namespaces: dict[str, Any]) -> dict[str, dict[str, Any]]:
    base: dict[str, dict[str, Any]] = {
        "referral": {"date": None},
        "s47": {"start": None, "icpc_date": None},
        "cp_plan": {"start": None, "last_review": None},
    }
    for name, values in namespaces.items():
        base.setdefault(name, {}).update(values)
    return base


def test_parses_the_documented_example() -> None:
    timescales = parse(PACK_TIMESCALES)
    assert timescales.closure_days == (D(2025, 12, 29), D(2025, 12, 30))
    assert timescales.calendar.closure_days == {D(2025, 12, 29), D(2025, 12, 30)}
    assert list(timescales.items) == [
        "referral_decision", "assessment", "icpc", "first_review", "visit", "cp_review",
    ]  # fmt: skip
    icpc = timescales.items["icpc"]
    assert icpc == Timescale(
        "icpc", "Initial child protection conference", "working_days", 15, "s47.start", None, 5
    )
    assert timescales.items["first_review"].kind == "months"
    assert timescales.items["visit"].kind == "days" and timescales.items["visit"].line == 7
    review = timescales.items["cp_review"]
    assert review.kind == "expression" and review.amount is None and review.from_path is None
    assert isinstance(review.expression, Expression)
    assert review.expression.paths == {"cp_plan.last_review", "cp_plan.start"}
    assert review.line == 11 and "\n" not in review.expression.source


def test_working_days_due_dates_skip_holidays_and_closure_days() -> None:
    timescales = parse(PACK_TIMESCALES)
    # 15 working days from Mon 15 Dec 2025 with 29 and 30 Dec closed (see test_working_days).
    assert timescales.due("icpc", context(s47={"start": D(2025, 12, 15)})) == D(2026, 1, 12)
    assert timescales.due("referral_decision", context(referral={"date": D(2025, 12, 24)})) == D(
        2025, 12, 31
    )
    # 45 working days from Mon 3 Mar 2025: the 9 weeks to Mon 5 May hold 45 weekdays, less
    # Good Friday (18 Apr), Easter Monday (21 Apr) and 5 May = 42; then 6, 7, 8 May.
    assert timescales.due("assessment", context(referral={"date": D(2025, 3, 3)})) == D(
        2025, 5, 8
    )


def test_extra_closure_days_are_added() -> None:
    timescales = parse(PACK_TIMESCALES, extra_closure_days=[D(2026, 1, 2), D(2025, 12, 29)])
    assert timescales.closure_days == (D(2025, 12, 29), D(2025, 12, 30), D(2026, 1, 2))
    # Now 16-19 (4), 22-24 (7), 31 (8), Jan 5-9 (13), 12-13 (15).
    assert timescales.due("icpc", context(s47={"start": D(2025, 12, 15)})) == D(2026, 1, 13)


def test_months_and_days() -> None:
    timescales = parse(PACK_TIMESCALES)
    assert timescales.due("first_review", context(s47={"icpc_date": D(2025, 11, 30)})) == D(
        2026, 2, 28
    )
    assert timescales.due("visit", context(cp_plan={"start": D(2025, 12, 25)})) == D(2026, 1, 4)


def test_expression_timescale_takes_either_branch() -> None:
    timescales = parse(PACK_TIMESCALES)
    first = context(cp_plan={"start": D(2025, 5, 31)})
    assert timescales.due("cp_review", first) == D(2025, 8, 31)
    later = context(cp_plan={"start": D(2025, 5, 31), "last_review": D(2025, 8, 29)})
    assert timescales.due("cp_review", later) == D(2026, 2, 28)


def test_due_is_none_until_the_start_date_is_known() -> None:
    timescales = parse(PACK_TIMESCALES)
    empty = context()
    for name in timescales.items:
        assert timescales.due(name, empty) is None
    assert timescales.due("icpc", {}) is None  # the namespace is missing altogether


def test_dates_may_arrive_as_iso_text_or_datetimes() -> None:
    timescales = parse(PACK_TIMESCALES)
    assert timescales.due("visit", context(cp_plan={"start": "2025-03-03"})) == D(2025, 3, 13)
    moment = datetime(2025, 3, 3, 10, 30)
    assert timescales.due("visit", context(cp_plan={"start": moment})) == D(2025, 3, 13)
    with pytest.raises(ExpressionError, match="cp_plan.start needs a date, not 'soon'"):
        timescales.due("visit", context(cp_plan={"start": "soon"}))


def test_unknown_timescale_name() -> None:
    with pytest.raises(PackError, match="there is no timescale 'nope'"):
        parse(PACK_TIMESCALES).due("nope", context())


def test_expression_giving_something_else_than_a_date() -> None:
    timescales = parse(
        "timescales:\n  odd: {title: Odd, expression: \"'tomorrow' if referral.date else None\"}\n"
    )
    assert timescales.due("odd", context()) is None
    with pytest.raises(ExpressionError, match="gave str, not a date"):
        timescales.due("odd", context(referral={"date": D(2025, 1, 1)}))


def test_functions() -> None:
    timescales = parse("closure_days: [2025-12-29]\n")
    functions = timescales.functions()
    assert set(functions) == {"working_days_after", "months_after", "days_after"}
    assert functions["working_days_after"](D(2025, 12, 24), 1) == D(2025, 12, 30)
    assert functions["working_days_after"]("2025-12-24", 2) == D(2025, 12, 31)
    assert functions["months_after"](D(2024, 1, 31), 1) == D(2024, 2, 29)
    assert functions["days_after"](D(2025, 12, 31), 1) == D(2026, 1, 1)
    assert functions["days_after"](D(2025, 1, 1), -1) == D(2024, 12, 31)
    for function in functions.values():
        assert function(None, 3) is None
        with pytest.raises(ExpressionError, match="needs a whole number"):
            function(D(2025, 1, 1), "3")
        with pytest.raises(ExpressionError, match="needs a date"):
            function(42, 3)
    with pytest.raises(ExpressionError, match="too many"):
        functions["working_days_after"](D(2025, 1, 1), 10**6)
    with pytest.raises(ExpressionError, match="beyond the calendar"):
        functions["months_after"](D(9999, 12, 1), 1)
    with pytest.raises(ExpressionError, match="beyond the calendar"):
        functions["days_after"](D(9999, 12, 31), 1)


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (D(2025, 1, 31), 1, D(2025, 2, 28)),
        (D(2024, 1, 31), 1, D(2024, 2, 29)),
        (D(2025, 3, 31), 1, D(2025, 4, 30)),
        (D(2025, 3, 31), -1, D(2025, 2, 28)),
        (D(2025, 11, 15), 3, D(2026, 2, 15)),
        (D(2025, 1, 31), 13, D(2026, 2, 28)),
        (D(2025, 5, 31), 6, D(2025, 11, 30)),
        (D(2025, 1, 15), -13, D(2023, 12, 15)),
        (D(2025, 6, 30), 0, D(2025, 6, 30)),
    ],
)
def test_months_after_clips_to_the_end_of_the_month(
    day: date, months: int, expected: date
) -> None:
    assert months_after(day, months) == expected


def test_empty_or_missing_file_means_no_timescales() -> None:
    for text in ("", "# nothing yet\n", "timescales:\n", "closure_days: []\ntimescales: {}\n"):
        timescales = parse(text)
        assert timescales.items == {} and timescales.closure_days == ()
    assert parse_timescales(None, "timescales.yaml").items == {}
    assert parse_timescales(None, "t.yaml", [D(2025, 12, 29)]).closure_days == (D(2025, 12, 29),)


def test_closure_days_may_be_quoted_iso_dates() -> None:
    assert parse("closure_days: ['2025-12-29']\n").closure_days == (D(2025, 12, 29),)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("- a list\n", 1, "must be a mapping with 'closure_days' and 'timescales'"),
        ("closure_days: []\ndeadlines: {}\n", 2, "unknown key 'deadlines'"),
        ("closure_days: 2025-12-29\n", 1, "closure_days must be a list of dates"),
        ("closure_days:\n  - 2025-12-29\n  - someday\n", 1, "closure day 'someday' is not a date"),
        ("closure_days: [2025-12-29 10:00:00]\n", 1, "is not a date"),
        ("timescales: [a, b]\n", 1, "'timescales' must map each timescale's name"),
        ("timescales:\n  bad-name: {title: T, days: 1, from: referral.date}\n", 2,
         "'bad-name' is not a timescale name"),
        ("timescales:\n  a: 45\n", 2, "timescale 'a' must be a mapping"),
        ("timescales:\n  a:\n    title: A\n    days: 3\n    form: referral.date\n", 5,
         "unknown key 'form' in timescale 'a'; use days, expression, from, months, title or "
         "working_days"),
        ("timescales:\n  a: {days: 3, from: referral.date}\n", 2, "timescale 'a' needs a title"),
        ("timescales:\n  a:\n    title: ''\n    days: 3\n", 3, "timescale 'a' needs a title"),
        ("timescales:\n  a: {title: A, from: referral.date}\n", 2,
         "timescale 'a' needs one of days, expression, months or working_days"),
        ("timescales:\n  a:\n    title: A\n    working_days: 3\n    months: 1\n", 5,
         "timescale 'a' has both 'working_days' and 'months'; give only one"),
        ("timescales:\n  a:\n    title: A\n    days: 1\n    expression: referral.date\n", 5,
         "has both 'days' and 'expression'"),
        ("timescales:\n  a:\n    title: A\n    working_days: 0\n    from: referral.date\n", 4,
         "working_days of timescale 'a' must be a whole number of 1 or more, not 0"),
        ("timescales:\n  a:\n    title: A\n    months: -1\n    from: referral.date\n", 4,
         "must be a whole number of 1 or more, not -1"),
        ("timescales:\n  a:\n    title: A\n    days: five\n    from: referral.date\n", 4,
         "not 'five'"),
        ("timescales:\n  a:\n    title: A\n    days: 1.5\n    from: referral.date\n", 4,
         "not 1.5"),
        ("timescales:\n  a:\n    title: A\n    days: true\n    from: referral.date\n", 4,
         "not True"),
        ("timescales:\n  a: {title: A, days: 3}\n", 2, "timescale 'a' needs 'from'"),
        ("timescales:\n  a:\n    title: A\n    days: 3\n    from: s47.begin\n", 5,
         "'from: s47.begin' is not a record date; use one of assessment.authorised, "),
        ("timescales:\n  a:\n    title: A\n    days: 3\n    from: child.sex\n", 5,
         "'from: child.sex' is not a record date"),
        ("timescales:\n  a:\n    title: A\n    expression: referral.date\n"
         "    from: referral.date\n", 5, "has an expression, so 'from' is not used"),
        ("timescales:\n  a:\n    title: A\n    expression: \"__import__('os')\"\n", 4,
         "the expression of timescale 'a' is refused: '__import__' is not allowed"),
        ("timescales:\n  a:\n    title: A\n    expression: today()\n", 4,
         "is refused: calling 'today' is not allowed"),
        ("timescales:\n  a:\n    title: A\n    expression: 'referral.date +'\n", 4,
         "is refused: 'referral.date +' is not a valid expression"),
        ("timescales:\n  a:\n    title: A\n    expression: 'days_after(outcome, 3)'\n", 4,
         "reads 'outcome', which is not a record name"),
        ("timescales:\n  a:\n    title: A\n    expression: 45\n", 4,
         "the expression of timescale 'a' must be text"),
    ],
)
def test_errors_name_the_line(text: str, line: int, message: str) -> None:
    with pytest.raises(PackError) as caught:
        parse(text)
    error = caught.value
    assert message in error.detail
    assert (error.file, error.line) == ("timescales.yaml", line)
    assert str(error).startswith(f"timescales.yaml:{line}: ")
