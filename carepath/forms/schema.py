"""What a form is once its YAML has been checked: a title and an ordered list of fields.

Nothing here reads files or renders anything; :mod:`carepath.forms.loader` builds these objects
from loaded YAML and :mod:`carepath.forms.validation` checks answers against them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from carepath.core.expressions.evaluator import Expression


class FieldType(Enum):
    TEXT = "text"
    TEXTAREA = "textarea"
    DATE = "date"
    NUMBER = "number"
    YESNO = "yesno"
    CHOICE = "choice"
    MULTICHOICE = "multichoice"
    GROUP = "group"


# Keys a field's `errors:` may override.
ERROR_KINDS: tuple[str, ...] = ("required", "invalid", "min", "max", "future", "before",
                                 "same")


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True)
class Field:
    """One question. ``fields`` holds the questions of each row when ``type`` is GROUP."""

    name: str
    type: FieldType
    label: str
    hint: str | None = None
    guidance: str | None = None
    required: bool = False
    show_if: Expression | None = None
    min: float | None = None  # number: value; text/textarea: length; group: rows
    max: float | None = None
    not_future: bool = False
    not_before: str | None = None  # 'referral' or the name of an earlier date field
    same_as: str | None = None  # the name of an earlier date field this date must equal
    record: str | None = None  # a key of carepath.core.record_items.RECORD_ITEMS
    example: Any = None  # already cleaned (as `validate` would return it); None: no example
    options: tuple[Option, ...] = ()
    codelist: str | None = None
    fields: tuple[Field, ...] = ()
    errors: Mapping[str, str] = field(default_factory=dict)
    line: int = 0

    def option_label(self, value: str) -> str:
        """The label of option ``value`` (the value itself if it is not an option)."""
        for option in self.options:
            if option.value == value:
                return option.label
        return value


@dataclass(frozen=True)
class Form:
    id: str
    title: str
    guidance: str | None
    fields: tuple[Field, ...]
    file: str = ""
    line: int = 0

    def field(self, name: str) -> Field:
        """The top-level field called ``name``; KeyError if there is none."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"form '{self.id}' has no field '{name}'")

    def record_fields(self) -> list[Field]:
        """Fields that fill a record item (`record:`), in form order."""
        return [f for f in self.fields if f.record is not None]

    def names(self) -> list[str]:
        """Names of the top-level fields, in form order."""
        return [f.name for f in self.fields]
