"""Checking submitted answers against a form: coercion, rules, `show_if`, GOV.UK error wording.

:func:`validate` returns a cleaned value for every field of the form or raises
:class:`FormErrors` carrying every problem at once. Messages never contain the submitted values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from carepath.core.errors import CarepathError, ExpressionError, UnsafeExpression
from carepath.forms.schema import Field, FieldType, Form

__all__ = [
    "FieldError",
    "FormErrors",
    "ValidationContext",
    "clean_answer",
    "example_values",
    "parse_date",
    "record_values",
    "shown_keys",
    "validate",
    "visible_fields",
]


@dataclass(frozen=True)
class FieldError:
    """One problem with one answer. ``field`` is "name", or "group.<row>.name" for a group row
    (row numbers count from 0, as the submitted list does)."""

    field: str
    message: str


class FormErrors(CarepathError):
    """The answers were refused; ``errors`` lists every problem, in form order."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors: list[FieldError] = list(errors)
        count = len(self.errors)
        summary = "1 answer needs" if count == 1 else f"{count} answers need"
        super().__init__(f"There is a problem: {summary} changing")

    def by_field(self) -> dict[str, str]:
        """The first message for each field key, in form order."""
        result: dict[str, str] = {}
        for error in self.errors:
            result.setdefault(error.field, error.message)
        return result


@dataclass(frozen=True)
class ValidationContext:
    """What validation needs besides the answers.

    ``names`` are values `show_if` may read besides this form's own fields (e.g. earlier
    answers in the case); the form's fields win over them.
    """

    today: date
    referral_date: date | None = None
    names: Mapping[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- wording

_NO_ARTICLE = frozenset(
    {
        *("the", "a", "an", "your", "their", "his", "her", "its", "our", "this", "that"),
        *("these", "those", "any", "all", "each", "every", "some", "no"),
        *("what", "which", "who", "whom", "whose", "when", "where", "why", "how", "whether"),
        "if",
    }
)
_TRAILING = "?.:! \t\n"


def _subject(label: str) -> str:
    """The label as the subject of a sentence: "Date of visit must be a real date"."""
    text = label.strip().rstrip(_TRAILING)
    return text[:1].upper() + text[1:]


def _phrase(label: str) -> str:
    """The label inside a sentence: "Enter *the date the assessment was authorised*".

    The first letter is lower-cased (unless the first word is an abbreviation like "ICPC") and
    "the " is added unless the label already starts with an article, a possessive or a question
    word.
    """
    text = label.strip().rstrip(_TRAILING)
    first = text.split(" ", 1)[0]
    if not (len(first) > 1 and first[1].isupper()):
        text = text[:1].lower() + text[1:]
    if first.lower() in _NO_ARTICLE:
        return text
    return "the " + text


def _number(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    return f"{value:g}"


def _entries(count: float) -> str:
    return f"{_number(count)} {'entry' if count == 1 else 'entries'}"


def _is_question(label: str) -> bool:
    return label.strip().endswith("?")


def _message(f: Field, kind: str, detail: str = "") -> str:
    """The message for problem ``kind`` with field ``f``; the form's `errors:` override wins.

    ``kind`` is one of required, invalid, duplicate (reported as invalid), min, max, future,
    before, same; ``detail`` is the other date's phrase for `before`.
    """
    override = f.errors.get("invalid" if kind == "duplicate" else kind)
    if override:
        return override
    subject, phrase, t = _subject(f.label), _phrase(f.label), f.type
    if kind == "required":
        if t is FieldType.CHOICE:
            return f"Select {phrase}"
        if t is FieldType.YESNO:
            return "Select yes or no" if _is_question(f.label) else f"Select yes or no for {phrase}"
        if t is FieldType.MULTICHOICE:
            return f"Select at least one option for {phrase}"
        if t is FieldType.GROUP:
            return f"Add at least one entry to {phrase}"
        return f"Enter {phrase}"
    if kind == "invalid":
        if t is FieldType.DATE:
            return f"{subject} must be a real date"
        if t is FieldType.NUMBER:
            return f"{subject} must be a number"
        if t is FieldType.YESNO:
            return _message(f, "required")
        if t in (FieldType.CHOICE, FieldType.MULTICHOICE):
            return f"Select {phrase} from the list"
        if t is FieldType.GROUP:
            return f"{subject} must be a list of entries"
        return f"{subject} must be text"
    if kind == "duplicate":
        return f"Select each option for {phrase} only once"
    if kind in ("min", "max"):
        bound = f.min if kind == "min" else f.max
        assert bound is not None
        more = "more" if kind == "min" else ("fewer" if t is FieldType.GROUP else "less")
        if t is FieldType.GROUP:
            return f"{subject} must have {_entries(bound)} or {more}"
        if t in (FieldType.TEXT, FieldType.TEXTAREA):
            return f"{subject} must be {_number(bound)} characters or {more}"
        return f"{subject} must be {_number(bound)} or {more}"
    if kind == "future":
        return f"{subject} must be today or in the past"
    if kind == "before":
        return f"{subject} must be the same as or after {detail}"
    if kind == "same":
        return f"{subject} must be the same as {detail}"
    raise ValueError(kind)


# --------------------------------------------------------------------------- coercion

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Day, month and year separated by spaces, as GOV.UK date inputs and the forms' hints write
# them ("27 3 2025")
_DMY_RE = re.compile(r"(\d{1,2})\s+(\d{1,2})\s+(\d{4})")
_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_YES = frozenset({"yes", "true", "y"})
_NO = frozenset({"no", "false", "n"})


class _Invalid(Exception):
    """Raised inside coercion; carries the message kind."""

    def __init__(self, kind: str = "invalid") -> None:
        super().__init__(kind)
        self.kind = kind


def _is_empty(raw: Any) -> bool:
    if raw is None:
        return True
    if isinstance(raw, str):
        return not raw.strip()
    if isinstance(raw, list | tuple):
        return len(raw) == 0
    return False


def parse_date(text: str) -> date | None:
    """A date typed as ``2025-03-27`` or, as the forms' hints show it, day month year separated
    by spaces (``27 3 2025``); None if ``text`` is neither or no such day exists."""
    text = text.strip()
    try:
        if _DATE_RE.fullmatch(text):
            return date.fromisoformat(text)
        match = _DMY_RE.fullmatch(text)
        if match:
            day, month, year = (int(g) for g in match.groups())
            return date(year, month, day)
    except ValueError:
        return None
    return None


def _to_date(raw: Any) -> date:
    if isinstance(raw, datetime):
        raise _Invalid()
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str):
        parsed = parse_date(raw)
        if parsed is not None:
            return parsed
    raise _Invalid()


def _to_number(raw: Any) -> int | float:
    if isinstance(raw, bool):
        raise _Invalid()
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise _Invalid()
        return raw
    if isinstance(raw, str):
        text = raw.strip()
        if _NUMBER_RE.fullmatch(text):
            return float(text) if "." in text else int(text)
    raise _Invalid()


def _to_yesno(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        word = raw.strip().lower()
        if word in _YES:
            return True
        if word in _NO:
            return False
    raise _Invalid()


def _choice_text(raw: Any) -> str:
    """A submitted option value as a string: YAML may give 21 for the code '21'."""
    if isinstance(raw, bool) or raw is None:
        raise _Invalid()
    if isinstance(raw, str):
        return raw.strip()
    if isinstance(raw, int):
        return str(raw)
    if isinstance(raw, float) and math.isfinite(raw):
        return str(int(raw)) if raw.is_integer() else str(raw)
    raise _Invalid()


def _to_choice(f: Field, raw: Any) -> str:
    value = _choice_text(raw)
    if not any(o.value == value for o in f.options):
        raise _Invalid()
    return value


def _to_choices(f: Field, raw: Any) -> list[str]:
    items = list(raw) if isinstance(raw, list | tuple) else [raw]
    chosen = [_choice_text(item) for item in items]
    if len(set(chosen)) != len(chosen):
        raise _Invalid("duplicate")
    allowed = [o.value for o in f.options]
    if any(value not in allowed for value in chosen):
        raise _Invalid()
    return [value for value in allowed if value in chosen]  # in the form's order


def _to_text(f: Field, raw: Any) -> str:
    if isinstance(raw, bool):
        raise _Invalid()
    if isinstance(raw, int | float):
        text = _choice_text(raw)
    elif isinstance(raw, str):
        text = raw.strip()
    else:
        raise _Invalid()
    try:  # a lone surrogate (JSON's "\ud800") is no text: it cannot be stored or shown
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _Invalid() from None
    if f.type is FieldType.TEXTAREA:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if f.min is not None and len(text) < f.min:
        raise _Invalid("min")
    if f.max is not None and len(text) > f.max:
        raise _Invalid("max")
    return text


def _coerce(f: Field, raw: Any) -> Any:
    """A non-empty answer to a non-group field, cleaned; raises _Invalid."""
    t = f.type
    if t is FieldType.DATE:
        return _to_date(raw)
    if t is FieldType.NUMBER:
        value = _to_number(raw)
        if f.min is not None and value < f.min:
            raise _Invalid("min")
        if f.max is not None and value > f.max:
            raise _Invalid("max")
        return value
    if t is FieldType.YESNO:
        return _to_yesno(raw)
    if t is FieldType.CHOICE:
        return _to_choice(f, raw)
    if t is FieldType.MULTICHOICE:
        return _to_choices(f, raw)
    return _to_text(f, raw)


# --------------------------------------------------------------------------- the walk


def _shown(f: Field, names: Mapping[str, Any]) -> bool:
    """Whether ``f`` is asked. A condition that cannot be evaluated (e.g. it compares an
    unanswered question) hides the field; one that goes over the limits of the language (too
    large to work out) is a fault in the pack, and is reported rather than hidden."""
    if f.show_if is None:
        return True
    try:
        return bool(f.show_if.evaluate(names))
    except UnsafeExpression:
        raise
    except ExpressionError:
        return False


class _Walk:
    """One pass over a form's fields (and group rows), collecting cleaned values and errors."""

    def __init__(self, ctx: ValidationContext | None) -> None:
        self.ctx = ctx
        self.errors: list[FieldError] = []
        # keys ("name", "group.<row>.name") of every field asked, group rows included
        self.shown_keys: list[str] = []

    def fields(
        self,
        fields: Sequence[Field],
        raw: Mapping[str, Any],
        outer_names: Mapping[str, Any],
        outer_fields: Mapping[str, Field],
        prefix: str = "",
        shown: list[Field] | None = None,
    ) -> dict[str, Any]:
        known = {f.name for f in fields}
        for key in raw:
            if key not in known:
                self.errors.append(
                    FieldError(f"{prefix}{key}", f"'{key}' is not a question on this form")
                )
        names: dict[str, Any] = dict(outer_names)
        names.update((f.name, None) for f in fields)
        scope: dict[str, Field] = dict(outer_fields)
        scope.update((f.name, f) for f in fields)
        cleaned: dict[str, Any] = {}
        for f in fields:
            value: Any = None
            if _shown(f, names):
                self.shown_keys.append(prefix + f.name)
                if shown is not None:
                    shown.append(f)
                if f.type is FieldType.GROUP:
                    value = self.group(f, raw.get(f.name), names, scope, prefix)
                else:
                    value = self.answer(f, raw.get(f.name), names, scope, prefix)
            cleaned[f.name] = value
            names[f.name] = value
        return cleaned

    def fail(self, key: str, message: str) -> None:
        self.errors.append(FieldError(key, message))

    def answer(
        self,
        f: Field,
        raw: Any,
        names: Mapping[str, Any],
        scope: Mapping[str, Field],
        prefix: str,
    ) -> Any:
        key = prefix + f.name
        if _is_empty(raw):
            if f.required:
                self.fail(key, _message(f, "required"))
            return None
        try:
            value = _coerce(f, raw)
        except _Invalid as problem:
            self.fail(key, _message(f, problem.kind))
            return None
        if f.type is FieldType.DATE and self.ctx is not None:
            if f.not_future and value > self.ctx.today:
                self.fail(key, _message(f, "future"))
                return None
            if f.not_before == "referral":
                referral = self.ctx.referral_date
                if referral is not None and value < referral:
                    self.fail(key, _message(f, "before", "the referral date"))
                    return None
            elif f.not_before is not None:
                other = names.get(f.not_before)
                other_field = scope.get(f.not_before)
                if isinstance(other, date) and other_field is not None and value < other:
                    self.fail(key, _message(f, "before", _phrase(other_field.label)))
                    return None
            if f.same_as is not None:
                other = names.get(f.same_as)
                other_field = scope.get(f.same_as)
                if isinstance(other, date) and other_field is not None and value != other:
                    self.fail(key, _message(f, "same", _phrase(other_field.label)))
                    return None
        return value

    def group(
        self,
        f: Field,
        raw: Any,
        names: Mapping[str, Any],
        scope: Mapping[str, Field],
        prefix: str,
    ) -> list[dict[str, Any]] | None:
        key = prefix + f.name
        if _is_empty(raw):
            if f.required:
                self.fail(key, _message(f, "required"))
            return None
        if not isinstance(raw, list | tuple):
            self.fail(key, _message(f, "invalid"))
            return None
        if f.min is not None and len(raw) < f.min:
            self.fail(key, _message(f, "min"))
        if f.max is not None and len(raw) > f.max:
            self.fail(key, _message(f, "max"))
        rows: list[dict[str, Any]] = []
        for index, row in enumerate(raw):
            if not isinstance(row, Mapping):
                self.fail(f"{key}.{index}", _message(f, "invalid"))
                continue
            rows.append(self.fields(f.fields, row, names, scope, f"{key}.{index}."))
        return rows


def _check_raw(raw: Any) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise TypeError("answers must be a mapping of field name to value")
    return raw


def validate(form: Form, raw: Mapping[str, Any], ctx: ValidationContext) -> dict[str, Any]:
    """Clean ``raw`` answers for ``form``: a value for every field (None when hidden or not
    answered), or :class:`FormErrors` with every problem at once. A hidden field's answer is
    dropped."""
    walk = _Walk(ctx)
    cleaned = walk.fields(form.fields, _check_raw(raw), ctx.names, {})
    if walk.errors:
        raise FormErrors(walk.errors)
    return cleaned


def visible_fields(form: Form, values: Mapping[str, Any], ctx: ValidationContext) -> list[Field]:
    """The top-level fields asked given ``values`` (raw or cleaned answers so far), in order."""
    shown: list[Field] = []
    _Walk(ctx).fields(form.fields, _check_raw(values), ctx.names, {}, shown=shown)
    return shown


def shown_keys(form: Form, values: Mapping[str, Any], ctx: ValidationContext) -> set[str]:
    """The keys of every field asked given ``values`` (raw or cleaned answers so far): "name"
    for a top-level field, "group.<row>.name" for a field of a group's row (rows as given)."""
    walk = _Walk(ctx)
    walk.fields(form.fields, _check_raw(values), ctx.names, {})
    return set(walk.shown_keys)


def clean_answer(f: Field, value: Any) -> tuple[Any, list[FieldError]]:
    """Clean one answer to ``f`` on its own, as if it were shown: the rules that need no other
    answer and no date (show_if, not_future and not_before are skipped; in a group's rows, a
    show_if reading the form's other fields sees None). Returns the cleaned value and the
    problems."""
    walk = _Walk(None)
    cleaned = walk.fields((replace(f, show_if=None),), {f.name: value}, {}, {})
    return cleaned[f.name], walk.errors


def record_values(form: Form, cleaned: Mapping[str, Any]) -> dict[str, Any]:
    """{record item: value} for the form's mapped fields that have a value."""
    return {
        f.record: cleaned[f.name]
        for f in form.record_fields()
        if f.record is not None and cleaned.get(f.name) is not None
    }


def _group_example(f: Field, outer: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """One row built from the row fields' examples, if that row is a valid answer."""
    if f.max is not None and f.max < 1:
        return None
    row = _examples(f.fields, outer)
    if not row:
        return None
    walk = _Walk(None)
    walk.fields(f.fields, row, outer, {})
    return None if walk.errors else [row]


def _examples(fields: Sequence[Field], outer: Mapping[str, Any]) -> dict[str, Any]:
    names: dict[str, Any] = dict(outer)
    names.update((f.name, None) for f in fields)
    result: dict[str, Any] = {}
    for f in fields:
        if not _shown(f, names):
            continue
        value = f.example
        if value is None and f.type is FieldType.GROUP:
            value = _group_example(f, names)
        if value is not None:
            result[f.name] = value
            names[f.name] = value
    return result


def example_values(form: Form) -> dict[str, Any]:
    """The example of every field that has one and is shown given the other examples.

    A group without an example of its own gets one row made of its row fields' examples, when
    that row is a valid answer.
    """
    return _examples(form.fields, {})
