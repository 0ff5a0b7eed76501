"""The record tables against the event log: every stored row equals what the events say.

The events are replayed (:class:`carepath.engine.record.replay.RecordReplay`) into the record
they describe; that record is turned into the rows :func:`records.save_record` would write; the
rows actually stored are read straight from the database (never from the record cache) and the
two are compared row by row and column by column. Each difference is one problem naming the
table, the row (by its place in the record: ``episodes[0].assessments[1]``), the column and the
event that last wrote it. Rows that are missing, and rows the events never wrote, are reported
too.

Covered: ``children``, ``episodes``, ``assessments``, ``section47s``, ``cp_plans`` (with the
review summary ``review_count``/``last_review``, checked against the reviews the events give),
``cp_reviews``, ``cin_plans``, the looked-after record (``looked_after`` and the ``lac_*``
tables, rows named by their place: ``looked_after.placements[1]``), and on ``cases``: ``la_child_id``, ``pack_name``,
``pack_version``, ``worker``, ``team``, ``restricted``; and ``case_access`` (who a case is shown
to). Not covered (the workflow's own working state, or bookkeeping): ``cases.version`` (the
optimistic lock counter), ``cases.created_at``, ``process_instances``, ``tasks`` and
``task_drafts``. ``cases.event_seq``/``head_hash`` are the chain's head, checked by
:mod:`audit`. The case's pack moves with ``case.migrated`` and ``case.migration_undone``.

Code lists (disabilities, assessment factors) are compared as sets: their order means nothing.
Values of the child's identifying details are never shown in a problem (personal data).

Reads are batched: eighteen queries per batch of cases (:func:`load_stored`), however many
rows; for one case, one query first finds which of the tables hold any of its rows, and only
those are read. The case page (:mod:`case_file`) asks that with the case row
(:func:`presence_probes`), and passes the rows it read for the record, so they are not read
twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

from sqlalchemy import ColumnElement, Connection, Table, exists, select

from carepath.core.errors import RecordError
from carepath.engine.record.case_record import CaseRecord
from carepath.engine.record.replay import CHILD_FIELDS, RECORD_EVENTS, RecordReplay
from carepath.service.types import AuditProblem

from .lac_records import LIST_NAMES, LISTS, SINGLE_COLUMNS
from .lac_records import expected_rows as lac_expected_rows
from .models import (
    AssessmentRow,
    CaseAccessRow,
    ChildRow,
    CINPlanRow,
    CPPlanRow,
    CPReviewRow,
    EpisodeRow,
    Section47Row,
)
from .models_lac import LookedAfterRow
from .records import (
    LoadedRows,
    _assessment_values,
    _child_values,
    _cin_plan_values,
    _cp_plan_values,
    _episode_values,
    _s47_values,
)

# The events that change the case row or who may see the case (besides the record's own).
CASE_EVENTS = frozenset({"case.opened", "referral.recorded", "case.worker_changed",
                         "case.restricted", "case.unrestricted", "case.access_granted",
                         "case.migrated", "case.migration_undone"})

Key = tuple[str, tuple[Any, ...]]  # (table, the row's place in the record)
Row = dict[str, Any]

_CODE_LISTS = {("children", "disabilities"), ("assessments", "factors")}
_PERSONAL = {"children"}  # tables whose values are never shown
# columns whose values are never shown (where the child lives, who cares for them)
_PERSONAL_COLUMNS = {("lac_placements", "postcode"), ("lac_placements", "home_postcode"),
                     ("lac_placements", "carer")}
_PARTS = {"children": "child", "episodes": "episode", "assessments": "assessment",
          "section47s": "s47", "cp_plans": "cp_plan", "cin_plans": "cin_plan",
          "cp_reviews": "review"}
_LISTS = {"assessments": "assessments", "section47s": "s47s", "cp_plans": "cp_plans",
          "cin_plans": "cin_plans"}
_CASE_COLUMNS = ("la_child_id", "pack_name", "pack_version", "worker", "team", "restricted")


def _place(table: str, key: tuple[Any, ...]) -> str:
    """A row by its place in the record: ``episodes[0].cp_plans[1].reviews[2]``."""
    if table == "cases":
        return "the case row"
    if table == "children":
        return "the child row"
    if table == "case_access":
        return f"access for {key[0]!r}"
    if table == "episodes":
        return f"episodes[{key[0]}]"
    if table == "cp_reviews":
        return f"episodes[{key[0]}].cp_plans[{key[1]}].reviews[{key[2]}]"
    if table == "looked_after":
        return "the looked-after row"
    if table in LIST_NAMES:
        return f"looked_after.{LIST_NAMES[table]}[{key[0]}]"
    return f"episodes[{key[0]}].{_LISTS[table]}[{key[1]}]"


# --- the rows stored ----------------------------------------------------------------------------


@dataclass
class StoredCase:
    """One case's rows as stored: (table, key) -> column values."""

    rows: dict[Key, Row] = field(default_factory=dict)


_children = cast(Table, ChildRow.__table__)
_episodes = cast(Table, EpisodeRow.__table__)
_ITEM_TABLES: tuple[tuple[Table, tuple[str, ...]], ...] = (
    (cast(Table, AssessmentRow.__table__), ("start_date", "authorised_date", "factors")),
    (cast(Table, Section47Row.__table__), ("start_date", "icpc_date", "icpc_not_required")),
    (cast(Table, CPPlanRow.__table__), ("start_date", "end_date", "initial_category",
                                        "latest_category", "review_count", "last_review")),
    (cast(Table, CINPlanRow.__table__), ("start_date", "end_date")),
)
_plans = cast(Table, CPPlanRow.__table__)
_reviews = cast(Table, CPReviewRow.__table__)
_access = cast(Table, CaseAccessRow.__table__)
_lac = cast(Table, LookedAfterRow.__table__)
_CHILD_COLUMNS = ("upn", "upn_unknown", "birth_date", "expected_birth_date", "sex", "ethnicity",
                  "disabilities")
_EPISODE_COLUMNS = ("referral_date", "referral_source", "referral_nfa", "primary_need",
                    "closure_date", "closure_reason", "emergency_protection")


def load_stored(conn: Connection, cases: Iterable[Any], first: int, last: int,
                access: frozenset[str] | None = None, present: set[str] | None = None,
                loaded: LoadedRows | None = None) -> dict[int, StoredCase]:
    """The record rows of the cases with ids ``first`` to ``last`` (``cases``: their case rows,
    with the columns of :data:`_CASE_COLUMNS`), in eight queries. For one case, what was read
    already is not read again: ``access`` the names in its ``case_access`` rows, ``present``
    the optional tables holding its rows (:func:`presence_probes`), ``loaded`` the rows
    ``records.load_record`` read (its child, episodes and item tables)."""
    stored: dict[int, StoredCase] = {}
    for case in cases:
        stored[case.id] = StoredCase({("cases", ()): {c: getattr(case, c)
                                                      for c in _CASE_COLUMNS}})

    def add(case_id: int, key: Key, row: Row) -> None:
        found = stored.get(case_id)
        if found is not None:
            found.rows[key] = row

    if (access is not None or present is not None or loaded is not None) and first != last:
        raise ValueError("rows already read are one case's only")
    if present is None and first == last:
        present = _present_tables(conn, first, last, access is None)

    def read(table: Table) -> bool:
        return present is None or table.name in present

    if loaded is not None:
        if loaded.child.case_id is not None:
            add(first, ("children", ()), {c: getattr(loaded.child, c) for c in _CHILD_COLUMNS})
        for row in loaded.episodes:
            add(first, ("episodes", (row.seq,)), {c: getattr(row, c) for c in _EPISODE_COLUMNS})
    else:
        in_range = (_children.c.case_id >= first, _children.c.case_id <= last)
        for row in conn.execute(select(_children.c.case_id,
                                       *(_children.c[c] for c in _CHILD_COLUMNS))
                                .where(*in_range)):
            add(row.case_id, ("children", ()), {c: getattr(row, c) for c in _CHILD_COLUMNS})
        for row in conn.execute(
                select(_episodes.c.case_id, _episodes.c.seq,
                       *(_episodes.c[c] for c in _EPISODE_COLUMNS))
                .where(_episodes.c.case_id >= first, _episodes.c.case_id <= last)):
            add(row.case_id, ("episodes", (row.seq,)),
                {c: getattr(row, c) for c in _EPISODE_COLUMNS})
    for table, columns in _ITEM_TABLES:
        if loaded is not None and (table.name in loaded.items or not loaded.episodes):
            # read with the record (none can be the case's if it has no episode)
            seqs = {row.id: row.seq for row in loaded.episodes}
            for row in loaded.items.get(table.name, ()):
                add(first, (table.name, (seqs[row.episode_id], row.seq)),
                    {c: getattr(row, c) for c in columns})
            continue
        if not read(table):
            continue
        query = (select(_episodes.c.case_id, _episodes.c.seq.label("episode_seq"), table.c.seq,
                        *(table.c[c] for c in columns))
                 .join(_episodes, _episodes.c.id == table.c.episode_id)
                 .where(_episodes.c.case_id >= first, _episodes.c.case_id <= last))
        for row in conn.execute(query):
            add(row.case_id, (table.name, (row.episode_seq, row.seq)),
                {c: getattr(row, c) for c in columns})
    query = (select(_episodes.c.case_id, _episodes.c.seq.label("episode_seq"),
                    _plans.c.seq.label("plan_seq"), _reviews.c.seq, _reviews.c.review_date)
             .join(_plans, _plans.c.id == _reviews.c.cp_plan_id)
             .join(_episodes, _episodes.c.id == _plans.c.episode_id)
             .where(_episodes.c.case_id >= first, _episodes.c.case_id <= last))
    for row in conn.execute(query) if read(_reviews) else ():
        add(row.case_id, ("cp_reviews", (row.episode_seq, row.plan_seq, row.seq)),
            {"review_date": row.review_date})
    if access is not None:
        for name in access:
            add(first, ("case_access", (name,)), {})
    else:
        for row in conn.execute(select(_access.c.case_id, _access.c.user_name)
                                .where(_access.c.case_id >= first, _access.c.case_id <= last)
                                ) if read(_access) else ():
            add(row.case_id, ("case_access", (row.user_name,)), {})
    for row in conn.execute(select(_lac.c.case_id, *(_lac.c[c] for c in SINGLE_COLUMNS))
                            .where(_lac.c.case_id >= first, _lac.c.case_id <= last)
                            ) if read(_lac) else ():
        add(row.case_id, ("looked_after", ()), {c: getattr(row, c) for c in SINGLE_COLUMNS})
    for spec in LISTS:
        t, lac_columns = spec.table, [c for c, _ in spec.columns]
        if not read(t):
            continue
        for row in conn.execute(select(t.c.case_id, t.c.seq, *(t.c[c] for c in lac_columns))
                                .where(t.c.case_id >= first, t.c.case_id <= last)):
            add(row.case_id, (spec.name, (row.seq,)), {c: getattr(row, c) for c in lac_columns})
    return stored


def _present_tables(conn: Connection, first: int, last: int, access: bool = True) -> set[str]:
    """The names of the optional record tables holding any row of the cases ``first`` to
    ``last``, in one query: one case's check (the case page's) then reads only those, instead of
    a query per table (most cases have no looked-after rows at all). Stray rows are still found:
    a table with any row of the case is read whole."""
    row = conn.execute(select(*_probes(lambda c: c >= first, lambda c: c <= last,
                                       access=access))).one()
    return {name for name, found in row._mapping.items() if found}


def presence_probes(case_id: Any) -> list[ColumnElement[bool]]:
    """The columns (one EXISTS each, labelled with its table's name) saying which optional
    record tables, ``case_access`` aside, hold rows of the case ``case_id`` (a bound
    parameter): to read with the case row, then pass as ``load_stored(present=...)`` the
    names of those true (:func:`present_in`)."""
    return _probes(lambda c: c == case_id, access=False)


def present_in(row: Any) -> set[str]:
    """The tables a row with :func:`presence_probes` says hold rows of the case."""
    mapping = row._mapping
    return {name for name in PROBED if mapping[name]}


def _probes(*conditions: Any, access: bool) -> list[ColumnElement[bool]]:
    def where(column: Any) -> list[Any]:
        return [condition(column) for condition in conditions]

    probes: list[ColumnElement[bool]] = []
    for table, _ in _ITEM_TABLES:
        probes.append(exists().where(_episodes.c.id == table.c.episode_id,
                                     *where(_episodes.c.case_id)).label(table.name))
    probes.append(exists().where(_plans.c.id == _reviews.c.cp_plan_id,
                                 _episodes.c.id == _plans.c.episode_id,
                                 *where(_episodes.c.case_id)).label(_reviews.name))
    for table in (*((_access,) if access else ()), _lac, *(spec.table for spec in LISTS)):
        probes.append(exists().where(*where(table.c.case_id)).label(table.name))
    return probes


PROBED = tuple(str(p.name) for p in _probes(lambda c: c == 0, access=False))


# --- the rows the events give --------------------------------------------------------------------


def expected_rows(record: CaseRecord) -> dict[Key, Row]:
    """The rows :func:`records.save_record` writes for ``record`` (the ``cases`` row aside)."""
    rows: dict[Key, Row] = {("children", ()): _child_values(record.child)}
    for e, ep in enumerate(record.episodes):
        rows[("episodes", (e,))] = _episode_values(ep)
        for i, a in enumerate(ep.assessments):
            rows[("assessments", (e, i))] = _assessment_values(a)
        for i, s in enumerate(ep.s47s):
            rows[("section47s", (e, i))] = _s47_values(s)
        for i, p in enumerate(ep.cp_plans):
            rows[("cp_plans", (e, i))] = _cp_plan_values(p)
            for r, day in enumerate(p.reviews):
                rows[("cp_reviews", (e, i, r))] = {"review_date": day}
        for i, c in enumerate(ep.cin_plans):
            rows[("cin_plans", (e, i))] = _cin_plan_values(c)
    rows.update(lac_expected_rows(record.looked_after))
    return rows


def _part(table: str, key: tuple[Any, ...]) -> tuple[Any, ...]:
    """The part of the record (as the replay names it) a row holds."""
    if table == "children":
        return ("child",)
    if table == "looked_after":
        return ("lac",)
    if table in LIST_NAMES:
        return ("lac", LIST_NAMES[table], *key)
    return (_PARTS[table], *key)


class CaseReplay:
    """One case's events, fed in order: the record and the case row they describe."""

    def __init__(self, case_id: int) -> None:
        self.case_id = case_id
        self.record = RecordReplay()
        self.case: Row = {}  # the case row's columns the events give
        self.case_written: dict[str, int] = {}
        self.access: dict[str, int] = {}  # name -> the event that named them
        self.problems: list[AuditProblem] = []
        self.broken = False  # an event could not be replayed: later rows are not compared

    def feed(self, seq: int, kind: str, payload_json: str) -> None:
        if self.broken or (kind not in CASE_EVENTS and kind not in RECORD_EVENTS):
            return
        try:
            payload = json.loads(payload_json)
            if not isinstance(payload, dict):
                raise RecordError(f"event {seq} ({kind}) cannot be replayed: its payload is not "
                                  "an object")
            self.record.apply(seq, kind, payload)
            if kind in CASE_EVENTS:
                self._case_event(seq, kind, payload)
        except (RecordError, ValueError, TypeError, KeyError, AttributeError) as exc:
            message = str(exc) if isinstance(exc, RecordError) else (
                f"event {seq} ({kind}) cannot be replayed: it does not hold what carepath "
                f"writes there ({type(exc).__name__})")
            self.problems.append(AuditProblem(self.case_id, seq, message))
            self.broken = True

    def _set(self, seq: int, column: str, value: Any) -> None:
        self.case[column] = value
        self.case_written[column] = seq

    def _pack(self, seq: int, key: Any) -> None:
        name, _, version = str(key).rpartition("@")
        self._set(seq, "pack_name", name)
        self._set(seq, "pack_version", version)

    def _case_event(self, seq: int, kind: str, payload: Mapping[str, Any]) -> None:
        if kind in ("case.migrated", "case.migration_undone"):  # moved to another pack
            self._pack(seq, payload["to"])
            return
        if kind in ("case.opened", "referral.recorded"):
            self._pack(seq, payload["pack"])
            for column in ("worker", "team"):
                if column in payload and (kind == "case.opened" or payload[column]):
                    self._set(seq, column, payload[column])
            if kind == "case.opened":
                self._set(seq, "restricted", False)
        elif kind == "case.worker_changed":
            self._set(seq, "worker", payload["to"])
        elif kind == "case.restricted":
            self._set(seq, "restricted", True)
            self.access = {str(n): seq for n in payload["names"]}
        elif kind == "case.unrestricted":
            self._set(seq, "restricted", False)
        else:
            self.access.setdefault(str(payload["name"]), seq)

    # -- comparing -------------------------------------------------------------------------

    def compare(self, stored: StoredCase) -> tuple[list[AuditProblem], list[AuditProblem]]:
        """(problems, notes): each way the stored rows differ from the events, and what could
        not be checked."""
        problems = list(self.problems)
        notes: list[AuditProblem] = []
        if self.broken:
            notes.append(AuditProblem(self.case_id, None, "the record tables were not compared "
                                      "with the events: the events cannot be replayed", True))
            return problems, notes
        record = self.record.record
        expected: dict[Key, Row] = {}
        written: dict[Key, int] = {}
        if record is not None:
            expected = expected_rows(record)
            for (table, key) in expected:
                seq = self.record.written.get(_part(table, key))
                if seq is not None:
                    written[(table, key)] = seq
            unknown = self.record.unknown_child
            case_row: Row = dict(self.case)
            if "la_child_id" not in unknown:
                case_row["la_child_id"] = record.child.la_child_id
                self.case_written["la_child_id"] = self.record.written.get(("child",), 0)
            expected[("cases", ())] = case_row
            written[("cases", ())] = 0
            for name, seq in self.access.items():
                expected[("case_access", (name,))] = {}
                written[("case_access", (name,))] = seq
            if unknown:
                child = expected[("children", ())]
                for column in unknown:
                    child.pop(column, None)
                notes.append(AuditProblem(
                    self.case_id, None, "the child's details as first recorded are not in the "
                    "events (the case was opened before carepath put them there): "
                    + ", ".join(f"children.{c}" if c != "la_child_id" else "cases.la_child_id"
                                for c in CHILD_FIELDS if c in unknown) + " not checked", True))
            missing = [c for c in ("worker", "team") if c not in self.case]
            if missing:
                notes.append(AuditProblem(
                    self.case_id, None, "the allocation the case was opened with is not in the "
                    "events (opened before carepath put it there): "
                    + ", ".join(f"cases.{c}" for c in missing) + " not checked", True))
        # else never opened by an event: there should be no record rows (the case row has
        # nothing to be compared with)
        for key in sorted(set(expected) | set(stored.rows), key=_order):
            table, where = key
            place = _place(table, where)
            want, have = expected.get(key), stored.rows.get(key)
            if table == "cases" and want is None:
                continue
            if have is None:
                seq = written.get(key)
                problems.append(AuditProblem(
                    self.case_id, seq, f"{table}: {place} is missing from the table (the events "
                    f"record it{f': event {seq}' if seq else ''})"))
                continue
            if want is None:
                problems.append(AuditProblem(
                    self.case_id, None, f"{table}: {place} is in the table but not in the events "
                    "(a row was added)"))
                continue
            for column, value in want.items():
                stored_value = have.get(column)
                if _same(table, column, stored_value, value):
                    continue
                seq = (self.case_written.get(column) if table == "cases"
                       else written.get(key)) or None
                by = f" (event {seq})" if seq else ""
                if table in _PERSONAL or (table, column) in _PERSONAL_COLUMNS \
                        or (table, column) == ("cases", "la_child_id"):
                    what = f"{column} differs from the events{by} (values not shown: personal data)"
                else:
                    what = (f"{column} is {_show(stored_value)} in the table but "
                            f"{_show(value)} by the events{by}")
                problems.append(AuditProblem(self.case_id, seq, f"{table}: {place}: {what}"))
        return problems, notes


_TABLE_ORDER = {t: i for i, t in enumerate(("cases", "case_access", "children", "episodes",
                                            "assessments", "section47s", "cp_plans",
                                            "cp_reviews", "cin_plans", "looked_after",
                                            *LIST_NAMES))}


def _order(key: Key) -> tuple[Any, ...]:
    table, where = key
    return (_TABLE_ORDER[table], tuple(str(w) if isinstance(w, str) else w for w in where))


def _same(table: str, column: str, stored: Any, expected: Any) -> bool:
    if (table, column) in _CODE_LISTS:
        return sorted((stored or "").split(",")) == sorted((expected or "").split(","))
    return bool(stored == expected)


def _show(value: Any) -> str:
    if value is None or value == "":
        return "empty"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    return repr(value) if isinstance(value, str) else str(value)
