"""The record of a looked-after child, as the engine owns it: what the SSDA903 return, Ofsted's
Annex A lists 8-10 and the looked-after stages of the packs read and write.

Legal status and placement are kept as **two independent timelines**; the 903 episodes are
derived from them and the periods of care (:mod:`carepath.engine.record.lac_episodes`), never
stored or typed. Every timeline uses the 903's convention for dates: an item that ends on a day
is followed, if the child is still looked after, by one that starts the same day (a placement
ending 3 May and the next starting 3 May is a move on 3 May); ``end`` None means still open.

Codes are those of the SSDA903 2025-26 specification (:mod:`carepath.core.looked_after_codes`).
:func:`check_looked_after` checks the codes and the shape of the timelines and raises
:class:`~carepath.core.errors.RecordError` naming the first problem; what a return needs but the
record does not hold yet (a missing code) is the return's to report, not an error here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any, TypeVar

from carepath.core import looked_after_codes as codes
from carepath.core.errors import RecordError

T = TypeVar("T")


@dataclass
class PeriodOfCare:
    """An uninterrupted period of being looked after (903: from an RNE ``S`` episode to the
    episode that ends with a reason other than ``X1``)."""

    start: date
    need: str | None = None  # CIN category of need N1-N8, coded at the start, constant
    end: date | None = None
    reason_ceased: str | None = None  # REC (never X1)


@dataclass
class LegalStatus:
    code: str  # LS: C1, C2, D1, E1, V2, V3, V4, L1-L3, J1-J3
    start: date
    end: date | None = None


@dataclass
class Placement:
    type: str  # PLACE (2025-26 list)
    start: date
    end: date | None = None
    provider: str | None = None  # PLACE_PROVIDER PR0-PR5 (none for T0-T4, Z11-Z14)
    carer: str | None = None  # who cares for the child (carer or setting id): P vs T, B vs U
    urn: str | None = None  # Ofsted social-care URN, or XXXXXXX
    postcode: str | None = None  # PL_POST: where the child lives
    home_postcode: str | None = None  # HOME_POST: the child's home when the placement began
    reason_changed: str | None = None  # REASON_PLACE_CHANGE when the child moves on from it


@dataclass
class LACReview:
    held: date
    participation: str | None = None  # REVIEW_CODE PN0-PN7


@dataclass
class MissingEpisode:
    kind: str  # M missing, A away from placement without authorisation
    start: date
    end: date | None = None
    rhi_offered: bool | None = None  # return home interview offered
    rhi_accepted: bool | None = None


@dataclass
class Adoption:
    """One decision that the child should be placed for adoption, and what followed it."""

    decision: date  # agency decision maker: should be placed (DATE_PLACED, AD1 DATE_INT)
    reversed: date | None = None  # decision no longer to be placed (DATE_PLACED_CEASED)
    reversed_reason: str | None = None  # RD1-RD4
    placement_order: date | None = None
    matched: date | None = None  # DATE_MATCH
    adopters: int | None = None  # NB_ADOPTR 1 or 2
    adopters_sex: str | None = None  # SEX_ADOPTR M1 F1 MM FF MF
    adopters_legal_status: str | None = None  # LS_ADOPTR L0 L11 L12 L2 L3 L4
    by_foster_carer: bool | None = None  # FOSTER_CARE


@dataclass
class PreviousPermanence:
    """Whether the child was adopted or under an SGO/CAO before coming into care. The date may
    be known only in part (year, or year and month)."""

    option: str  # PREV_PERM P1-P4, Z1 none
    year: int | None = None
    month: int | None = None
    day: int | None = None
    la: str | None = None  # LA_PERM, usually blank


@dataclass
class HealthOutcomes:
    """OC2 for one collection year (``year`` = the year it ends, 2026 for 2025-26)."""

    year: int
    sdq_score: int | None = None  # 0-40
    sdq_reason: str | None = None  # SDQ1-SDQ5
    convicted: bool | None = None
    health_check: bool | None = None  # development check, under 5s
    immunisations: bool | None = None
    teeth_check: bool | None = None
    health_assessment: bool | None = None
    substance_misuse: bool | None = None
    intervention_received: bool | None = None
    intervention_offered: bool | None = None


@dataclass
class CareLeaverContact:
    contacted: date
    in_touch: str  # YES NO DIED REFU NREQ RHOM
    activity: str | None = None  # ACTIV
    accommodation: str | None = None  # ACCOM
    personal_adviser: str | None = None  # who the care leaver's personal adviser is (Annex A)


@dataclass
class SocialWorkerPeriod:
    worker: str  # SW_ID: starts SW or XX
    start: date
    end: date | None = None
    reason: str | None = None  # SW_REASON for the change that started it


@dataclass
class LookedAfter:
    """Everything the looked-after stages record about one child (all lists in date order)."""

    periods: list[PeriodOfCare] = field(default_factory=list)
    legal_statuses: list[LegalStatus] = field(default_factory=list)
    placements: list[Placement] = field(default_factory=list)
    reviews: list[LACReview] = field(default_factory=list)
    missing: list[MissingEpisode] = field(default_factory=list)
    uasc: bool = False  # has been an unaccompanied asylum-seeking child
    uasc_ceased: date | None = None  # DUC
    adoptions: list[Adoption] = field(default_factory=list)
    previous_permanence: PreviousPermanence | None = None
    outcomes: list[HealthOutcomes] = field(default_factory=list)
    care_leaver_contacts: list[CareLeaverContact] = field(default_factory=list)
    social_workers: list[SocialWorkerPeriod] = field(default_factory=list)
    mother: bool | None = None  # Header MOTHER (girls only)
    first_child_born: date | None = None  # Header MC_DOB


# --------------------------------------------------------------------------------------------


def _code(value: str | None, allowed: frozenset[str], what: str, optional: bool = True) -> None:
    if value is None and optional:
        return
    if value not in allowed:
        raise RecordError(f"{what} {value!r} is not a code of the SSDA903 2025-26 list "
                          f"({', '.join(sorted(allowed))})")


def _span(start: date, end: date | None, what: str) -> None:
    if end is not None and end <= start:
        raise RecordError(f"{what} starting {start} ends on {end}: it must end after the day it "
                          "starts (the 903 has no episode that starts and ends on one day)")


def check_looked_after(record: LookedAfter) -> None:
    """Raise :class:`RecordError` on the first code or date in ``record`` that the SSDA903 cannot
    hold. The timelines' fit to the periods of care is checked where episodes are derived
    (:func:`carepath.engine.record.lac_episodes.derive_episodes`)."""
    for p in record.periods:
        _span(p.start, p.end, "The period of care")
        _code(p.need, codes.CATEGORY_OF_NEED_CODES, "Category of need")
        _code(p.reason_ceased, codes.REASON_CARE_CEASED_CODES, "Reason care ceased")
        if p.reason_ceased is not None and p.end is None:
            raise RecordError(f"The period of care starting {p.start} has a reason it ceased "
                              f"({p.reason_ceased}) but no end date")
    for s in record.legal_statuses:
        _span(s.start, s.end, f"Legal status {s.code}")
        _code(s.code, codes.LEGAL_STATUS_CODES, "Legal status", optional=False)
    for pl in record.placements:
        _span(pl.start, pl.end, f"Placement {pl.type}")
        _code(pl.type, codes.PLACEMENT_TYPE_CODES, "Placement type", optional=False)
        _code(pl.provider, codes.PLACEMENT_PROVIDER_CODES, "Placement provider")
        _code(pl.reason_changed, codes.REASON_PLACE_CHANGE_CODES, "Reason for placement change")
        if pl.provider is not None and pl.type in codes.NO_PROVIDER_PLACEMENTS:
            raise RecordError(f"Placement {pl.type} starting {pl.start} has no provider in the "
                              f"903 (it has {pl.provider})")
    for r in record.reviews:
        _code(r.participation, codes.REVIEW_PARTICIPATION_CODES, "Review participation")
    _check_missing(record.missing)
    _check_adoptions(record.adoptions)
    if record.previous_permanence is not None:
        _check_previous_permanence(record.previous_permanence)
    for o in record.outcomes:
        _code(o.sdq_reason, codes.SDQ_REASON_CODES, "SDQ reason")
        if o.sdq_score is not None and not 0 <= o.sdq_score <= 40:
            raise RecordError(f"SDQ score {o.sdq_score} is not 0 to 40")
    for c in record.care_leaver_contacts:
        _code(c.in_touch, codes.IN_TOUCH_CODES, "In touch", optional=False)
        _code(c.activity, codes.ACTIVITY_CODES, "Activity")
        _code(c.accommodation, codes.ACCOMMODATION_CODES, "Accommodation")
    _check_social_workers(record.social_workers)
    if record.uasc_ceased is not None and not record.uasc:
        raise RecordError("A date UASC status ceased is recorded for a child never recorded as "
                          "an unaccompanied asylum-seeking child")


def _check_missing(items: Iterable[MissingEpisode]) -> None:
    previous: MissingEpisode | None = None
    for m in sorted(items, key=lambda m: m.start):
        _code(m.kind, codes.MISSING_TYPE_CODES, "Missing type", optional=False)
        if m.end is not None and m.end < m.start:
            raise RecordError(f"The missing episode starting {m.start} ends before it starts "
                              f"({m.end})")
        if previous is not None and (previous.end is None or previous.end > m.start):
            raise RecordError(f"Missing episodes overlap: one starting {previous.start} and one "
                              f"starting {m.start}")
        if m.rhi_accepted and m.rhi_offered is False:
            raise RecordError(f"A return interview was accepted after the missing episode "
                              f"starting {m.start} but never offered")
        previous = m


def _check_adoptions(items: Iterable[Adoption]) -> None:
    for a in items:
        _code(a.reversed_reason, codes.REASON_PLACED_CEASED_CODES, "Reason no longer placed")
        _code(a.adopters_sex, codes.ADOPTER_SEX_CODES, "Sex of adopters")
        _code(a.adopters_legal_status, codes.ADOPTER_LEGAL_STATUS_CODES,
              "Legal status of adopters")
        if (a.reversed is None) != (a.reversed_reason is None):
            raise RecordError(f"The adoption decision of {a.decision}: a reversed decision needs "
                              "both its date and its reason")
        if a.reversed is not None and a.reversed < a.decision:
            raise RecordError(f"The adoption decision of {a.decision} is reversed before it was "
                              f"made ({a.reversed})")
        if a.matched is not None and a.matched < a.decision:
            raise RecordError(f"The child was matched ({a.matched}) before the decision that "
                              f"they should be placed for adoption ({a.decision})")
        if a.adopters is not None and a.adopters not in (1, 2):
            raise RecordError(f"Number of adopters {a.adopters} must be 1 or 2")


def _check_previous_permanence(pp: PreviousPermanence) -> None:
    _code(pp.option, codes.PREVIOUS_PERMANENCE_CODES, "Previous permanence", optional=False)
    if (pp.day is not None and pp.month is None) or (pp.month is not None and pp.year is None):
        raise RecordError("The date of the previous permanence order may be known in part "
                          "(year, or year and month), but not a day without its month and year")
    if pp.year is not None:
        try:
            date(pp.year, pp.month or 1, pp.day or 1)
        except ValueError:
            raise RecordError("The date of the previous permanence order is not a date: "
                              f"{pp.year}-{pp.month}-{pp.day}") from None


def _check_social_workers(items: list[SocialWorkerPeriod]) -> None:
    previous: SocialWorkerPeriod | None = None
    for sw in sorted(items, key=lambda s: s.start):
        _span(sw.start, sw.end, "The social worker allocation")
        _code(sw.reason, codes.SW_REASON_CODES, "Reason for change of social worker")
        if not (sw.worker.startswith("SW") or sw.worker.startswith("XX")):
            raise RecordError(f"Social worker id {sw.worker!r} must start with SW (or XX)")
        if previous is not None and (previous.end is None or previous.end > sw.start):
            raise RecordError(f"Social worker allocations overlap: one starting {previous.start} "
                              f"and one starting {sw.start}")
        previous = sw


# -- reading the record -----------------------------------------------------------------------


def period_on(record: LookedAfter, day: date) -> PeriodOfCare | None:
    """The period of care the child is in on ``day`` (a period ending on ``day`` is over)."""
    for p in record.periods:
        if p.start <= day and (p.end is None or p.end > day):
            return p
    return None


def short_breaks_only(record: LookedAfter, period: PeriodOfCare) -> bool:
    """True when every legal status of the period is V3 or V4 (short breaks)."""
    statuses = [s for s in record.legal_statuses if in_period(period, s.start)]
    return bool(statuses) and all(s.code in codes.SHORT_BREAK_STATUSES for s in statuses)


def in_period(period: PeriodOfCare, day: date) -> bool:
    return period.start <= day and (period.end is None or day < period.end)


def clone_looked_after(record: LookedAfter) -> LookedAfter:
    """An independent copy (every leaf value is immutable: copying the dataclasses is enough)."""
    if record == _EMPTY:
        return LookedAfter()
    return LookedAfter(
        periods=[replace(p) for p in record.periods],
        legal_statuses=[replace(s) for s in record.legal_statuses],
        placements=[replace(p) for p in record.placements],
        reviews=[replace(r) for r in record.reviews],
        missing=[replace(m) for m in record.missing],
        uasc=record.uasc,
        uasc_ceased=record.uasc_ceased,
        adoptions=[replace(a) for a in record.adoptions],
        previous_permanence=(None if record.previous_permanence is None
                             else replace(record.previous_permanence)),
        outcomes=[replace(o) for o in record.outcomes],
        care_leaver_contacts=[replace(c) for c in record.care_leaver_contacts],
        social_workers=[replace(s) for s in record.social_workers],
        mother=record.mother,
        first_child_born=record.first_child_born,
    )


def is_empty(record: LookedAfter) -> bool:
    """True when nothing is recorded (a child never looked after)."""
    return record == _EMPTY


_EMPTY = LookedAfter()


_DATE_FIELDS = frozenset({"start", "end", "held", "decision", "reversed", "placement_order",
                          "matched", "contacted", "uasc_ceased", "first_child_born"})


def _from_json(cls: type[T], data: Mapping[str, Any]) -> T:
    return cls(**{k: date.fromisoformat(v) if k in _DATE_FIELDS and isinstance(v, str) else v
                  for k, v in data.items()})


def looked_after_from_json(data: Mapping[str, Any] | None) -> LookedAfter:
    """The inverse of ``dataclasses.asdict`` with dates as ISO text (``record_to_json``)."""
    if not data:
        return LookedAfter()
    pp = data.get("previous_permanence")
    return LookedAfter(
        periods=[_from_json(PeriodOfCare, p) for p in data.get("periods") or []],
        legal_statuses=[_from_json(LegalStatus, s) for s in data.get("legal_statuses") or []],
        placements=[_from_json(Placement, p) for p in data.get("placements") or []],
        reviews=[_from_json(LACReview, r) for r in data.get("reviews") or []],
        missing=[_from_json(MissingEpisode, m) for m in data.get("missing") or []],
        uasc=bool(data.get("uasc", False)),
        uasc_ceased=_optional_day(data.get("uasc_ceased")),
        adoptions=[_from_json(Adoption, a) for a in data.get("adoptions") or []],
        previous_permanence=None if pp is None else _from_json(PreviousPermanence, pp),
        outcomes=[_from_json(HealthOutcomes, o) for o in data.get("outcomes") or []],
        care_leaver_contacts=[_from_json(CareLeaverContact, c)
                              for c in data.get("care_leaver_contacts") or []],
        social_workers=[_from_json(SocialWorkerPeriod, s)
                        for s in data.get("social_workers") or []],
        mother=data.get("mother"),
        first_child_born=_optional_day(data.get("first_child_born")),
    )


def _optional_day(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


def looked_after_to_story(record: LookedAfter) -> dict[str, Any]:
    """The record in the story format (``looked_after:`` in ``docs/stories.md``): dates stay
    ``date``; empty lists, missing values and ``uasc: false`` are left out."""
    data = asdict(record)
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, list):
            if value:
                out[key] = [{k: v for k, v in e.items() if v is not None} for e in value]
        elif isinstance(value, dict):
            out[key] = {k: v for k, v in value.items() if v is not None}
        elif value is not None and not (key == "uasc" and value is False):
            out[key] = value
    return out
