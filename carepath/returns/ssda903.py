"""The SSDA903 return (children looked after), as rows of its CSV tables, from the record.

The collection year ending 31 March ``year`` runs from 1 April ``year - 1`` to 31 March ``year``.
Each child's rows are worked out from the child (:class:`~carepath.engine.record.model.Child`)
and their looked-after record (:class:`~carepath.engine.record.looked_after.LookedAfter`), one
child at a time, and yielded as ``(table, row)``: memory does not grow with the number of
children. Columns are exactly the DfE validator's (``lac_validator.config.column_names``),
dates ``DD/MM/YYYY``, booleans ``1``/``0``, unknown items blank. Who is in each table:

* **Episodes**: every episode open at some time in the year (:mod:`~carepath.engine.record.
  lac_episodes`); a child with none is in no table except, as a care leaver, OC3 (rule 1012).
  Short-breaks (V3/V4) episodes carry no postcodes and no URN (214, 398, 420); those of a UASC
  or former UASC child no home postcode (the distance must be blank, 406; the placement's
  council, from its postcode, is still needed, 169);
* **Header**: every child in any table; ``MOTHER``/``MC_DOB`` only for girls and never for a
  short-breaks child (V3/V4 in the year, rule 399); a girl under 12 at 31 March whose record
  does not say is written as not a mother (``0``, rule 393 wants it);
* **Reviews**: reviews held in the year, not for short-breaks children (399);
* **UASC**: children recorded as unaccompanied asylum seekers, with the date that ceased;
* **OC2**: children looked after continuously for 12 months at 31 March (as the validator
  counts it: in one period since 1 April, no V3/V4 in the year), from the outcomes recorded for
  the year; items the specification does not collect for the child's age are left out (SDQ at
  17+ at 1 April, 189; conviction under 10, 542; development check at 5+, 546; intervention
  items without substance misuse, 193; offered when received, 158);
* **OC3**: care leavers whose 17th to 21st birthday falls in the year, who were looked after at
  16 or later, had left care before that birthday (1007, 1016) and did not die in care or move
  to another council's care (1000, 1011), from the latest contact 3 months before to 1 month
  after the birthday;
* **AD1**: children adopted in the year (REC E11/E12), from the decision that led to it;
* **PlacedAdoption**: decisions that the child should be placed for adoption made by 31 March
  and not reversed before the year (a reversal after it is not shown);
* **PrevPerm**: children who started a period of care in the year (short breaks too, 630);
* **Missing**: missing and away episodes open at some time in the year;
* **SWEpisodes**: allocated social workers at some time in the year, for every child with
  episodes other than short breaks in the year (the rules SW12STG2/SW17STG2 read them so).

What the return needs and the record does not hold is never invented: it is listed in the
``problems`` given (a :class:`Problem` names the child, table, item and DfE rule); the row is
written with the item blank when the table still makes sense, or left out (OC2, OC3, AD1) when
it would claim something nobody recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from carepath.core.ages import age_on, birthday
from carepath.core.errors import RecordError
from carepath.core.looked_after_codes import (
    ADOPTED_REASONS,
    NO_PROVIDER_PLACEMENTS,
    NO_URN_PLACEMENTS,
    SHORT_BREAK_STATUSES,
)
from carepath.engine.record.lac_episodes import CareEpisode, derive_episodes, episodes_in_year
from carepath.engine.record.looked_after import (
    Adoption,
    CareLeaverContact,
    HealthOutcomes,
    LookedAfter,
    PreviousPermanence,
    check_looked_after,
)
from carepath.engine.record.model import Child
from carepath.returns import ReturnError

# The tables in the order they are written, with the validator's exact columns.
TABLES: dict[str, tuple[str, ...]] = {
    "Header": ("CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB"),
    "Episodes": ("CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE", "PLACE_PROVIDER", "DEC", "REC",
                 "REASON_PLACE_CHANGE", "HOME_POST", "PL_POST", "URN"),
    "Reviews": ("CHILD", "DOB", "REVIEW", "REVIEW_CODE"),
    "UASC": ("CHILD", "SEX", "DOB", "DUC"),
    "OC2": ("CHILD", "DOB", "SDQ_SCORE", "SDQ_REASON", "CONVICTED", "HEALTH_CHECK",
            "IMMUNISATIONS", "TEETH_CHECK", "HEALTH_ASSESSMENT", "SUBSTANCE_MISUSE",
            "INTERVENTION_RECEIVED", "INTERVENTION_OFFERED"),
    "OC3": ("CHILD", "DOB", "IN_TOUCH", "ACTIV", "ACCOM"),
    "AD1": ("CHILD", "DOB", "DATE_INT", "DATE_MATCH", "FOSTER_CARE", "NB_ADOPTR", "SEX_ADOPTR",
            "LS_ADOPTR"),
    "PlacedAdoption": ("CHILD", "DOB", "DATE_PLACED", "DATE_PLACED_CEASED",
                       "REASON_PLACED_CEASED"),
    "PrevPerm": ("CHILD", "DOB", "PREV_PERM", "LA_PERM", "DATE_PERM"),
    "Missing": ("CHILD", "DOB", "MISSING", "MIS_START", "MIS_END"),
    "SWEpisodes": ("CHILD", "DOB", "SW_ID", "SW_DECOM", "SW_DEC", "SW_REASON"),
}

FIRST_YEAR = 2026  # the 2025-26 code lists (PLACE Z11-Z14, no H5/P2/Z1)
LAST_YEAR = 2100
MOTHER_AGE = 12  # below it, MOTHER is written 0 without being recorded
UPN_UNKNOWN_903 = frozenset({"UN1", "UN2", "UN3", "UN4", "UN5"})
Row = tuple[str, ...]


class _Need(Protocol):  # records a Problem of the child being written
    def __call__(self, table: str, item: str, rule: str) -> None: ...


@dataclass(frozen=True)
class LookedAfterChild:
    """One child as the 903 sees them: who they are and their looked-after record."""

    child: Child
    record: LookedAfter


@dataclass(frozen=True)
class Problem:
    """An item the return needs that the child's record does not hold (or cannot give)."""

    child: str
    table: str
    item: str
    rule: str

    def __str__(self) -> str:
        rule = f" (DfE rule {self.rule})" if self.rule else ""
        return f"{self.child}: {self.table} {self.item}{rule}"


def year_bounds(year: int) -> tuple[date, date]:
    """(1 April ``year - 1``, 31 March ``year``): the collection year ending in ``year``."""
    return date(year - 1, 4, 1), date(year, 3, 31)


def check_year(year: int) -> None:
    if isinstance(year, bool) or not isinstance(year, int) or not FIRST_YEAR <= year <= LAST_YEAR:
        raise ReturnError(f"The SSDA903 year must be the year the collection ends, from "
                          f"{FIRST_YEAR} (2025-26) on, like 2026 for 1 April 2025 to 31 March "
                          f"2026 (not {year!r})")


def dmy(day: date | None) -> str:
    return "" if day is None else f"{day.day:02d}/{day.month:02d}/{day.year:04d}"


def _flag(value: bool | None) -> str:
    return "" if value is None else ("1" if value else "0")


def _text(value: object) -> str:
    return "" if value is None else str(value)


def ssda903_rows(children: Iterable[LookedAfterChild], year: int,
                 problems: list[Problem] | None = None,
                 unreadable: list[Problem] | None = None) -> Iterator[tuple[str, Row]]:
    """Every row of the year's return, child by child, as ``(table, row)``. Problems found are
    appended to ``problems`` (when given). A child whose record cannot give its 903 episodes
    (RecordError) is, when ``unreadable`` is given, left out and listed there with the reason;
    otherwise the RecordError is raised with the child's id in the message."""
    check_year(year)
    sink: list[Problem] = problems if problems is not None else []
    for item in children:
        if unreadable is None:
            yield from child_rows(item, year, sink)
            continue
        try:
            episodes = checked_episodes(item.record)
        except RecordError as exc:
            unreadable.append(Problem(
                item.child.la_child_id, "Episodes",
                f"cannot be worked out, the child is left out: {exc.message}", ""))
            continue
        yield from child_rows(item, year, sink, episodes)


def checked_episodes(record: LookedAfter) -> list[CareEpisode]:
    """The record checked and its 903 episodes derived (RecordError when it cannot give them)."""
    check_looked_after(record)
    return derive_episodes(record)


def child_rows(item: LookedAfterChild, year: int, problems: list[Problem],
               all_episodes: list[CareEpisode] | None = None) -> list[tuple[str, Row]]:
    """One child's rows (empty when the child is in no table of the year). ``all_episodes``:
    the record's episodes when already derived by :func:`checked_episodes` (not again)."""
    child, record = item.child, item.record
    cid = child.la_child_id
    if all_episodes is None:
        try:
            all_episodes = checked_episodes(record)
        except RecordError as exc:
            raise RecordError(f"Child {cid}: {exc.message}") from None
    first, last = year_bounds(year)
    episodes = episodes_in_year(all_episodes, first, last)
    dob = child.birth_date
    if dob is None:
        problems.append(Problem(cid, "Header", "DOB", "102"))
    born = dmy(dob)

    def need(table: str, item: str, rule: str) -> None:
        problems.append(Problem(cid, table, item, rule))

    rows: list[tuple[str, Row]] = []
    short_breaks = any(e.legal_status in SHORT_BREAK_STATUSES for e in episodes)
    full_care = [e for e in episodes if e.legal_status not in SHORT_BREAK_STATUSES]
    for e in episodes:
        rows.append(("Episodes", _episode_row(cid, e, record.uasc, need)))
    if episodes and not short_breaks:
        for r in record.reviews:
            if first <= r.held <= last:
                if r.participation is None:
                    need("Reviews", f"REVIEW_CODE of the review on {r.held}", "167")
                rows.append(("Reviews", (cid, born, dmy(r.held), _text(r.participation))))
    if episodes and record.uasc:
        rows.append(("UASC", (cid, _text(child.sex), born, dmy(record.uasc_ceased))))
    if episodes and dob is not None and _continuously_looked_after(episodes, first, last):
        outcome = next((o for o in record.outcomes if o.year == year), None)
        if outcome is None:
            need("OC2", "the outcomes of the year (looked after 12 months at 31 March)", "190")
        else:
            rows.append(("OC2", _oc2_row(cid, dob, first, last, outcome)))
    if dob is not None and not short_breaks:
        oc3 = _oc3_row(cid, dob, record, all_episodes, first, last, need)
        if oc3 is not None:
            rows.append(("OC3", oc3))
    if episodes:
        rows.extend(_adoption_rows(cid, born, record.adoptions, episodes, first, last, need))
        started = [e for e in episodes if e.rne == "S" and first <= e.start <= last]
        if started:
            if record.previous_permanence is None:
                need("PrevPerm", "previous permanence (child started to be looked after)", "631")
            else:
                rows.append(("PrevPerm", _prev_perm_row(cid, born, record.previous_permanence)))
        for m in sorted(record.missing, key=lambda m: m.start):
            if m.start <= last and (m.end is None or m.end >= first):
                end = m.end if m.end is not None and m.end <= last else None
                rows.append(("Missing", (cid, born, m.kind, dmy(m.start), dmy(end))))
        if full_care:
            rows.extend(_sw_rows(cid, born, record, episodes, first, last, need))
    if not rows:
        return []
    mother = mc_dob = ""
    if child.sex == "F" and not short_breaks and episodes:
        known = record.mother
        if known is None and dob is not None and age_on(dob, last) < MOTHER_AGE:
            known = False  # a girl under 12 is not a mother: the 903 still wants the 0 (393)
        if known is None:
            need("Header", "MOTHER: whether the girl is a mother", "393")
        mother = _flag(known)
        mc_dob = dmy(record.first_child_born) if known else ""
    upn = child.upn or child.upn_unknown or ""
    if not child.upn and upn not in UPN_UNKNOWN_903:
        need("Header", "UPN (or a reason UN1-UN5 it is unknown)", "168")
    header = (cid, _text(child.sex), born, _text(child.ethnicity), upn, mother, mc_dob)
    return [("Header", header), *rows]


def _episode_row(cid: str, e: CareEpisode, uasc: bool, need: _Need) -> Row:
    if e.need is None:
        need("Episodes", f"CIN category of need of the period starting {e.start}", "145")
    if e.end is not None and e.reason_ceased is None:
        need("Episodes", f"REC: why the period of care ended on {e.end}", "148")
    if e.needs_reason_place_change and e.reason_place_change is None:
        need("Episodes", f"REASON_PLACE_CHANGE of the placement ending {e.end}", "225")
    short = e.legal_status in SHORT_BREAK_STATUSES  # no location at all (214, 398, 420)
    no_home = short or uasc  # no distance for a UASC or former UASC child (406)
    what = f"of the episode starting {e.start}"
    if e.provider is None and e.placement not in NO_PROVIDER_PLACEMENTS:
        need("Episodes", f"PLACE_PROVIDER {what}", "213")
    if not short:
        if e.postcode is None:
            need("Episodes", f"PL_POST {what}", "392a")
        if e.home_postcode is None and not no_home:
            need("Episodes", f"HOME_POST {what}", "392a")
        if e.urn is None and e.placement not in NO_URN_PLACEMENTS:
            need("Episodes", f"URN {what} (or XXXXXXX when not Ofsted-registered)", "218")
    return (cid, dmy(e.start), e.rne, e.legal_status, _text(e.need), e.placement,
            _text(e.provider), dmy(e.end), _text(e.reason_ceased),
            _text(e.reason_place_change), "" if no_home else _text(e.home_postcode),
            "" if short else _text(e.postcode), "" if short else _text(e.urn))


def _continuously_looked_after(episodes: list[CareEpisode], first: date, last: date) -> bool:
    """As the validator counts it: no period starts after 1 April or ends before 31 March in the
    year, and no V3/V4 episode."""
    for e in episodes:
        if e.legal_status in SHORT_BREAK_STATUSES:
            return False
        if e.rne == "S" and e.start > first:
            return False
        if e.end is not None and e.reason_ceased != "X1" and e.end < last:
            return False
    return True


def _oc2_row(cid: str, dob: date, first: date, last: date, o: HealthOutcomes) -> Row:
    sdq = age_on(dob, first) < 17
    misuse = o.substance_misuse is True
    return (
        cid, dmy(dob),
        _text(o.sdq_score) if sdq else "", _text(o.sdq_reason) if sdq else "",
        _flag(o.convicted) if age_on(dob, last) >= 10 else "",
        _flag(o.health_check) if age_on(dob, last) < 5 else "",
        _flag(o.immunisations), _flag(o.teeth_check), _flag(o.health_assessment),
        _flag(o.substance_misuse),
        _flag(o.intervention_received) if misuse else "",
        _flag(o.intervention_offered) if misuse and o.intervention_received is not True else "",
    )


def _oc3_row(cid: str, dob: date, record: LookedAfter, all_episodes: list[CareEpisode],
             first: date, last: date, need: _Need) -> Row | None:
    if not all_episodes:
        return None
    birthdays = [b for b in (birthday(dob, age) for age in range(17, 22)) if first <= b <= last]
    if not birthdays:
        return None
    day = birthdays[0]
    final = all_episodes[-1]
    if final.end is None or final.end >= day:
        return None  # still looked after on the birthday: not a care leaver yet (1007, 1016)
    if final.reason_ceased in ("E2", "E3") or final.reason_ceased in ADOPTED_REASONS:
        return None  # died in care, care taken over by another council, adopted (1000, 1011)
    if final.end < birthday(dob, 16) or all(
            e.legal_status in SHORT_BREAK_STATUSES for e in all_episodes):
        return None  # never looked after at 16 or later: not a care leaver
    window = (day - timedelta(days=92), day + timedelta(days=31))
    contacts = [c for c in record.care_leaver_contacts
                if window[0] <= c.contacted <= window[1] and c.contacted <= last]
    if not contacts:
        need("OC3", f"contact with the care leaver around their birthday on {day}", "131")
        return None
    c: CareLeaverContact = max(contacts, key=lambda c: c.contacted)
    return (cid, dmy(dob), c.in_touch, _text(c.activity), _text(c.accommodation))


def _adoption_rows(cid: str, born: str, adoptions: list[Adoption], episodes: list[CareEpisode],
                   first: date, last: date, need: _Need) -> Iterator[tuple[str, Row]]:
    for a in sorted(adoptions, key=lambda a: a.decision):
        if a.decision > last or (a.reversed is not None and a.reversed < first):
            continue
        reversed_in_year = a.reversed is not None and a.reversed <= last
        yield ("PlacedAdoption", (cid, born, dmy(a.decision),
                                  dmy(a.reversed) if reversed_in_year else "",
                                  _text(a.reversed_reason) if reversed_in_year else ""))
    adopted = [e for e in episodes if e.reason_ceased in ADOPTED_REASONS and e.end is not None]
    if not adopted:
        return
    order = adopted[-1].end
    assert order is not None
    decisions = [a for a in adoptions if a.decision <= order and a.reversed is None]
    if not decisions:
        need("AD1", "the decision that the child should be placed for adoption", "601")
        return
    a = max(decisions, key=lambda a: a.decision)
    items = {"DATE_MATCH": a.matched, "FOSTER_CARE": a.by_foster_carer, "NB_ADOPTR": a.adopters,
             "SEX_ADOPTR": a.adopters_sex, "LS_ADOPTR": a.adopters_legal_status}
    blank = [name for name, value in items.items() if value is None]
    if blank:
        need("AD1", ", ".join(blank), "151")
        return
    yield ("AD1", (cid, born, dmy(a.decision), dmy(a.matched), _flag(a.by_foster_carer),
                   _text(a.adopters), _text(a.adopters_sex), _text(a.adopters_legal_status)))


def _prev_perm_row(cid: str, born: str, pp: PreviousPermanence) -> Row:
    if pp.option in ("Z1", "P4") and pp.year is None:
        when = ""
    else:
        day = "zz" if pp.day is None else f"{pp.day:02d}"
        month = "zz" if pp.month is None else f"{pp.month:02d}"
        year = "zzzz" if pp.year is None else f"{pp.year:04d}"
        when = f"{day}/{month}/{year}"
    return (cid, born, pp.option, _text(pp.la), when)


def _sw_rows(cid: str, born: str, record: LookedAfter, episodes: list[CareEpisode],
             first: date, last: date, need: _Need) -> Iterator[tuple[str, Row]]:
    open_at_end = False
    for sw in sorted(record.social_workers, key=lambda s: s.start):
        if sw.start > last or (sw.end is not None and sw.end < first):
            continue
        end = sw.end if sw.end is not None and sw.end <= last else None
        open_at_end = open_at_end or end is None
        if sw.reason is None:
            need("SWEpisodes", f"SW_REASON of the allocation starting {sw.start}", "SW15STG2")
        yield ("SWEpisodes", (cid, born, sw.worker, dmy(sw.start), dmy(end), _text(sw.reason)))
    if episodes[-1].end is None and not open_at_end:
        need("SWEpisodes", "the social worker allocated at 31 March", "SW17STG2")
