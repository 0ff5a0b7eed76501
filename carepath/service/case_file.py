"""The case file as a person reads it: the child, the stages, the record, what can be done.

Built from the case view the service already gives (``CaseService.view_case``), with codes
turned into their labels and dates into ages, so every front end (the web app's case page, the
JSON API) tells the same story.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from carepath.core.ages import age_on
from carepath.core.codes import STATUTORY_CODELISTS
from carepath.engine.time.clock import today
from carepath.service.chronology import ChronologyEntry
from carepath.service.types import (
    ActionView,
    AuditReport,
    CaseView,
    JsonValue,
    ProcessMap,
)

# Sections of the record, in the order a case file shows them: (key, title, columns).
RECORD_SECTIONS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("assessments", "Assessments", (("start", "Started"), ("authorised", "Authorised"),
                                    ("factors", "Factors"))),
    ("s47", "Section 47 enquiries", (("start", "Strategy discussion"),
                                     ("icpc_date", "Initial conference"),
                                     ("icpc_target", "Conference due by"))),
    ("cin_plans", "Child in need plans", (("start", "Started"), ("end", "Ended"))),
    ("cp_plans", "Child protection plans", (("start", "Started"),
                                            ("initial_category", "Initial category"),
                                            ("latest_category", "Latest category"),
                                            ("reviews", "Reviews"), ("end", "Ended"))),
)
CODE_FIELDS = {"factors": "assessment_factors", "initial_category": "abuse_category",
               "latest_category": "abuse_category", "source": "referral_source",
               "reason": "closure_reason"}


@dataclass(frozen=True)
class CasePage:
    """What a case page shows, from one read of the case (``CaseService.case_page``): the
    view, the actions the person may take, the running processes drawn, the chronology, and
    the audit check (``audit.intact`` False: changed behind carepath's back)."""

    view: CaseView
    actions: list[ActionView]
    maps: list[ProcessMap]
    chronology: list[ChronologyEntry]
    audit: AuditReport


@dataclass(frozen=True)
class Row:
    label: str
    value: str


@dataclass(frozen=True)
class RecordTable:
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class EpisodeView:
    number: int
    open: bool
    summary: tuple[Row, ...]
    tables: tuple[RecordTable, ...]


def _label(codelist: str, value: JsonValue) -> str:
    found = STATUTORY_CODELISTS.get(codelist)
    if isinstance(value, list):
        return ", ".join(_label(codelist, v) for v in value) or "None"
    if value is None:
        return ""
    text = str(value)
    return f"{found.label(text)} ({text})" if found and text in found else text


def show_date(value: JsonValue) -> str:
    if not isinstance(value, str):
        return ""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return value
    return f"{day.day} {day:%B %Y}"


def _cell(key: str, value: JsonValue) -> str:
    if key in CODE_FIELDS:
        return _label(CODE_FIELDS[key], value)
    if isinstance(value, list):
        return ", ".join(show_date(v) or str(v) for v in value) or "None"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, str):
        return show_date(value)
    return "" if value is None else str(value)


def age_in_years(born: date, on: date) -> int:
    return age_on(born, on)


def child_rows(child: Mapping[str, JsonValue]) -> tuple[Row, ...]:
    """The child summary: identifiers, age, sex, ethnicity, disabilities."""
    rows = [Row("LA child ID", str(child.get("la_child_id") or ""))]
    if child.get("upn"):
        rows.append(Row("Unique pupil number", str(child["upn"])))
    elif child.get("upn_unknown"):
        rows.append(Row("Unique pupil number", _label("upn_unknown", child["upn_unknown"])))
    born = child.get("birth_date")
    if isinstance(born, str):
        try:
            years = age_in_years(date.fromisoformat(born), today())
            rows.append(Row("Date of birth", f"{show_date(born)} (age {years})"))
        except ValueError:
            rows.append(Row("Date of birth", born))
    elif child.get("expected_birth_date"):
        rows.append(Row("Expected date of birth", show_date(child["expected_birth_date"])))
    rows.append(Row("Sex", _label("sex", child.get("sex"))))
    rows.append(Row("Ethnicity", _label("ethnicity", child.get("ethnicity"))))
    rows.append(Row("Disabilities", _label("disability", child.get("disabilities") or [])))
    return tuple(rows)


def episode_views(episodes: Sequence[Mapping[str, JsonValue]]) -> tuple[EpisodeView, ...]:
    """Each episode of need, newest first, with its record tables."""
    out = []
    for number, episode in enumerate(episodes, start=1):
        referral = episode.get("referral")
        referral = referral if isinstance(referral, Mapping) else {}
        closure = episode.get("closure")
        closure = closure if isinstance(closure, Mapping) else None
        summary = [Row("Referral received", show_date(referral.get("date"))),
                   Row("Referral source", _label("referral_source", referral.get("source")))]
        if referral.get("nfa"):
            summary.append(Row("Outcome of referral", "No further action"))
        if episode.get("primary_need"):
            summary.append(Row("Primary need", _label("primary_need", episode["primary_need"])))
        if episode.get("emergency_protection"):
            summary.append(Row("Emergency protection",
                               show_date(episode["emergency_protection"])))
        if closure:
            summary.append(Row("Closed", f"{show_date(closure.get('date'))} – "
                                         f"{_label('closure_reason', closure.get('reason'))}"))
        tables = []
        for key, title, columns in RECORD_SECTIONS:
            items = episode.get(key)
            if not isinstance(items, list) or not items:
                continue
            rows = tuple(tuple(_cell(col, item.get(col) if isinstance(item, Mapping) else None)
                               for col, _ in columns) for item in items)
            tables.append(RecordTable(title, tuple(t for _, t in columns), rows))
        out.append(EpisodeView(number, closure is None, tuple(summary), tuple(tables)))
    return tuple(reversed(out))
