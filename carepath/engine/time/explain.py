""""Why is this due then?": a due date explained in plain English.

:func:`explain_due` works a timescale out again over a case's record and says how: the rule in
words ("45 working days from the referral date"), the date it counts from and the record item that
date came from, and (for working days) every day it skipped and why: a weekend, a bank holiday
by name, or a council closure day. For an ``expression:`` timescale it evaluates the expression
with the date functions watched, and explains the call whose result is the due date: the branch
actually taken.

Nothing here raises for a case the record cannot explain yet: a date not recorded, a rule that
cannot be worked out, a timescale the pack no longer has. The explanation says so instead
(``explained`` is False and ``note`` says why).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from carepath.core.errors import CarepathError
from carepath.core.expressions.evaluator import compile_allowing
from carepath.core.expressions.language import BUILTIN_FUNCTIONS
from carepath.core.record_items import CONTEXT_DATES, RECORD_ITEMS
from carepath.engine.time.timescales import Timescale, Timescales, months_after
from carepath.engine.time.working_days import WorkingDayCalendar, england_bank_holiday_names

# How each record date reads in a rule ("45 working days from <noun>") and on its own.
_ITEM_WORDS: dict[str, tuple[str, str]] = {
    "referral.date": ("the referral date", "the date the referral was received"),
    "assessment.start": ("the start of the assessment",
                         "the date the latest assessment started"),
    "assessment.authorised": ("the authorisation of the assessment",
                              "the date the latest assessment was authorised"),
    "s47.start": ("the strategy discussion",
                  "the date of the strategy discussion that started the section 47 enquiry"),
    "s47.icpc_date": ("the initial child protection conference",
                      "the date of the initial child protection conference"),
    "cp_plan.start": ("the start of the child protection plan",
                      "the date the child protection plan started"),
    "cp_plan.last_review": ("the last review conference",
                            "the date of the last child protection review conference"),
    "cp_plan.end": ("the end of the child protection plan",
                    "the date the child protection plan ended"),
    "cin_plan.start": ("the start of the child in need plan",
                       "the date the child in need plan started"),
    "cin_plan.end": ("the end of the child in need plan",
                     "the date the child in need plan ended"),
    "closure.date": ("the closure of the case", "the date the case was closed"),
    "child.birth_date": ("the child's date of birth", "the child's date of birth"),
    "child.expected_birth_date": ("the child's expected date of birth",
                                  "the child's expected date of birth"),
}
_FUNCTION_KINDS = {"working_days_after": "working_days", "months_after": "months",
                   "days_after": "days"}
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def item_noun(path: str) -> str:
    """A record date as a rule names it: "the referral date"."""
    words = _ITEM_WORDS.get(path)
    if words is not None:
        return words[0]
    item = RECORD_ITEMS.get(path)
    return f"the {item.title[0].lower()}{item.title[1:]}" if item and item.title else path


def item_description(path: str) -> str:
    """A record date described: "the date the referral was received"."""
    words = _ITEM_WORDS.get(path)
    if words is not None:
        return words[1]
    item = RECORD_ITEMS.get(path)
    return f"the {item.title[0].lower()}{item.title[1:]}" if item and item.title else path


def long_date(day: date) -> str:
    """A date as GOV.UK writes it, with its weekday: Wednesday 7 January 2026."""
    return f"{_WEEKDAYS[day.weekday()]} {day.day} {day:%B %Y}"


@dataclass(frozen=True)
class SkippedDay:
    """A day a working-day count passed over."""

    date: date
    reason: str  # "Saturday", "Sunday", "Christmas Day", "council closure day"
    kind: str  # "weekend", "bank_holiday" or "closure_day"

    def as_json(self) -> dict[str, str]:
        return {"date": self.date.isoformat(), "reason": self.reason, "kind": self.kind}


@dataclass(frozen=True)
class DueExplanation:
    """Why a timescale falls due when it does.

    ``rule`` is plain English ("45 working days from the referral date"); ``counted_from`` the
    date the count starts from (that day itself never counts), ``from_item`` the record item it
    came from ("referral.date") and ``from_description`` that item in words. ``skipped`` lists
    the days a working-day count passed over. ``explained`` is False when the due date cannot be
    worked out (``note`` says why); ``note`` also says when the task's stored due date differs.
    For an expression, ``expression`` is its source and ``branch`` says which part applied.
    """

    timescale: str
    title: str
    rule: str
    counted_from: date | None
    from_item: str | None
    from_description: str | None
    due: date | None
    skipped: tuple[SkippedDay, ...] = ()
    kind: str = ""  # working_days, months, days or expression
    amount: int | None = None
    expression: str | None = None
    branch: str | None = None
    explained: bool = True
    note: str | None = None
    stored_due: date | None = field(default=None, compare=False)

    def lines(self) -> list[str]:
        """The explanation as short sentences, for a terminal or a web page."""
        out: list[str] = []
        if self.due is not None:
            out.append(f"Due {long_date(self.due)}: {self.rule}.")
        else:
            out.append(f"Rule: {self.rule}.")
        if self.counted_from is not None:
            what = f", {self.from_description}" if self.from_description else ""
            out.append(f"Counted from {long_date(self.counted_from)}{what}"
                       + (" (that day itself does not count)." if self.kind == "working_days"
                          else "."))
        if self.branch:
            out.append(self.branch)
        if self.kind == "working_days" and self.due is not None:
            if self.skipped:
                weekend = sum(1 for d in self.skipped if d.kind == "weekend")
                parts = [_plural(weekend, "weekend day")] if weekend else []
                parts += [f"{d.reason} ({d.date.day} {d.date:%B %Y})"
                          for d in self.skipped if d.kind != "weekend"]
                listed = parts[0] if len(parts) == 1 else \
                    ", ".join(parts[:-1]) + " and " + parts[-1]
                out.append(f"Skipped {listed}.")
            else:
                out.append("No weekends, bank holidays or closure days fell in between.")
        if self.note:
            out.append(self.note)
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "timescale": self.timescale,
            "title": self.title,
            "rule": self.rule,
            "kind": self.kind,
            "amount": self.amount,
            "expression": self.expression,
            "branch": self.branch,
            "counted_from": self.counted_from.isoformat() if self.counted_from else None,
            "from_item": self.from_item,
            "from_description": self.from_description,
            "due": self.due.isoformat() if self.due else None,
            "skipped": [d.as_json() for d in self.skipped],
            "explained": self.explained,
            "note": self.note,
            "text": self.lines(),
        }


def skipped_days(calendar: WorkingDayCalendar, start: date, end: date) -> tuple[SkippedDay, ...]:
    """The days after ``start``, up to ``end``, that are not working days, each with why."""
    skipped: list[SkippedDay] = []
    names: dict[int, dict[date, str]] = {}
    day = start
    while day < end:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            continue
        if day.weekday() >= 5:
            skipped.append(SkippedDay(day, _WEEKDAYS[day.weekday()], "weekend"))
            continue
        holiday = names.setdefault(day.year, england_bank_holiday_names(day.year)).get(day)
        if holiday is not None:
            skipped.append(SkippedDay(day, holiday, "bank_holiday"))
        else:
            skipped.append(SkippedDay(day, "council closure day", "closure_day"))
    return tuple(skipped)


def _plural(amount: int, unit: str) -> str:
    return f"{amount} {unit}{'' if abs(amount) == 1 else 's'}"


def _rule(kind: str, amount: int, path: str | None) -> str:
    unit = {"working_days": "working day", "months": "month", "days": "calendar day"}[kind]
    source = item_noun(path) if path else "the date given"
    return f"{_plural(amount, unit)} from {source}"


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _read(context: Mapping[str, Any], path: str) -> Any:
    namespace, _, key = path.partition(".")
    values = context.get(namespace)
    if not isinstance(values, Mapping):
        return None
    return values.get(key)


def _unexplained(timescale: str, title: str, rule: str, note: str, **more: Any) -> DueExplanation:
    return DueExplanation(timescale, title, rule, more.pop("counted_from", None),
                          more.pop("from_item", None), more.pop("from_description", None), None,
                          explained=False, note=note, **more)


def explain_due(timescales: Timescales, name: str,
                context: Mapping[str, Any]) -> DueExplanation:
    """Why timescale ``name`` falls due when it does for a record that reads as ``context``
    (``record_context``)."""
    timescale = timescales.items.get(name)
    if timescale is None:
        return _unexplained(name, name, "not known",
                            f"The pack has no timescale '{name}', so this due date cannot be "
                            "explained.")
    if timescale.expression is not None:
        return _explain_expression(timescales, timescale, context)
    return _explain_simple(timescales, timescale, context)


def _explain_simple(timescales: Timescales, ts: Timescale,
                    context: Mapping[str, Any]) -> DueExplanation:
    path, amount = ts.from_path, ts.amount or 0
    rule = _rule(ts.kind, amount, path)
    described = item_description(path) if path else None
    raw = _read(context, path) if path else None
    start = _as_date(raw)
    common: dict[str, Any] = {"from_item": path, "from_description": described,
                              "kind": ts.kind, "amount": amount}
    if start is None:
        why = ("is not recorded yet" if raw is None else "is not a date in the record")
        return _unexplained(ts.name, ts.title, rule,
                            f"The due date cannot be worked out yet: {described} {why}.",
                            **common)
    return _counted(timescales.calendar, ts, rule, start, ts.kind, amount, common)


def _counted(calendar: WorkingDayCalendar, ts: Timescale, rule: str, start: date, kind: str,
             amount: int, common: dict[str, Any], **more: Any) -> DueExplanation:
    try:
        if kind == "working_days":
            due = calendar.add_working_days(start, amount)
        elif kind == "months":
            due = months_after(start, amount)
        else:
            due = start + timedelta(days=amount)
    except (ValueError, OverflowError):
        return _unexplained(ts.name, ts.title, rule,
                            "The due date falls beyond the calendar and cannot be worked out.",
                            counted_from=start, **common, **more)
    skipped = skipped_days(calendar, start, due) if kind == "working_days" and amount > 0 else ()
    return DueExplanation(ts.name, ts.title, rule, start, common["from_item"],
                          common["from_description"], due, skipped, kind, amount, **more)


@dataclass(frozen=True)
class _Call:
    function: str
    base: date | None
    amount: Any
    result: date | None


def _watched(functions: Mapping[str, Callable[..., Any]],
             calls: list[_Call]) -> dict[str, Callable[..., Any]]:
    def watch(name: str, inner: Callable[..., Any]) -> Callable[..., Any]:
        def call(day: Any, count: Any) -> Any:
            result = inner(day, count)
            calls.append(_Call(name, _as_date(day), count, result))
            return result

        return call

    return {name: watch(name, fn) if name in _FUNCTION_KINDS else fn
            for name, fn in functions.items()}


def _path_of(node: ast.AST) -> str | None:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return f"{node.value.id}.{node.attr}"
    return None


def _source_path(tree: ast.AST, call: _Call, context: Mapping[str, Any]) -> str | None:
    """The record item the call's base date was read from, if the expression names it
    directly in a call of the same function and amount whose value matches."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == call.function and len(node.args) == 2):
            continue
        amount = node.args[1]
        if isinstance(amount, ast.Constant) and amount.value != call.amount:
            continue
        path = _path_of(node.args[0])
        if path is not None and _as_date(_read(context, path)) == call.base:
            return path
    return None


def _branch(timescales: Timescales, tree: ast.expr, context: Mapping[str, Any]) -> str | None:
    """Which part of a conditional expression applied, and why."""
    reasons: list[str] = []
    node = tree
    functions = timescales.functions()
    while isinstance(node, ast.IfExp):
        source = ast.unparse(node.test)
        try:
            test = compile_allowing(source, BUILTIN_FUNCTIONS | frozenset(functions))
            value = test.evaluate(context, functions)
        except CarepathError:
            return None
        path = _path_of(node.test)
        if path is not None:
            state = "is recorded" if value is not None and value is not False else \
                "is not recorded"
            reasons.append(f"{item_description(path)} {state}")
        else:
            reasons.append(f"'{source}' is {'true' if value else 'false'}")
        node = node.body if value else node.orelse
    if not reasons:
        return None
    return (f"This rule applies because {' and '.join(reasons)} (the pack's rule: "
            f"{ast.unparse(tree)}).")


def _explain_expression(timescales: Timescales, ts: Timescale,
                        context: Mapping[str, Any]) -> DueExplanation:
    expression = ts.expression
    assert expression is not None
    source = " ".join(expression.source.split())
    calls: list[_Call] = []
    functions = _watched(timescales.functions(), calls)
    tree = expression.tree.body
    branch = _branch(timescales, tree, context)
    extra: dict[str, Any] = {"expression": source, "branch": branch}
    try:
        result = expression.evaluate(context, functions)
    except CarepathError as exc:
        unset = [path for path in sorted(expression.paths)
                 if path in CONTEXT_DATES and _read(context, path) is None]
        if unset:
            verb = "is" if len(unset) == 1 else "are"
            why = (" and ".join(item_description(path) for path in unset)
                   + f" {verb} not recorded yet.")
        else:
            why = exc.message
        return _unexplained(ts.name, ts.title, f"worked out by the pack's rule: {source}",
                            f"The due date cannot be worked out yet: {why}",
                            kind="expression", **extra)
    due = _as_date(result) if result is not None else None
    if result is not None and due is None:
        return _unexplained(ts.name, ts.title, f"worked out by the pack's rule: {source}",
                            "The pack's rule did not give a date.", kind="expression", **extra)
    if due is None:
        # A date function given no date: the date it needed is not recorded yet.
        waiting = [c for c in calls if c.base is None and c.result is None]
        if waiting:
            call = waiting[-1]
            path = _source_path(tree, call, context)
            kind = _FUNCTION_KINDS[call.function]
            amount = call.amount if isinstance(call.amount, int) else 0
            described = item_description(path) if path else "the date it counts from"
            return _unexplained(ts.name, ts.title, _rule(kind, amount, path),
                                f"The due date cannot be worked out yet: {described} is not "
                                "recorded yet.", from_item=path,
                                from_description=item_description(path) if path else None,
                                kind=kind, amount=amount, **extra)
        return _unexplained(ts.name, ts.title, f"worked out by the pack's rule: {source}",
                            "The due date cannot be worked out yet: the dates it needs are not "
                            "recorded yet.", kind="expression", **extra)
    made = [c for c in calls if c.result == due and c.base is not None]
    if not made:
        return DueExplanation(ts.name, ts.title, f"worked out by the pack's rule: {source}",
                              None, None, None, due, kind="expression", **extra)
    call = made[-1]
    assert call.base is not None
    path = _source_path(tree, call, context)
    kind = _FUNCTION_KINDS[call.function]
    amount = call.amount if isinstance(call.amount, int) else 0
    common = {"from_item": path,
              "from_description": item_description(path) if path else None,
              "kind": kind, "amount": amount}
    return _counted(timescales.calendar, ts, _rule(kind, amount, path), call.base, kind,
                    amount, common, **extra)


def with_stored_due(explanation: DueExplanation, stored: date | None) -> DueExplanation:
    """The explanation of a task's due date as stored when the task opened: if the record as
    it is now gives another date, the note says so."""
    if stored == explanation.due:
        return replace(explanation, stored_due=stored)
    if stored is None:
        note = ("The task was given no due date when it opened: the date it counts from was "
                "not recorded then.")
        if explanation.due is None:
            return replace(explanation, stored_due=stored)
    elif explanation.due is None:
        note = (f"The task's due date, {long_date(stored)}, was worked out when it opened; "
                "it cannot be worked out again from the record as it is now.")
    else:
        note = (f"The task's due date is {long_date(stored)}, worked out when it opened; the "
                f"record as it is now gives {long_date(explanation.due)} (the record has "
                "changed since).")
    if explanation.note:
        note = f"{explanation.note} {note}"
    return replace(explanation, note=note, stored_due=stored)
