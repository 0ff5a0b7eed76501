"""Building a :class:`~carepath.forms.schema.Form` from a form file's loaded YAML.

Every check a pack author needs is made here, so a form that loads can always be shown, answered
and mapped to the record: each problem raises :class:`PackError` naming the file and line.
"""

from __future__ import annotations

import difflib
import keyword
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

from carepath.core.codes import Codelist
from carepath.core.errors import ExpressionError, PackError
from carepath.core.expressions.evaluator import Expression, compile_expression
from carepath.core.record_items import (
    RECORD_ITEMS,
    RECORD_NAMES,
    RECORD_NAMESPACES,
    ItemType,
    unknown_record_read,
)
from carepath.forms.schema import ERROR_KINDS, Field, FieldType, Form, Option
from carepath.forms.validation import clean_answer

__all__ = ["FIELD_KEYS", "FORM_KEYS", "NAME_RE", "parse_form"]

NAME_RE = re.compile(r"[a-z][a-z0-9_]*")

FORM_KEYS: tuple[str, ...] = ("id", "title", "guidance", "fields")
FIELD_KEYS: tuple[str, ...] = (
    "name",
    "type",
    "label",
    "hint",
    "guidance",
    "required",
    "show_if",
    "min",
    "max",
    "not_future",
    "not_before",
    "same_as",
    "record",
    "example",
    "options",
    "codelist",
    "fields",
    "errors",
)
OPTION_KEYS: tuple[str, ...] = ("value", "label")

_T = FieldType
_LENGTH_TYPES = frozenset({_T.TEXT, _T.TEXTAREA, _T.GROUP})
_CHOICE_TYPES = frozenset({_T.CHOICE, _T.MULTICHOICE})
# Settings that only make sense for some types.
_APPLIES_TO: dict[str, frozenset[FieldType]] = {
    "min": frozenset({_T.NUMBER}) | _LENGTH_TYPES,
    "max": frozenset({_T.NUMBER}) | _LENGTH_TYPES,
    "not_future": frozenset({_T.DATE}),
    "not_before": frozenset({_T.DATE}),
    "same_as": frozenset({_T.DATE}),
    "options": _CHOICE_TYPES,
    "codelist": _CHOICE_TYPES,
    "fields": frozenset({_T.GROUP}),
}
# The field type that can fill each kind of record item.
_FIELD_FOR_ITEM: dict[ItemType, FieldType] = {
    ItemType.DATE: _T.DATE,
    ItemType.YESNO: _T.YESNO,
    ItemType.CODE: _T.CHOICE,
    ItemType.CODES: _T.MULTICHOICE,
    ItemType.TEXT: _T.TEXT,
    ItemType.NUMBER: _T.NUMBER,
}


def _line(data: Any, key: str | None = None) -> int | None:
    """The line of ``key`` in ``data`` (or of ``data`` itself) when the YAML loader knew it."""
    if key is not None and hasattr(data, "line_of"):
        line = data.line_of(key)
        return int(line) if line else None
    line = getattr(data, "line", None)
    return int(line) if line else None


def _suggest(word: str, choices: Collection[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    if close:
        return f"; did you mean '{close[0]}'?"
    return f" (known: {', '.join(sorted(choices))})" if len(choices) <= 12 else ""


def _types_text(types: Collection[FieldType]) -> str:
    names = [t.value for t in FieldType if t in types]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _item_text(item_type: ItemType, codelist: str | None) -> str:
    return {
        ItemType.DATE: "a date",
        ItemType.YESNO: "yes or no",
        ItemType.CODE: f"one code from '{codelist}'",
        ItemType.CODES: f"codes from '{codelist}'",
        ItemType.TEXT: "text",
        ItemType.NUMBER: "a whole number",
    }[item_type]


class _Parser:
    def __init__(self, file: str, codelists: Mapping[str, Codelist]) -> None:
        self.file = file
        self.codelists = codelists

    def error(self, message: str, data: Any, key: str | None = None) -> PackError:
        return PackError(message, self.file, _line(data, key))

    # ------------------------------------------------------------------ small readers

    def check_keys(self, data: Mapping[str, Any], allowed: Sequence[str], what: str) -> None:
        for key in data:
            if key not in allowed:
                raise self.error(
                    f"unknown key '{key}' in {what}{_suggest(str(key), allowed)}", data, key
                )

    def text(
        self, data: Mapping[str, Any], key: str, what: str, required: bool = False
    ) -> str | None:
        value = data.get(key)
        if value is None:
            if required:
                raise self.error(f"{what} has no {key}", data)
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"{key} of {what} must be some text", data, key)
        return value.strip()

    def flag(self, data: Mapping[str, Any], key: str, what: str) -> bool:
        value = data.get(key, False)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self.error(f"{key} of {what} must be true or false", data, key)
        return value

    def bound(self, data: Mapping[str, Any], key: str, what: str, whole: bool) -> float | None:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(f"{key} of {what} must be a number", data, key)
        if whole and (value < 0 or not float(value).is_integer()):
            raise self.error(f"{key} of {what} must be a whole number, 0 or more", data, key)
        return float(value)

    # ------------------------------------------------------------------ the form

    def form(self, data: Any, expected_id: str | None) -> Form:
        if not isinstance(data, Mapping):
            raise self.error("a form must be a mapping with id, title and fields", data)
        self.check_keys(data, FORM_KEYS, "the form")
        form_id = self.text(data, "id", "the form", required=True)
        assert form_id is not None
        if not NAME_RE.fullmatch(form_id):
            raise self.error(
                f"form id '{form_id}' must be lower case letters, digits and '_', "
                "starting with a letter",
                data,
                "id",
            )
        if expected_id is not None and form_id != expected_id:
            raise self.error(
                f"form id '{form_id}' does not match its file name (expected '{expected_id}')",
                data,
                "id",
            )
        what = f"form '{form_id}'"
        title = self.text(data, "title", what, required=True)
        assert title is not None
        guidance = self.text(data, "guidance", what)
        if data.get("fields") is None:
            raise self.error(f"{what} has no fields", data)
        fields = self.field_list(data, what, outer={}, in_group=False)
        return Form(form_id, title, guidance, fields, self.file, _line(data) or 0)

    def field_list(
        self, data: Mapping[str, Any], what: str, outer: Mapping[str, Field], in_group: bool
    ) -> tuple[Field, ...]:
        """The fields under ``data['fields']``; ``outer`` are fields visible before them (the
        form's fields before a group, for its rows)."""
        items = data.get("fields")
        if not isinstance(items, list) or not items:
            raise self.error(
                f"fields of {what} must be a list of one or more fields", data, "fields"
            )
        fields: list[Field] = []
        seen: dict[str, Field] = {}
        for item in items:
            if not isinstance(item, Mapping):
                raise self.error(
                    f"each field of {what} must be a mapping with name, type and label",
                    item if _line(item) else items,
                )
            before = {**outer, **seen}
            f = self.field(item, before, in_group)
            if f.name in seen:
                raise self.error(
                    f"field name '{f.name}' is used twice in {what} "
                    f"(first on line {seen[f.name].line})",
                    item,
                    "name",
                )
            if f.name in RECORD_NAMESPACES:
                raise self.error(
                    f"field name '{f.name}' is a record namespace, which show_if and conditions "
                    f"read ('{f.name}.…'); choose another name",
                    item,
                    "name",
                )
            seen[f.name] = f
            fields.append(f)
        return tuple(fields)

    # ------------------------------------------------------------------ one field

    def field(self, data: Mapping[str, Any], before: Mapping[str, Field], in_group: bool) -> Field:
        name = data.get("name")
        good_name = isinstance(name, str) and bool(NAME_RE.fullmatch(name))
        self.check_keys(data, FIELD_KEYS, f"field '{name}'" if good_name else "a field")
        if name is None:
            raise self.error("a field has no name", data)
        if not isinstance(name, str) or not good_name or keyword.iskeyword(name):
            raise self.error(
                f"field name '{name}' must be lower case letters, digits and '_', starting "
                "with a letter (and not a word like 'and', 'if' or 'in')",
                data,
                "name",
            )
        what = f"field '{name}'"

        type_text = data.get("type")
        if type_text is None:
            raise self.error(f"{what} has no type", data)
        try:
            ftype = FieldType(type_text)
        except ValueError:
            raise self.error(
                f"type '{type_text}' of {what} is not known"
                f"{_suggest(str(type_text), [t.value for t in FieldType])}",
                data,
                "type",
            ) from None
        for key, types in _APPLIES_TO.items():
            if key in data and ftype not in types:
                raise self.error(
                    f"{key} does not apply to {what}: only to {_types_text(types)} questions",
                    data,
                    key,
                )

        label = self.text(data, "label", what, required=True)
        assert label is not None
        whole = ftype in _LENGTH_TYPES
        low = self.bound(data, "min", what, whole)
        high = self.bound(data, "max", what, whole)
        if low is not None and high is not None and low > high:
            raise self.error(f"min of {what} is more than its max", data, "min")

        options, codelist = self.options(data, ftype, what)
        subfields: tuple[Field, ...] = ()
        if ftype is FieldType.GROUP:
            if in_group:
                raise self.error(
                    f"{what} is a group inside a group; groups cannot nest", data, "type"
                )
            if data.get("fields") is None:
                raise self.error(f"group {what} has no fields", data)
            subfields = self.field_list(data, f"group '{name}'", outer=before, in_group=True)

        f = Field(
            name=name,
            type=ftype,
            label=label,
            hint=self.text(data, "hint", what),
            guidance=self.text(data, "guidance", what),
            required=self.flag(data, "required", what),
            show_if=self.show_if(data, name, before),
            min=low,
            max=high,
            not_future=self.flag(data, "not_future", what),
            not_before=self.not_before(data, name, before),
            same_as=self.same_as(data, name, before),
            record=self.record(data, ftype, what, options, codelist),
            options=options,
            codelist=codelist,
            fields=subfields,
            errors=self.errors(data, what),
            line=_line(data) or 0,
        )
        return self.example(data, f, what)

    def options(
        self, data: Mapping[str, Any], ftype: FieldType, what: str
    ) -> tuple[tuple[Option, ...], str | None]:
        if ftype not in _CHOICE_TYPES:
            return (), None
        inline, list_id = data.get("options"), data.get("codelist")
        if inline is not None and list_id is not None:
            raise self.error(f"{what} has both options and codelist; use one", data, "codelist")
        if list_id is not None:
            if not isinstance(list_id, str):
                raise self.error(
                    f"codelist of {what} must be the id of a code list", data, "codelist"
                )
            codelist = self.codelists.get(list_id)
            if codelist is None:
                raise self.error(
                    f"code list '{list_id}' of {what} is not known"
                    f"{_suggest(list_id, list(self.codelists))}",
                    data,
                    "codelist",
                )
            return tuple(Option(c.code, c.label) for c in codelist.codes), list_id
        if inline is None:
            raise self.error(
                f"{what} is a {ftype.value} question with no options or codelist", data, "type"
            )
        if not isinstance(inline, list) or not inline:
            raise self.error(
                f"options of {what} must be a list of {{value, label}}", data, "options"
            )
        result: list[Option] = []
        for item in inline:
            where = item if _line(item) else inline
            if not isinstance(item, Mapping):
                raise self.error(
                    f"each option of {what} must be a mapping with value and label", where
                )
            self.check_keys(item, OPTION_KEYS, f"an option of {what}")
            value = item.get("value")
            if isinstance(value, bool) or not isinstance(value, str | int) or str(value) == "":
                raise self.error(
                    f"an option of {what} needs a value (text or a whole number)", where, "value"
                )
            option_label = self.text(item, "label", f"option '{value}' of {what}", required=True)
            assert option_label is not None
            if any(o.value == str(value) for o in result):
                raise self.error(f"option '{value}' of {what} appears twice", where, "value")
            result.append(Option(str(value), option_label))
        return tuple(result), None

    def show_if(
        self, data: Mapping[str, Any], name: str, before: Mapping[str, Field]
    ) -> Expression | None:
        source = data.get("show_if")
        if source is None:
            return None
        if not isinstance(source, str) or not source.strip():
            raise self.error(f"show_if of field '{name}' must be an expression", data, "show_if")
        try:
            expression = compile_expression(source).at(self.file, _line(data, "show_if"))
        except ExpressionError as exc:
            raise self.error(
                f"show_if of field '{name}' is refused: {exc.message}", data, "show_if"
            ) from None
        unknown = unknown_record_read(expression.names, expression.paths, frozenset(before))
        if unknown is not None and "." in unknown:
            namespace = unknown.split(".")[0]
            if namespace in RECORD_NAMESPACES:
                raise self.error(
                    f"show_if of field '{name}' reads '{unknown}', which is not a record name "
                    f"({', '.join(sorted(n for n in RECORD_NAMES if n.startswith(namespace + '.')))})",
                    data,
                    "show_if",
                )
            raise self.error(
                f"show_if of field '{name}' reads '{unknown}', but answers have no parts; "
                "use the field's name alone, or a record name such as 'cin_plan.open'",
                data,
                "show_if",
            )
        if unknown is not None:
            raise self.error(
                f"show_if reads '{unknown}', which is not a field before '{name}'",
                data,
                "show_if",
            )
        return expression

    def not_before(
        self, data: Mapping[str, Any], name: str, before: Mapping[str, Field]
    ) -> str | None:
        other = data.get("not_before")
        if other is None:
            return None
        if other == "referral":
            return "referral"
        earlier = before.get(other) if isinstance(other, str) else None
        if earlier is None or earlier.type is not FieldType.DATE:
            raise self.error(
                f"not_before of field '{name}' names '{other}', which is not 'referral' or a "
                f"date field before '{name}'",
                data,
                "not_before",
            )
        return str(other)

    def same_as(
        self, data: Mapping[str, Any], name: str, before: Mapping[str, Field]
    ) -> str | None:
        other = data.get("same_as")
        if other is None:
            return None
        earlier = before.get(other) if isinstance(other, str) else None
        if earlier is None or earlier.type is not FieldType.DATE:
            raise self.error(
                f"same_as of field '{name}' names '{other}', which is not a date field before "
                f"'{name}'",
                data,
                "same_as",
            )
        return str(other)

    def record(
        self,
        data: Mapping[str, Any],
        ftype: FieldType,
        what: str,
        options: Sequence[Option],
        codelist: str | None,
    ) -> str | None:
        path = data.get("record")
        if path is None:
            return None
        if ftype is FieldType.GROUP:
            raise self.error(
                f"{what} is a group; a group cannot fill a record item", data, "record"
            )
        if not isinstance(path, str) or path not in RECORD_ITEMS:
            raise self.error(
                f"record item '{path}' of {what} is not known{_suggest(str(path), RECORD_ITEMS)}",
                data,
                "record",
            )
        item = RECORD_ITEMS[path]
        wanted = _FIELD_FOR_ITEM[item.type]
        if ftype is not wanted:
            raise self.error(
                f"{what} is a {ftype.value} question, but record item '{path}' holds "
                f"{_item_text(item.type, item.codelist)}; use type: {wanted.value}",
                data,
                "record",
            )
        if item.codelist is not None:
            if codelist is not None and codelist != item.codelist:
                raise self.error(
                    f"{what} uses code list '{codelist}', but record item '{path}' holds codes "
                    f"from '{item.codelist}'; use codelist: {item.codelist}",
                    data,
                    "record",
                )
            if codelist is None:
                statutory = self.codelists.get(item.codelist)
                if statutory is None:
                    raise self.error(
                        f"record item '{path}' of {what} needs code list '{item.codelist}', "
                        "which is not known",
                        data,
                        "record",
                    )
                wrong = [o.value for o in options if o.value not in statutory]
                if wrong:
                    raise self.error(
                        f"options {', '.join(repr(v) for v in wrong)} of {what} are not codes "
                        f"of '{item.codelist}', which record item '{path}' holds",
                        data,
                        "options",
                    )
        return path

    def errors(self, data: Mapping[str, Any], what: str) -> Mapping[str, str]:
        overrides = data.get("errors")
        if overrides is None:
            return {}
        if not isinstance(overrides, Mapping):
            raise self.error(
                f"errors of {what} must be a mapping like {{required: ...}}", data, "errors"
            )
        self.check_keys(overrides, ERROR_KINDS, f"errors of {what}")
        result: dict[str, str] = {}
        for kind, message in overrides.items():
            if not isinstance(message, str) or not message.strip():
                raise self.error(f"errors.{kind} of {what} must be some text", overrides, kind)
            result[kind] = message.strip()
        return result

    def example(self, data: Mapping[str, Any], f: Field, what: str) -> Field:
        raw = data.get("example")
        if raw is None:
            return f
        value, problems = clean_answer(f, raw)
        if problems:
            where = problems[0].field
            where_text = "" if where == f.name else f" ({where})"
            raise self.error(
                f"example of {what} is not a valid answer{where_text}: {problems[0].message}",
                data,
                "example",
            )
        return replace(f, example=value)


def parse_form(
    data: Any,
    file: str,
    codelists: Mapping[str, Codelist],
    expected_id: str | None = None,
) -> Form:
    """Check and build a form from loaded YAML (see docs/pack-authoring.md, "Forms").

    ``codelists`` holds every code list the form may name: the statutory lists and the pack's
    own. ``expected_id`` is the file's stem when the form comes from ``forms/<id>.yaml``.
    Raises :class:`PackError` with the file and line of the first problem.
    """
    return _Parser(file, codelists).form(data, expected_id)
