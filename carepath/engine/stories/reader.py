"""Reading the values of one story file, failing at the first problem with its file and line.

:class:`StoryReader` knows the shapes (mappings, lists) and scalars (dates, codes, yes/no, text)
of the story format; what the values must mean for a case is checked by its subclasses
(:mod:`carepath.engine.stories.rules`, :mod:`carepath.engine.stories.story`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from carepath.core.codes import STATUTORY_CODELISTS
from carepath.core.errors import StoryError
from carepath.core.yamlsource import SourceDict, SourceList


class StoryFormatError(StoryError):
    """A story is malformed. ``file`` and ``line`` say where; ``detail`` is the bare message."""

    def __init__(self, message: str, file: str, line: int | None = None) -> None:
        self.file = file
        self.line = line
        self.detail = message
        super().__init__((f"{file}:{line}: " if line else f"{file}: ") + message)


class StoryReader:
    """Reads one story file, raising :class:`StoryFormatError` at the first problem."""

    def __init__(self, file: str) -> None:
        self.file = file

    # -- where ---------------------------------------------------------------------------

    @staticmethod
    def line(node: Any, key: str | None = None) -> int | None:
        if isinstance(node, SourceDict):
            line = node.line_of(key) if key is not None else node.line
            return line or None
        if isinstance(node, SourceList):
            return node.line or None
        return None

    def fail(self, message: str, node: Any = None, key: str | None = None) -> StoryFormatError:
        return StoryFormatError(message, self.file, self.line(node, key))

    # -- shapes --------------------------------------------------------------------------

    def mapping(
        self,
        value: Any,
        what: str,
        allowed: Sequence[str],
        required: Sequence[str] = (),
        parent: Any = None,
        key: str | None = None,
    ) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            where = (parent, key) if self.line(parent, key) else (value, None)
            raise self.fail(f"{what} must be a mapping of keys to values", *where)
        for k in value:
            if k not in allowed:
                raise self.fail(
                    f"unknown key '{k}' in {what} (expected: {', '.join(allowed)})", value, str(k)
                )
        for k in required:
            if k not in value or value[k] is None:
                raise self.fail(f"{what} needs '{k}'", value)
        return value

    def sequence(self, node: Mapping[str, Any], key: str, what: str) -> list[Any]:
        value = node.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(f"{what} must be a list", node, key)
        return value

    # -- scalars -------------------------------------------------------------------------

    def day(self, node: Mapping[str, Any], key: str, what: str) -> date:
        return self.day_value(node[key], node, key, what)

    def day_value(self, value: Any, node: Any, key: str, what: str) -> date:
        if isinstance(value, datetime):
            raise self.fail(f"{what} must be a date without a time, like 2025-05-01", node, key)
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise self.fail(f"{what} must be a date like 2025-05-01 (not {value!r})", node, key)

    def opt_day(self, node: Mapping[str, Any], key: str, what: str) -> date | None:
        return None if node.get(key) is None else self.day(node, key, what)

    def code(self, node: Mapping[str, Any], key: str, codelist: str, what: str) -> str:
        return self._code_value(node[key], node, key, codelist, what)

    def _code_value(self, value: Any, node: Any, key: str, codelist: str, what: str) -> str:
        cl = STATUTORY_CODELISTS[codelist]
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.fail(f"{what} must be a code from '{cl.title}' (not {value!r})", node, key)
        code = str(value).strip()
        if code not in cl:
            raise self.fail(
                f"{what}: '{code}' is not a code in '{cl.title}' "
                f"(codes: {', '.join(c.code for c in cl.codes)})",
                node,
                key,
            )
        return code

    def codes(self, node: Mapping[str, Any], key: str, codelist: str, what: str) -> list[str]:
        values = self.sequence(node, key, what)
        codes = [self._code_value(v, node, key, codelist, what) for v in values]
        for c in codes:
            if codes.count(c) > 1:
                raise self.fail(f"{what}: '{c}' is given twice", node, key)
        return codes

    def yesno(self, node: Mapping[str, Any], key: str, what: str) -> bool:
        value = node.get(key, False)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self.fail(f"{what} must be true or false (not {value!r})", node, key)
        return value

    def text(self, node: Mapping[str, Any], key: str, what: str) -> str:
        value = node[key]
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.fail(f"{what} must be text (not {value!r})", node, key)
        return str(value).strip()
