"""The case record as the namespaces expressions and timescales read (``referral.date``…)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from carepath.core.ages import age_on
from carepath.engine.record.looked_after import LookedAfter
from carepath.engine.record.model import CaseRecord, Episode, icpc_target, previous_plans
from carepath.engine.time.clock import today

if TYPE_CHECKING:
    from carepath.engine.time.working_days import WorkingDayCalendar


def _age(born: date, on: date) -> int | None:
    years = age_on(born, on)
    return years if years >= 0 else None


def current_episode(record: CaseRecord) -> Episode | None:
    """The child's current (latest) episode, or None before the first referral."""
    return record.episodes[-1] if record.episodes else None


def record_context(
    record: CaseRecord, calendar: WorkingDayCalendar | None = None
) -> dict[str, Mapping[str, Any]]:
    """Namespaces expressions and timescales read (``referral.date``, ``cp_plan.last_review``…).

    Every namespace and key is always present; a value not known yet is None (lists are empty).
    Episode items are those of the current episode; assessment, s47, cp_plan and cin_plan are its
    latest one of each; ``episode.assessments`` counts the episode's assessments and
    ``child.age_years`` is the child's age in whole years on the clock's today. Each of episode,
    assessment, s47, cp_plan, cin_plan, care (looked after now), placement, missing and adoption
    has ``open``, a boolean that pack actions' ``available`` expressions read.
    """
    child = record.child
    ep = current_episode(record)
    born = child.birth_date
    assessment = ep.assessments[-1] if ep and ep.assessments else None
    s47 = ep.s47s[-1] if ep and ep.s47s else None
    plan = ep.cp_plans[-1] if ep and ep.cp_plans else None
    cin = ep.cin_plans[-1] if ep and ep.cin_plans else None
    return {
        "child": {
            "la_child_id": child.la_child_id,
            "upn": child.upn,
            "upn_unknown": child.upn_unknown,
            "birth_date": child.birth_date,
            "expected_birth_date": child.expected_birth_date,
            "sex": child.sex,
            "ethnicity": child.ethnicity,
            "disabilities": list(child.disabilities),
            # whole years on the clock's today (None before birth or with no birth date)
            "age_years": _age(born, today()) if born is not None else None,
        },
        "referral": {
            "date": ep.referral_date if ep else None,
            "source": ep.referral_source if ep else None,
            "nfa": ep.referral_nfa if ep else None,
        },
        "episode": {
            "number": len(record.episodes),
            "primary_need": ep.primary_need if ep else None,
            "closed": ep is not None and ep.closure_date is not None,
            "assessments": len(ep.assessments) if ep else 0,
            # open: referred, not closed, and not ended with no further action
            "open": ep is not None and ep.closure_date is None and not ep.referral_nfa,
        },
        "assessment": {
            "start": assessment.start if assessment else None,
            "authorised": assessment.authorised if assessment else None,
            "factors": list(assessment.factors) if assessment else [],
            "open": assessment is not None and assessment.authorised is None,
        },
        "s47": _Namespace(
            {
                "start": s47.start if s47 else None,
                "icpc_date": s47.icpc_date if s47 else None,
                "icpc_not_required": s47.icpc_not_required if s47 else None,
                # open until the enquiry's conference is held or found not to be needed
                "open": s47 is not None and s47.icpc_date is None and not s47.icpc_not_required,
            },
            # working-day arithmetic, done only if an expression reads it
            icpc_target=(lambda: icpc_target(s47, calendar)) if s47 else (lambda: None),
        ),
        "cp_plan": _Namespace(
            {
                "start": plan.start if plan else None,
                "end": plan.end if plan else None,
                "initial_category": plan.initial_category if plan else None,
                "latest_category": plan.latest_category if plan else None,
                "last_review": plan.reviews[-1] if plan and plan.reviews else None,
                "previous_plans": previous_plans(record, plan) if plan else None,
                "open": plan is not None and plan.end is None,
            },
            # every review date, read only if an expression asks (a long plan has thousands,
            # and they may still be in the database: see model.ReviewDates)
            reviews=(lambda: list(plan.reviews)) if plan else list,
        ),
        "cin_plan": {
            "start": cin.start if cin else None,
            "end": cin.end if cin else None,
            "open": cin is not None and cin.end is None,
        },
        "closure": {
            "date": ep.closure_date if ep else None,
            "reason": ep.closure_reason if ep else None,
        },
        **_looked_after(record.looked_after),
    }


def _looked_after(la: LookedAfter) -> dict[str, Mapping[str, Any]]:
    """The child's looked-after record as expressions read it: the latest period of care
    (``care``), its current legal status and placement, reviews, missing episodes, adoption
    decision and care-leaver contact. Reviews are counted within the latest period of care (the
    review clock restarts with each period)."""
    period = la.periods[-1] if la.periods else None
    status = la.legal_statuses[-1] if la.legal_statuses else None
    placement = la.placements[-1] if la.placements else None
    in_period = [r.held for r in la.reviews if period is not None and r.held >= period.start]
    missing = la.missing[-1] if la.missing else None
    adoption = la.adoptions[-1] if la.adoptions else None
    contact = la.care_leaver_contacts[-1] if la.care_leaver_contacts else None
    looked_after = period is not None and period.end is None
    return {
        "care": {
            "start": period.start if period else None,
            "need": period.need if period else None,
            "end": period.end if period else None,
            "reason_ceased": period.reason_ceased if period else None,
            "periods": len(la.periods),
            # open: the child is looked after now
            "open": looked_after,
        },
        "legal_status": {
            "code": status.code if status and looked_after else None,
            "start": status.start if status and looked_after else None,
        },
        "placement": {
            "type": placement.type if placement and looked_after else None,
            "provider": placement.provider if placement and looked_after else None,
            "start": placement.start if placement and looked_after else None,
            "open": looked_after and placement is not None and placement.end is None,
        },
        "lac_review": {
            "last": in_period[-1] if in_period else None,
            "count": len(in_period),
        },
        "missing": {
            "start": missing.start if missing else None,
            "kind": missing.kind if missing else None,
            "end": missing.end if missing else None,
            "open": missing is not None and missing.end is None,
        },
        "adoption": {
            "decision": adoption.decision if adoption else None,
            "matched": adoption.matched if adoption else None,
            # open: decided the child should be placed, not reversed
            "open": adoption is not None and adoption.reversed is None,
        },
        "care_leaver": {
            "last_contact": contact.contacted if contact else None,
            "uasc": la.uasc,
        },
    }


def record_names() -> frozenset[str]:
    """Every dotted name ``record_context`` offers (``s47.open``…) and every namespace."""
    from carepath.engine.record.model import Child

    context = record_context(CaseRecord(child=Child(la_child_id="-")))
    return frozenset(context) | frozenset(f"{ns}.{key}" for ns, items in context.items()
                                          for key in items)


class _Namespace(Mapping[str, Any]):
    """A namespace whose values are known, apart from a few worked out on first read."""

    def __init__(self, values: dict[str, Any], **later: Callable[[], Any]) -> None:
        self._values = values
        self._later = later

    def __getitem__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            make = self._later[key]  # KeyError for a key that is not there at all
            value = self._values[key] = make()
            return value

    def __iter__(self) -> Iterator[str]:
        yield from self._values
        yield from [k for k in self._later if k not in self._values]

    def __len__(self) -> int:
        return len(self._values) + sum(1 for k in self._later if k not in self._values)

    def __repr__(self) -> str:
        return repr(dict(self))
