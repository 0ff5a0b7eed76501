"""A pack's own code lists (``codelists/*.yaml``) as :class:`~carepath.core.codes.Codelist`.

```yaml
id: contact_outcome
title: Contact outcome
codes:
  - {code: A, label: Advice and information}
  - {code: R, label: Referral to children's social care}
```
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping
from typing import Any

from carepath.core.codes import STATUTORY_CODELISTS, Code, Codelist
from carepath.core.errors import PackError

__all__ = ["CODELIST_KEYS", "CODE_KEYS", "STATUTORY_IDS", "parse_codelist"]

CODELIST_KEYS: tuple[str, ...] = ("id", "title", "codes")
CODE_KEYS: tuple[str, ...] = ("code", "label")
ID_RE = re.compile(r"[a-z][a-z0-9_]*")

# The built-in statutory lists (CIN census). A pack cannot redefine them.
STATUTORY_IDS: frozenset[str] = frozenset(
    {
        "sex",
        "upn_unknown",
        "ethnicity",
        "disability",
        "referral_source",
        "primary_need",
        "closure_reason",
        "abuse_category",
        "assessment_factors",
    }
)


def _line(data: Any, key: str | None = None) -> int | None:
    if key is not None and hasattr(data, "line_of"):
        line = data.line_of(key)
        return int(line) if line else None
    line = getattr(data, "line", None)
    return int(line) if line else None


def _check_keys(data: Mapping[str, Any], allowed: tuple[str, ...], what: str, file: str) -> None:
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f" (known: {', '.join(allowed)})"
            raise PackError(f"unknown key '{key}' in {what}{hint}", file, _line(data, key))


def _text(data: Mapping[str, Any], key: str, what: str, file: str) -> str:
    value = data.get(key)
    if value is None:
        raise PackError(f"{what} has no {key}", file, _line(data))
    if not isinstance(value, str) or not value.strip():
        raise PackError(f"{key} of {what} must be some text", file, _line(data, key))
    return value.strip()


def parse_codelist(
    data: Any,
    file: str,
    reserved: Collection[str] | None = None,
    expected_id: str | None = None,
) -> Codelist:
    """Check and build a local code list from loaded YAML.

    ``reserved`` are ids the pack may not use (default: the statutory list ids). Codes are kept
    as text: YAML's ``code: 21`` becomes ``'21'``. ``expected_id`` is the file's stem, if the
    id must match it. Raises :class:`PackError` with the file and line of the first problem.
    """
    taken = set(STATUTORY_IDS | set(STATUTORY_CODELISTS)) if reserved is None else set(reserved)
    if not isinstance(data, Mapping):
        raise PackError(
            "a code list must be a mapping with id, title and codes", file, _line(data) or 1
        )
    _check_keys(data, CODELIST_KEYS, "the code list", file)
    list_id = _text(data, "id", "the code list", file)
    if not ID_RE.fullmatch(list_id):
        raise PackError(
            f"code list id '{list_id}' must be lower case letters, digits and '_', starting "
            "with a letter",
            file,
            _line(data, "id"),
        )
    if list_id in taken:
        raise PackError(
            f"code list '{list_id}' is a built-in statutory list; a pack cannot redefine it "
            "(choose another id)",
            file,
            _line(data, "id"),
        )
    if expected_id is not None and list_id != expected_id:
        raise PackError(
            f"code list id '{list_id}' does not match its file name (expected '{expected_id}')",
            file,
            _line(data, "id"),
        )
    what = f"code list '{list_id}'"
    title = _text(data, "title", what, file)
    items = data.get("codes")
    if items is None:
        raise PackError(f"{what} has no codes", file, _line(data))
    if not isinstance(items, list) or not items:
        raise PackError(
            f"codes of {what} must be a list of {{code, label}}", file, _line(data, "codes")
        )
    codes: list[Code] = []
    for item in items:
        where = item if _line(item) else items
        if not isinstance(item, Mapping):
            raise PackError(
                f"each code of {what} must be a mapping with code and label", file, _line(where)
            )
        _check_keys(item, CODE_KEYS, f"a code of {what}", file)
        code = item.get("code")
        if isinstance(code, bool) or not isinstance(code, str | int) or not str(code).strip():
            raise PackError(
                f"a code of {what} needs a code (text or a whole number)",
                file,
                _line(where, "code"),
            )
        text = str(code).strip()
        label = _text(item, "label", f"code '{text}' of {what}", file)
        if any(c.code == text for c in codes):
            raise PackError(f"code '{text}' appears twice in {what}", file, _line(where, "code"))
        codes.append(Code(text, label))
    return Codelist(list_id, title, tuple(codes), statutory=False)
