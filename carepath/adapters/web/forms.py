"""A pack's form as a GOV.UK form page, and a submitted page back into answers.

Nothing here runs a request: the web views build a :class:`FormPage` with :func:`build_page` (or
:func:`preview_page`), render it with the ``form_fields`` and ``error_summary`` macros of
``templates/components/form_fields.html``, and turn what the browser sent into a
:class:`Submission` with :func:`parse_submission`.

Names on the page (field names are lower case letters, digits and ``_``, so a ``-`` never
clashes with one):

- a question: ``<name>``; a date's parts ``<name>-day``, ``<name>-month``, ``<name>-year``;
- a field of row ``i`` of a repeating group: ``<group>-<i>-<name>``; the rows on the page:
  ``<group>-rows`` (hidden);
- buttons: ``_add`` = ``<group>``, ``_remove`` = ``<group>:<i>``, ``_refresh`` ("Update the
  questions"), ``_save_draft``; anything else is a submit.

Conditional questions work without JavaScript: the page shows only the questions whose
``show_if`` holds for the answers on it, and "Update the questions" sends the page back to be
shown again. Hidden questions' answers are dropped, as :func:`~carepath.forms.validation.validate`
drops them.

``raw`` (what the page shows) is JSON-safe, so it is also what a draft keeps: text, number,
choice and yes/no answers as the text sent ("yes"/"no"), multichoice as a list, a date as
``{"day", "month", "year"}`` as typed, a group as a list of rows of the same.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, Protocol

from markupsafe import Markup

from carepath.core.errors import CarepathError
from carepath.forms.schema import Field, FieldType, Form, Option
from carepath.forms.validation import FieldError, ValidationContext, shown_keys

__all__ = [
    "EXCLUSIVE_OPTIONS",
    "FieldView",
    "FormData",
    "FormPage",
    "Intent",
    "RowView",
    "SELECT_OVER",
    "Submission",
    "SubmissionError",
    "build_page",
    "date_problem",
    "parse_submission",
    "preview_page",
    "raw_from_values",
    "values_from_raw",
]

# A choice with more options than this is a select (drop-down) rather than radios; a
# multichoice with more is shown as small checkboxes.
SELECT_OVER = 12
# Options that mean "none of these" in the statutory code lists: shown last, after "or", and
# (with JavaScript) unticking the others.
EXCLUSIVE_OPTIONS: frozenset[tuple[str, str]] = frozenset(
    {("assessment_factors", "21"), ("disability", "NONE")}
)
# The most rows a page may say a group has (a forged count is refused, not obeyed).
MAX_ROWS = 200
DATE_PARTS = ("day", "month", "year")

Raw = dict[str, Any]


class SubmissionError(CarepathError):
    """What was sent is not something a page built here can send (a forged or stale button)."""


class FormData(Protocol):
    """What a submitted form offers (werkzeug's ``MultiDict`` does)."""

    def get(self, key: str, /) -> Any: ...

    def getlist(self, key: str) -> list[Any]: ...

    def __contains__(self, key: object, /) -> bool: ...


@dataclass(frozen=True)
class Intent:
    """Which button sent the page. ``kind`` is "submit", "save_draft", "refresh", "add" (a row
    to ``group``) or "remove" (row ``index`` of ``group``)."""

    kind: Literal["submit", "save_draft", "refresh", "add", "remove"]
    group: str | None = None
    index: int | None = None

    @property
    def validates(self) -> bool:
        """True only for a submit: every other button shows the page again as it is."""
        return self.kind == "submit"


@dataclass(frozen=True)
class Submission:
    """A submitted page. ``values`` are the answers as :func:`validate` (and the service's
    complete_task) takes them, without hidden questions' answers and unanswered questions;
    ``raw`` is what to show again (add/remove already applied); ``intent`` the button."""

    values: dict[str, Any]
    raw: Raw
    intent: Intent


@dataclass
class RowView:
    """One row of a repeating group."""

    index: int
    legend: str
    fields: list[FieldView]
    remove_button: dict[str, Any] | None


@dataclass
class FieldView:
    """One question, ready for its GOV.UK macro.

    ``kind`` names the macro: input, textarea, character_count, date, radios, select,
    checkboxes, or group (a fieldset of rows, each with its own fields, built in the template).
    ``params`` are the macro's parameters (for a group: ``id``, ``legend``, ``hint``,
    ``errorMessage``). ``help_html`` is the field's longer guidance (shown in "Help with this
    question"), placed in the form group at ``help_slot``. ``anchor`` is the id the error
    summary links to. ``refresh_after``: a later question's ``show_if`` reads this one, so the
    "Update the questions" button follows it. ``condition``: the ``show_if`` (preview only).
    """

    name: str
    key: str
    kind: str
    params: dict[str, Any]
    anchor: str
    help_html: Markup | None = None
    help_slot: str = "beforeInput"
    refresh_after: bool = False
    condition: str | None = None
    rows: list[RowView] = field(default_factory=list)
    add_button: dict[str, Any] | None = None
    rows_count: int = 0


@dataclass
class FormPage:
    """A form as a page: ``fields`` (only those asked), the error summary's list, whether the
    page is a read-only preview."""

    form_id: str
    title: str
    guidance: str | None
    fields: list[FieldView]
    error_list: list[dict[str, str]]
    preview: bool = False

    @property
    def has_errors(self) -> bool:
        """True when the page shows errors: the title must start "Error: "."""
        return bool(self.error_list)

    @property
    def has_other_buttons(self) -> bool:
        """True when the fields bring submit buttons of their own ("Update the questions", "Add
        another", "Remove"): ``form_fields`` then starts with a hidden default button, so that
        Enter in a text box submits the page rather than pressing the first of those."""
        return any(f.refresh_after or f.add_button or any(r.remove_button for r in f.rows)
                   or any(g.refresh_after for r in f.rows for g in r.fields)
                   for f in self.fields)

    @property
    def guidance_paragraphs(self) -> list[str]:
        return _paragraphs(self.guidance)


# --------------------------------------------------------------------------- names


def _html_name(key: str) -> str:
    """The page name of a validation key: "a" -> "a", "g.0.a" -> "g-0-a"."""
    return key.replace(".", "-")


def _paragraphs(text: str | None) -> list[str]:
    if not text:
        return []
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]


def _help_html(text: str | None) -> Markup | None:
    paragraphs = _paragraphs(text)
    if not paragraphs:
        return None
    return Markup("").join(Markup('<p class="govuk-body">{}</p>').format(p) for p in paragraphs)


def _subject(label: str) -> str:
    text = label.strip().rstrip("?.:! \t\n")
    return text[:1].upper() + text[1:]


# --------------------------------------------------------------------------- reading a page


def _text(data: FormData, name: str) -> str:
    value = data.get(name)
    return value if isinstance(value, str) else ""


def _read_field(f: Field, data: FormData, base: str) -> Any:
    """The raw answer to ``f`` named ``base`` on the page; None if it was not on the page."""
    if f.type is FieldType.DATE:
        parts = {part: _text(data, f"{base}-{part}").strip() for part in DATE_PARTS}
        if not any(f"{base}-{part}" in data for part in DATE_PARTS):
            return None
        return parts
    if f.type is FieldType.MULTICHOICE:
        chosen = [v for v in data.getlist(base) if isinstance(v, str) and v]
        return chosen
    if f.type is FieldType.GROUP:
        count_text = _text(data, f"{base}-rows").strip()
        if not count_text:
            return None
        if not count_text.isdigit() or int(count_text) > MAX_ROWS:
            raise SubmissionError(f"The number of rows sent for '{f.name}' is not one this "
                                  "page shows")
        rows: list[Raw] = []
        for index in range(int(count_text)):
            row: Raw = {}
            for sub in f.fields:
                value = _read_field(sub, data, f"{base}-{index}-{sub.name}")
                if value is not None:
                    row[sub.name] = value
            rows.append(row)
        return rows
    if base not in data:
        return None
    return _text(data, base)


def _read_raw(fields: Sequence[Field], data: FormData) -> Raw:
    raw: Raw = {}
    for f in fields:
        value = _read_field(f, data, f.name)
        if value is not None:
            raw[f.name] = value
    return raw


def _group(form: Form, name: str) -> Field:
    try:
        f = form.field(name)
    except KeyError:
        f = None
    if f is None or f.type is not FieldType.GROUP:
        raise SubmissionError(f"This form has no list of entries called '{name}'")
    return f


def _intent(form: Form, data: FormData) -> Intent:
    if "_add" in data:
        return Intent("add", _group(form, _text(data, "_add")).name)
    if "_remove" in data:
        group, _, index = _text(data, "_remove").partition(":")
        f = _group(form, group)
        if not index.isdigit():
            raise SubmissionError(f"The entry to remove from '{f.name}' is not one this page "
                                  "shows")
        return Intent("remove", f.name, int(index))
    if "_refresh" in data:
        return Intent("refresh")
    if "_save_draft" in data:
        return Intent("save_draft")
    return Intent("submit")


def parse_submission(form: Form, data: FormData, ctx: ValidationContext) -> Submission:
    """What the browser sent for ``form``: the answers, what to show again and which button.

    ``ctx`` is the context the page was built with (its ``names`` are what ``show_if`` reads
    from the record). "Add another" and "Remove" are applied to ``raw``; a date whose parts do
    not make a date is sent on as text that validation refuses (the page then says which part
    is wrong). Raises :class:`SubmissionError` for a button or row count no page sends.
    """
    raw = _read_raw(form.fields, data)
    intent = _intent(form, data)
    if intent.kind in ("add", "remove"):
        assert intent.group is not None
        rows = list(raw.get(intent.group) or [])
        group = form.field(intent.group)
        if intent.kind == "add":
            if group.max is not None and len(rows) >= group.max:
                raise SubmissionError(f"'{group.label}' already has as many entries as it may "
                                      "have")
            rows.append({})
        else:
            assert intent.index is not None
            if intent.index >= len(rows):
                raise SubmissionError(f"The entry to remove from '{group.label}' is not one "
                                      "this page shows")
            del rows[intent.index]
        raw[intent.group] = rows
    return Submission(values_from_raw(form, raw, ctx), raw, intent)


# --------------------------------------------------------------------------- raw <-> values


def _date_value(parts: Mapping[str, Any]) -> str | None:
    """An ISO date from day, month and year as typed; "" when all are empty; otherwise text
    that is not a date (so validation says it must be a real date)."""
    day, month, year = (str(parts.get(p) or "").strip() for p in DATE_PARTS)
    if not (day or month or year):
        return ""
    if day.isdigit() and month.isdigit() and year.isdigit() and len(year) == 4:
        try:
            return date(int(year), int(month), int(day)).isoformat()
        except ValueError:
            pass
    return f"{day}/{month}/{year}"  # never a date to parse_date


def _value(f: Field, raw: Any) -> Any:
    """The answer to hand to validation for one raw answer; None for no answer."""
    if raw is None:
        return None
    if f.type is FieldType.DATE:
        text = _date_value(raw) if isinstance(raw, Mapping) else str(raw)
        return text or None
    if f.type is FieldType.MULTICHOICE:
        chosen = [str(v) for v in raw] if isinstance(raw, list | tuple) else [str(raw)]
        return chosen or None
    if f.type is FieldType.GROUP:
        if not isinstance(raw, list | tuple) or not raw:
            return None
        return [_row_values(f.fields, row if isinstance(row, Mapping) else {}) for row in raw]
    text = str(raw)
    return text if text.strip() else None


def _row_values(fields: Sequence[Field], raw: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f in fields:
        value = _value(f, raw.get(f.name))
        if value is not None:
            values[f.name] = value
    return values


def _drop_hidden(fields: Sequence[Field], values: dict[str, Any], shown: set[str],
                 prefix: str = "") -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for f in fields:
        key = prefix + f.name
        if f.name not in values or key not in shown:
            continue
        value = values[f.name]
        if f.type is FieldType.GROUP:
            value = [_drop_hidden(f.fields, row, shown, f"{key}.{i}.")
                     for i, row in enumerate(value)]
        kept[f.name] = value
    return kept


def values_from_raw(form: Form, raw: Mapping[str, Any], ctx: ValidationContext) -> dict[str, Any]:
    """The answers in ``raw`` as validation takes them (dates as ISO text, yes/no as "yes" or
    "no", multichoice as lists, groups as lists of rows), leaving out unanswered questions and
    those a ``show_if`` hides."""
    values = _row_values(form.fields, raw)
    return _drop_hidden(form.fields, values, shown_keys(form, values, ctx))


def _raw_answer(f: Field, value: Any) -> Any:
    if value is None:
        return None
    if f.type is FieldType.DATE:
        if isinstance(value, Mapping):
            return {p: str(value.get(p) or "") for p in DATE_PARTS}
        if isinstance(value, date):
            return {"day": str(value.day), "month": str(value.month), "year": str(value.year)}
        try:
            day = date.fromisoformat(str(value))
        except ValueError:
            return {"day": "", "month": "", "year": ""}
        return {"day": str(day.day), "month": str(day.month), "year": str(day.year)}
    if f.type is FieldType.YESNO and isinstance(value, bool):
        return "yes" if value else "no"
    if f.type is FieldType.MULTICHOICE:
        items = value if isinstance(value, list | tuple) else [value]
        return [_option_text(v) for v in items]
    if f.type is FieldType.GROUP:
        if not isinstance(value, list | tuple):
            return []
        return [_raw_row(f.fields, row) if isinstance(row, Mapping) else {} for row in value]
    if f.type is FieldType.CHOICE:
        return _option_text(value)
    return str(value)


def _option_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _raw_row(fields: Sequence[Field], values: Mapping[str, Any]) -> Raw:
    raw: Raw = {}
    for f in fields:
        answer = _raw_answer(f, values.get(f.name))
        if answer is not None:
            raw[f.name] = answer
    return raw


def raw_from_values(form: Form, values: Mapping[str, Any]) -> Raw:
    """What a page shows for answers given as values (cleaned, as the task recorded them, or
    as a story or example gives them): the inverse of :func:`values_from_raw`."""
    return _raw_row(form.fields, values)


# --------------------------------------------------------------------------- the page


def date_problem(f: Field, parts: Mapping[str, Any]) -> tuple[str, list[str]] | None:
    """What is wrong with a date's parts as typed, in GOV.UK's words, and which parts to mark;
    None when they make a real date or are all empty. A form's own `errors: invalid:` wins."""
    day, month, year = (str(parts.get(p) or "").strip() for p in DATE_PARTS)
    values = {"day": day, "month": month, "year": year}
    typed = _date_value(values)
    if not typed or "/" not in typed:  # nothing typed, or a real date
        return None
    override = f.errors.get("invalid")
    subject = _subject(f.label)
    missing = [p for p in DATE_PARTS if not values[p]]
    if missing:
        words = " and ".join(missing) if len(missing) == 2 else missing[0]
        return override or f"{subject} must include a {words}", missing
    not_numbers = [p for p in DATE_PARTS if not values[p].isdigit()]
    if not_numbers:
        return override or f"{subject} must be a real date", not_numbers
    if len(year) != 4:
        return override or "Year must include 4 numbers", ["year"]
    wrong: list[str] = []
    if not 1 <= int(month) <= 12:
        wrong.append("month")
    if not 1 <= int(day) <= 31:
        wrong.append("day")
    return override or f"{subject} must be a real date", wrong or list(DATE_PARTS)


class _Builder:
    def __init__(self, form: Form, raw: Mapping[str, Any], errors: Mapping[str, str],
                 shown: set[str] | None, preview: bool) -> None:
        self.form = form
        self.raw = raw
        self.errors = dict(errors)
        self.shown = shown  # None: every field (preview)
        self.preview = preview
        self.error_list: list[dict[str, str]] = []
        self.used_errors: set[str] = set()
        read: set[str] = set()
        for f in form.fields:
            for g in (f, *f.fields):
                if g.show_if is not None:
                    read.update(g.show_if.names)
        self.controllers = read

    def page(self) -> FormPage:
        views = self.fields(self.form.fields, self.raw, "", level="m")
        # errors for keys with no question on the page still reach the summary, unlinked
        for key, message in self.errors.items():
            if key not in self.used_errors:
                self.error_list.append({"text": message})
        return FormPage(self.form.id, self.form.title, self.form.guidance, views,
                        self.error_list, self.preview)

    def fields(self, fields: Sequence[Field], raw: Mapping[str, Any], prefix: str,
               level: str) -> list[FieldView]:
        views: list[FieldView] = []
        for f in fields:
            key = prefix + f.name
            if self.shown is not None and key not in self.shown:
                continue
            view = self.field(f, key, raw.get(f.name), level)
            views.append(view)
        return views

    def error(self, key: str, anchor: str, message: str | None = None) -> dict[str, Any] | None:
        text = message or self.errors.get(key)
        if text is None:
            return None
        self.used_errors.add(key)
        self.error_list.append({"text": text, "href": f"#{anchor}"})
        return {"text": text}

    def field(self, f: Field, key: str, raw: Any, level: str) -> FieldView:
        name = _html_name(key)
        if raw is not None and not _is_display(f, raw):  # a value rather than what was typed
            raw = _raw_answer(f, raw)
        label = f.label if f.required or self.preview else f"{f.label} (optional)"
        hint = {"text": f.hint} if f.hint else None
        view = FieldView(f.name, key, "input", {}, name, help_html=_help_html(f.guidance),
                         refresh_after=not self.preview and f.name in self.controllers,
                         condition=f.show_if.source if self.preview and f.show_if else None)
        legend = {"text": label, "classes": f"govuk-fieldset__legend--{level}"}
        fieldset = {"legend": legend}
        common: dict[str, Any] = {"name": name, "hint": hint}
        t = f.type
        if t is FieldType.GROUP:
            return self.group(f, key, raw, view, label, level)
        if t is FieldType.DATE:
            parts = raw if isinstance(raw, Mapping) else {}
            problem = date_problem(f, parts) if key in self.errors else None
            marked = problem[1] if problem else list(DATE_PARTS)
            anchor = f"{name}-{marked[0]}"
            error = self.error(key, anchor, problem[0] if problem else None)
            items = [{"name": p, "value": str(parts.get(p) or ""),
                      "classes": ("govuk-input--width-4" if p == "year" else
                                  "govuk-input--width-2")
                      + (" govuk-input--error" if error and p in marked else ""),
                      "attributes": ({"disabled": {"value": True, "optional": True}}
                                     if self.preview else {})}
                     for p in DATE_PARTS]
            view.kind, view.anchor, view.help_slot = "date", anchor, "beforeInputs"
            view.params = {"id": name, "namePrefix": name, "fieldset": fieldset, "hint": hint,
                           "errorMessage": error, "items": items}
            return view
        if t in (FieldType.YESNO, FieldType.CHOICE, FieldType.MULTICHOICE):
            return self.choices(f, key, raw, view, fieldset, common)
        error = self.error(key, name)
        text = "" if raw is None else str(raw)
        view.params = {**common, "id": name, "label": {"text": label,
                       "classes": f"govuk-label--{level}"}, "value": text,
                       "errorMessage": error}
        if self.preview:
            view.params["disabled"] = True
        if t is FieldType.TEXTAREA:
            if f.max is not None and not self.preview:
                view.kind = "character_count"
                view.params["maxlength"] = int(f.max)
            else:
                view.kind = "textarea"
            view.params["rows"] = 8
        elif t is FieldType.NUMBER:
            view.params.update(inputmode="decimal", spellcheck=False,
                               classes="govuk-input--width-10")
        else:
            view.params["spellcheck"] = True
        return view

    def choices(self, f: Field, key: str, raw: Any, view: FieldView, fieldset: dict[str, Any],
                common: dict[str, Any]) -> FieldView:
        name = common["name"]
        disabled = self.preview
        error = self.error(key, name)
        view.help_slot = "beforeInputs"
        if f.type is FieldType.YESNO:
            value = str(raw or "").lower()
            view.kind = "radios"
            view.params = {**common, "idPrefix": name, "fieldset": fieldset,
                           "classes": "govuk-radios--inline", "errorMessage": error,
                           "items": [{"value": v, "text": v.capitalize(),
                                      "checked": value == v, "disabled": disabled}
                                     for v in ("yes", "no")]}
            return view
        if f.type is FieldType.CHOICE:
            value = "" if raw is None else str(raw)
            if len(f.options) > SELECT_OVER:
                view.kind, view.help_slot = "select", "beforeInput"
                view.params = {**common, "id": name, "label": {
                    "text": fieldset["legend"]["text"],
                    "classes": fieldset["legend"]["classes"].replace(
                        "govuk-fieldset__legend", "govuk-label")},
                    "errorMessage": error, "disabled": disabled, "value": value,
                    "items": [{"value": "", "text": "Select an option"}]
                    + [{"value": o.value, "text": o.label} for o in f.options]}
                return view
            view.kind = "radios"
            view.params = {**common, "idPrefix": name, "fieldset": fieldset,
                           "errorMessage": error,
                           "items": [{"value": o.value, "text": o.label,
                                      "checked": value == o.value, "disabled": disabled}
                                     for o in f.options]}
            return view
        chosen = {str(v) for v in raw} if isinstance(raw, list | tuple) else set()
        plain, exclusive = _split_exclusive(f, f.options)
        items: list[dict[str, Any]] = [{"value": o.value, "text": o.label,
                                        "checked": o.value in chosen, "disabled": disabled}
                                       for o in plain]
        if exclusive:
            items.append({"divider": "or"})
            items += [{"value": o.value, "text": o.label, "behaviour": "exclusive",
                       "checked": o.value in chosen, "disabled": disabled} for o in exclusive]
        view.kind = "checkboxes"
        view.params = {**common, "idPrefix": name, "fieldset": fieldset, "errorMessage": error,
                       "classes": "govuk-checkboxes--small" if len(f.options) > SELECT_OVER
                       else None, "items": items}
        return view

    def group(self, f: Field, key: str, raw: Any, view: FieldView, label: str,
              level: str) -> FieldView:
        name = _html_name(key)
        rows_raw: list[Mapping[str, Any]] = [r if isinstance(r, Mapping) else {}
                                             for r in (raw if isinstance(raw, list) else [])]
        can_add = not self.preview and (f.max is None or len(rows_raw) < f.max)
        rows: list[RowView] = []
        first_anchor: str | None = None
        slot = len(self.error_list)  # the group's own error goes before its rows' errors
        for index, row in enumerate(rows_raw):
            fields = self.fields(f.fields, row, f"{key}.{index}.", level="s")
            if first_anchor is None and fields:
                first_anchor = fields[0].anchor
            n = index + 1
            remove = None if self.preview else {
                "text": "Remove", "name": "_remove", "value": f"{f.name}:{index}",
                "classes": "govuk-button--secondary",
                "html": Markup('Remove<span class="govuk-visually-hidden"> entry {} from {}'
                               '</span>').format(n, f.label)}
            rows.append(RowView(index, f"Entry {n}", fields, remove))
        add_id = f"{name}-add"
        anchor = add_id if can_add else (first_anchor or name)
        error = self.error(key, anchor)
        if error is not None:
            self.error_list.insert(slot, self.error_list.pop())
        view.kind, view.anchor, view.rows, view.rows_count = "group", anchor, rows, len(rows)
        view.params = {"id": name, "legend": {"text": label,
                                             "classes": f"govuk-fieldset__legend--{level}"},
                       "hint": {"text": f.hint, "id": f"{name}-hint"} if f.hint else None,
                       "errorMessage": dict(error, id=f"{name}-error") if error else None}
        if can_add:
            word = "another entry" if rows else "an entry"
            view.add_button = {"id": add_id, "name": "_add", "value": f.name,
                               "classes": "govuk-button--secondary",
                               "html": Markup('Add {}<span class="govuk-visually-hidden"> to {}'
                                              '</span>').format(word, f.label)}
        return view


def _is_display(f: Field, raw: Any) -> bool:
    """Whether ``raw`` has the shape a page shows for ``f`` (see the module's docstring)."""
    if f.type is FieldType.DATE:
        return isinstance(raw, Mapping)
    if f.type in (FieldType.MULTICHOICE, FieldType.GROUP):
        return isinstance(raw, list)
    return isinstance(raw, str)


def _split_exclusive(f: Field, options: Iterable[Option]) -> tuple[list[Option], list[Option]]:
    plain: list[Option] = []
    exclusive: list[Option] = []
    for o in options:
        (exclusive if (f.codelist, o.value) in EXCLUSIVE_OPTIONS else plain).append(o)
    return plain, exclusive


def _error_map(errors: Iterable[FieldError] | Mapping[str, str]) -> dict[str, str]:
    if isinstance(errors, Mapping):
        return dict(errors)
    result: dict[str, str] = {}
    for e in errors:
        result.setdefault(e.field, e.message)
    return result


def build_page(form: Form, raw: Mapping[str, Any] | None, ctx: ValidationContext,
               errors: Iterable[FieldError] | Mapping[str, str] = ()) -> FormPage:
    """The page for ``form`` showing ``raw`` (a :class:`Submission`'s ``raw``, a draft, or
    :func:`raw_from_values` of earlier answers; None for an empty form) with ``errors`` (a
    :class:`~carepath.forms.validation.FormErrors`' ``errors``, or {key: message}).

    Only the questions ``show_if`` asks given ``raw`` (and ``ctx.names``, the record) appear.
    """
    raw = raw or {}
    shown = shown_keys(form, _row_values(form.fields, raw), ctx)
    return _Builder(form, raw, _error_map(errors), shown, preview=False).page()


def _example_raw(fields: Sequence[Field]) -> Raw:
    raw: Raw = {}
    for f in fields:
        if f.type is FieldType.GROUP:
            raw[f.name] = ([_raw_row(f.fields, row) for row in f.example]
                           if isinstance(f.example, list) else
                           [_raw_row(f.fields, {g.name: g.example for g in f.fields})])
        elif f.example is not None:
            raw[f.name] = _raw_answer(f, f.example)
    return raw


def preview_page(form: Form) -> FormPage:
    """A read-only look at ``form`` for administrators: every question, conditional or not
    (each conditional one carries its ``show_if`` as ``condition``), filled with the fields'
    examples, every input disabled, no add/remove or update buttons."""
    return _Builder(form, _example_raw(form.fields), {}, None, preview=True).page()
