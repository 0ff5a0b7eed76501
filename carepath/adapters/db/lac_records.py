"""The looked-after record <-> its rows (tables of :mod:`models_lac`).

A case has a ``looked_after`` row exactly when its looked-after record is not empty; its lists
are rows keyed by ``(case_id, seq)``. :func:`load_looked_after` reads one case's record (one
query for the single items, one per list); :func:`load_batch` reads those of a block of
consecutive case ids in as many queries, however many cases; :func:`save_looked_after` writes
only the rows that differ, matched by position (as :mod:`records` does for an episode's lists);
:func:`expected_rows` gives the rows a record should have (the audit compares them).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, delete, insert, select, update

from carepath.core.errors import RecordError
from carepath.engine.record.looked_after import (
    Adoption,
    CareLeaverContact,
    HealthOutcomes,
    LACReview,
    LegalStatus,
    LookedAfter,
    MissingEpisode,
    PeriodOfCare,
    Placement,
    PreviousPermanence,
    SocialWorkerPeriod,
    is_empty,
)

from .models_lac import (
    LacAdoptionRow,
    LacCareLeaverContactRow,
    LacLegalStatusRow,
    LacMissingRow,
    LacOutcomesRow,
    LacPeriodRow,
    LacPlacementRow,
    LacReviewRow,
    LacSocialWorkerRow,
    LookedAfterRow,
)

Values = dict[str, Any]
_CASE: Any = bindparam("b_case")
_SEQ: Any = bindparam("b_seq")


@dataclass(frozen=True)
class ListTable:
    """One list of :class:`LookedAfter` and its table: (column, dataclass field) pairs."""

    table: Table
    attr: str
    cls: type[Any]
    columns: tuple[tuple[str, str], ...]

    @property
    def name(self) -> str:
        return self.table.name

    def values(self, item: Any) -> Values:
        return {column: getattr(item, field) for column, field in self.columns}

    def item(self, row: Any) -> Any:
        return self.cls(**{field: getattr(row, column) for column, field in self.columns})

    def items(self, record: LookedAfter) -> list[Any]:
        return cast(list[Any], getattr(record, self.attr))


def _t(model: Any) -> Table:
    return cast(Table, model.__table__)


def _same(*names: str) -> tuple[tuple[str, str], ...]:
    return tuple((n, n) for n in names)


LISTS: tuple[ListTable, ...] = (
    ListTable(_t(LacPeriodRow), "periods", PeriodOfCare,
              (("start_date", "start"), ("need", "need"), ("end_date", "end"),
               ("reason_ceased", "reason_ceased"))),
    ListTable(_t(LacLegalStatusRow), "legal_statuses", LegalStatus,
              (("code", "code"), ("start_date", "start"), ("end_date", "end"))),
    ListTable(_t(LacPlacementRow), "placements", Placement,
              (("placement_type", "type"), ("start_date", "start"), ("end_date", "end"),
               *_same("provider", "carer", "urn", "postcode", "home_postcode",
                      "reason_changed"))),
    ListTable(_t(LacReviewRow), "reviews", LACReview,
              (("held_date", "held"), ("participation", "participation"))),
    ListTable(_t(LacMissingRow), "missing", MissingEpisode,
              (("kind", "kind"), ("start_date", "start"), ("end_date", "end"),
               *_same("rhi_offered", "rhi_accepted"))),
    ListTable(_t(LacAdoptionRow), "adoptions", Adoption,
              (("decision_date", "decision"), ("reversed_date", "reversed"),
               ("reversed_reason", "reversed_reason"),
               ("placement_order_date", "placement_order"), ("matched_date", "matched"),
               *_same("adopters", "adopters_sex", "adopters_legal_status",
                      "by_foster_carer"))),
    ListTable(_t(LacOutcomesRow), "outcomes", HealthOutcomes,
              _same("year", "sdq_score", "sdq_reason", "convicted", "health_check",
                    "immunisations", "teeth_check", "health_assessment", "substance_misuse",
                    "intervention_received", "intervention_offered")),
    ListTable(_t(LacCareLeaverContactRow), "care_leaver_contacts", CareLeaverContact,
              (("contact_date", "contacted"), *_same("in_touch", "activity", "accommodation",
                                                          "personal_adviser"))),
    ListTable(_t(LacSocialWorkerRow), "social_workers", SocialWorkerPeriod,
              (*_same("worker"), ("start_date", "start"), ("end_date", "end"),
               ("reason", "reason"))),
)
LIST_NAMES = {t.name: t.attr for t in LISTS}  # table -> the list it holds
# tables whose columns are their dataclass's fields in order: items built positionally (faster)
_POSITIONAL = {t.name: tuple(f.name for f in dataclasses.fields(t.cls))
               == tuple(field for _, field in t.columns) for t in LISTS}
_single = _t(LookedAfterRow)
SINGLE_COLUMNS = ("uasc", "uasc_ceased", "mother", "first_child_born", "prev_perm_option",
                  "prev_perm_year", "prev_perm_month", "prev_perm_day", "prev_perm_la")


def single_values(record: LookedAfter) -> Values:
    pp = record.previous_permanence
    return {
        "uasc": record.uasc, "uasc_ceased": record.uasc_ceased, "mother": record.mother,
        "first_child_born": record.first_child_born,
        "prev_perm_option": None if pp is None else pp.option,
        "prev_perm_year": None if pp is None else pp.year,
        "prev_perm_month": None if pp is None else pp.month,
        "prev_perm_day": None if pp is None else pp.day,
        "prev_perm_la": None if pp is None else pp.la,
    }


def _record_from_single(row: Any) -> LookedAfter:
    pp = None
    if row.prev_perm_option is not None:
        pp = PreviousPermanence(row.prev_perm_option, row.prev_perm_year, row.prev_perm_month,
                                row.prev_perm_day, row.prev_perm_la)
    return LookedAfter(uasc=bool(row.uasc), uasc_ceased=row.uasc_ceased, mother=row.mother,
                       first_child_born=row.first_child_born, previous_permanence=pp)


def expected_rows(record: LookedAfter) -> dict[tuple[str, tuple[Any, ...]], Values]:
    """The rows :func:`save_looked_after` writes for ``record``: (table, (seq,)) -> values."""
    if is_empty(record):
        return {}
    rows: dict[tuple[str, tuple[Any, ...]], Values] = {
        ("looked_after", ()): single_values(record)}
    for spec in LISTS:
        for seq, item in enumerate(spec.items(record)):
            rows[(spec.name, (seq,))] = spec.values(item)
    return rows


# --- load ----------------------------------------------------------------------------------------

_LOAD_SINGLE = select(*(_single.c[c] for c in SINGLE_COLUMNS)).where(_single.c.case_id == _CASE)
_LOAD_LISTS = {
    spec.name: select(spec.table.c.seq, *(spec.table.c[c] for c, _ in spec.columns))
    .where(spec.table.c.case_id == _CASE).order_by(spec.table.c.seq)
    for spec in LISTS
}


def _place(items: list[Any], seq: int, item: Any, case_id: int, table: str) -> None:
    if seq != len(items):
        raise RecordError(f"The stored record of case {case_id} is inconsistent: {table} row "
                          f"number {seq} follows {len(items)} earlier ones")
    items.append(item)


def load_looked_after(conn: Connection, case_id: int) -> LookedAfter:
    """The case's looked-after record (empty when it has no ``looked_after`` row)."""
    row = conn.execute(_LOAD_SINGLE, {"b_case": case_id}).one_or_none()
    if row is None:
        return LookedAfter()
    record = _record_from_single(row)
    for spec in LISTS:
        items = spec.items(record)
        for item_row in conn.execute(_LOAD_LISTS[spec.name], {"b_case": case_id}):
            _place(items, item_row.seq, spec.item(item_row), case_id, spec.name)
    return record


def load_batch(conn: Connection, first: int, last: int,
               case_ids: Iterable[int] | None = None) -> dict[int, LookedAfter]:
    """The looked-after records of the cases with ids ``first`` to ``last`` that have one (only
    those in ``case_ids`` when given): one query, and one per list."""
    wanted = None if case_ids is None else set(case_ids)
    records: dict[int, LookedAfter] = {}
    for row in conn.execute(select(_single.c.case_id, *(_single.c[c] for c in SINGLE_COLUMNS))
                            .where(_single.c.case_id.between(first, last))):
        if wanted is None or row.case_id in wanted:
            records[row.case_id] = _record_from_single(row)
    if not records:
        return records
    for spec in LISTS:  # the hot path of a 100,000-child SSDA903: plain tuples, no getattr
        t = spec.table
        cls, attr, name = spec.cls, spec.attr, spec.name
        fields = tuple(field for _, field in spec.columns)
        positional = _POSITIONAL[name]
        for case_id, seq, *values in conn.execute(
                select(t.c.case_id, t.c.seq, *(t.c[c] for c, _ in spec.columns))
                .where(t.c.case_id.between(first, last))
                .order_by(t.c.case_id, t.c.seq)).all():
            record = records.get(case_id)
            if record is not None:
                items = getattr(record, attr)
                if seq != len(items):
                    _place(items, seq, None, case_id, name)  # raises: rows out of step
                items.append(cls(*values) if positional
                             else cls(**dict(zip(fields, values, strict=True))))
    return records


# --- save ----------------------------------------------------------------------------------------

_INSERT_SINGLE = insert(_single)
_UPDATE_SINGLE = update(_single).where(_single.c.case_id == _CASE)
_DELETE_SINGLE = delete(_single).where(_single.c.case_id == _CASE)
_STATEMENTS = {
    spec.name: (insert(spec.table),
                update(spec.table).where(spec.table.c.case_id == _CASE, spec.table.c.seq == _SEQ),
                delete(spec.table).where(spec.table.c.case_id == _CASE, spec.table.c.seq >= _SEQ))
    for spec in LISTS
}


def save_looked_after(conn: Connection, case_id: int, before: LookedAfter,
                      after: LookedAfter) -> int:
    """Write the difference between ``before`` (as loaded) and ``after``; returns the number of
    rows inserted, updated or deleted."""
    if before == after:
        return 0
    rows = 0
    had, has = not is_empty(before), not is_empty(after)
    if not has:
        rows += conn.execute(_DELETE_SINGLE, {"b_case": case_id}).rowcount
    elif not had:
        conn.execute(_INSERT_SINGLE, {"case_id": case_id, **single_values(after)})
        rows += 1
    elif single_values(before) != single_values(after):
        _one(conn.execute(_UPDATE_SINGLE, {"b_case": case_id, **single_values(after)}).rowcount,
             case_id, "looked_after")
        rows += 1
    for spec in LISTS:
        old, new = spec.items(before), spec.items(after)
        if old != new:
            rows += _save_list(conn, case_id, spec, old, new)
    return rows


def _one(count: int, case_id: int, table: str) -> None:
    if count != 1:
        raise RecordError(f"The stored record of case {case_id} does not match the record it was "
                          f"loaded as ({table}: {count} rows matched, expected 1)")


def _save_list(conn: Connection, case_id: int, spec: ListTable, before: Sequence[Any],
               after: Sequence[Any]) -> int:
    insert_, update_, delete_ = _STATEMENTS[spec.name]
    rows = 0
    for seq in range(min(len(before), len(after))):
        if before[seq] != after[seq]:
            _one(conn.execute(update_, {"b_case": case_id, "b_seq": seq,
                                        **spec.values(after[seq])}).rowcount, case_id, spec.name)
            rows += 1
    new_rows = [{"case_id": case_id, "seq": seq, **spec.values(after[seq])}
                for seq in range(len(before), len(after))]
    if new_rows:
        conn.execute(insert_, new_rows)
        rows += len(new_rows)
    if len(before) > len(after):
        rows += conn.execute(delete_, {"b_case": case_id, "b_seq": len(after)}).rowcount
    return rows
