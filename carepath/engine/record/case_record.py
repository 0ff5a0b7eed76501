"""The canonical case record: one child, one or more episodes of need.

The engine owns this shape; packs only fill it through form mappings (``record:`` items) and the
statutory returns read only it. Its dictionary form is exactly the story format
(see ``docs/stories.md``).

This module converts the record to and from that story format and to and from JSON; it also
re-exports the rest of the record's API from where it lives, so ``carepath.engine.record.case_record`` stays
the one place to import it from: the dataclasses (:mod:`carepath.engine.record.model`), the
expression namespaces (:mod:`carepath.engine.record.context`) and changing the record
(:mod:`carepath.engine.record.changes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import date
from typing import TYPE_CHECKING, Any

from carepath.engine.record.changes import (
    CLOSED_MESSAGE,
    RecordChange,
    apply_values,
    episode_dates,
    new_episode,
)
from carepath.engine.record.context import current_episode, record_context
from carepath.engine.record.looked_after import (
    is_empty,
    looked_after_from_json,
    looked_after_to_story,
)
from carepath.engine.record.model import (
    ICPC_WORKING_DAYS,
    Assessment,
    CaseRecord,
    Child,
    CINPlan,
    CPPlan,
    Episode,
    ReviewDates,
    Section47,
    as_date,
    child_from_json,
    default_calendar,
    icpc_target,
    in_code_order,
    iso_date,
    optional_date,
    previous_plans,
)

if TYPE_CHECKING:
    from carepath.engine.time.working_days import WorkingDayCalendar

__all__ = [
    "CLOSED_MESSAGE",
    "ICPC_WORKING_DAYS",
    "Assessment",
    "CINPlan",
    "CPPlan",
    "CaseRecord",
    "Child",
    "Episode",
    "RecordChange",
    "Section47",
    "apply_values",
    "current_episode",
    "episode_dates",
    "icpc_target",
    "in_code_order",
    "new_episode",
    "previous_plans",
    "record_context",
    "record_from_json",
    "record_to_json",
    "record_to_story",
    "story_to_record",
]


# -- story format ----------------------------------------------------------------------------


def record_to_story(
    record: CaseRecord, calendar: WorkingDayCalendar | None = None, computed: bool = False
) -> dict[str, Any]:
    """The record in the story format (``docs/stories.md``); dates stay ``date`` objects.

    Optional keys are left out when they have no value. With ``computed=True`` the items the
    engine works out are added: ``icpc_target`` on each section 47 enquiry and ``previous_plans``
    on each child protection plan.
    """
    cal = calendar
    if computed and cal is None and any(ep.s47s for ep in record.episodes):
        cal = default_calendar()
    child = record.child
    c: dict[str, Any] = {"la_child_id": child.la_child_id}
    if child.upn is not None:
        c["upn"] = child.upn
    if child.upn_unknown is not None:
        c["upn_unknown"] = child.upn_unknown
    if child.birth_date is not None:
        c["birth_date"] = child.birth_date
    if child.expected_birth_date is not None:
        c["expected_birth_date"] = child.expected_birth_date
    if child.sex is not None:
        c["sex"] = child.sex
    if child.ethnicity is not None:
        c["ethnicity"] = child.ethnicity
    c["disabilities"] = in_code_order(child.disabilities, "disability")

    episodes: list[dict[str, Any]] = []
    plans_before = 0
    for ep in record.episodes:
        referral: dict[str, Any] = {"date": ep.referral_date}
        if ep.referral_source is not None:
            referral["source"] = ep.referral_source
        referral["nfa"] = ep.referral_nfa
        e: dict[str, Any] = {"referral": referral}
        if ep.primary_need is not None:
            e["primary_need"] = ep.primary_need
        if ep.assessments:
            e["assessments"] = [_assessment_story(a) for a in ep.assessments]
        if ep.s47s:
            s47s = []
            for s in ep.s47s:
                item: dict[str, Any] = {"start": s.start}
                if s.icpc_date is not None:
                    item["icpc_date"] = s.icpc_date
                if s.icpc_not_required:
                    item["icpc_not_required"] = True
                if computed and cal is not None:
                    item["icpc_target"] = icpc_target(s, cal)
                s47s.append(item)
            e["s47"] = s47s
        if ep.cp_plans:
            plans = []
            for p in ep.cp_plans:
                plan = _plan_story(p)
                if computed:
                    plan["previous_plans"] = plans_before
                plans_before += 1
                plans.append(plan)
            e["cp_plans"] = plans
        if ep.cin_plans:
            e["cin_plans"] = [
                {"start": p.start} if p.end is None else {"start": p.start, "end": p.end}
                for p in ep.cin_plans
            ]
        if ep.emergency_protection:
            e["emergency_protection"] = list(ep.emergency_protection)
        if ep.closure_date is not None:
            closure: dict[str, Any] = {"date": ep.closure_date}
            if ep.closure_reason is not None:
                closure["reason"] = ep.closure_reason
            e["closure"] = closure
        episodes.append(e)
    story: dict[str, Any] = {"child": c, "episodes": episodes}
    if not is_empty(record.looked_after):
        story["looked_after"] = looked_after_to_story(record.looked_after)
    return story


def _assessment_story(a: Assessment) -> dict[str, Any]:
    item: dict[str, Any] = {"start": a.start}
    if a.authorised is not None:
        item["authorised"] = a.authorised
    if a.factors:
        item["factors"] = in_code_order(a.factors, "assessment_factors")
    return item


def _plan_story(p: CPPlan) -> dict[str, Any]:
    item: dict[str, Any] = {"start": p.start}
    if p.initial_category is not None:
        item["initial_category"] = p.initial_category
    if p.latest_category is not None:
        item["latest_category"] = p.latest_category
    if p.reviews:
        item["reviews"] = list(p.reviews)
    if p.end is not None:
        item["end"] = p.end
    return item


def story_to_record(story: Mapping[str, Any]) -> CaseRecord:
    """The record a (validated, see ``carepath.engine.stories.story.parse_story``) story describes.

    Computed items (``icpc_target``, ``previous_plans``) are ignored. Dates may be ``date``
    objects or ISO strings.
    """
    child = child_from_json(story["child"])
    episodes: list[Episode] = []
    for e in story.get("episodes") or []:
        referral = e["referral"]
        closure = e.get("closure") or {}
        source = referral.get("source")
        episodes.append(
            Episode(
                referral_date=as_date(referral["date"]),
                referral_source=None if source is None else str(source),
                referral_nfa=bool(referral.get("nfa", False)),
                primary_need=e.get("primary_need"),
                assessments=[
                    Assessment(
                        start=as_date(a["start"]),
                        authorised=optional_date(a.get("authorised")),
                        factors=[str(f) for f in a.get("factors") or []],
                    )
                    for a in e.get("assessments") or []
                ],
                s47s=[
                    Section47(
                        start=as_date(s["start"]),
                        icpc_date=optional_date(s.get("icpc_date")),
                        icpc_not_required=bool(s.get("icpc_not_required", False)),
                    )
                    for s in e.get("s47") or []
                ],
                cp_plans=[
                    CPPlan(
                        start=as_date(p["start"]),
                        initial_category=p.get("initial_category"),
                        latest_category=p.get("latest_category"),
                        reviews=[as_date(r) for r in p.get("reviews") or []],
                        end=optional_date(p.get("end")),
                    )
                    for p in e.get("cp_plans") or []
                ],
                cin_plans=[
                    CINPlan(start=as_date(p["start"]), end=optional_date(p.get("end")))
                    for p in e.get("cin_plans") or []
                ],
                closure_date=optional_date(closure.get("date")),
                closure_reason=closure.get("reason"),
                emergency_protection=[as_date(d) for d in e.get("emergency_protection") or []],
            )
        )
    return CaseRecord(child=child, episodes=episodes,
                      looked_after=looked_after_from_json(story.get("looked_after")))


# -- JSON (events, CLI) ----------------------------------------------------------------------


def record_to_json(record: CaseRecord) -> dict[str, Any]:
    """The whole record as JSON-ready data: every field, dates as ISO strings."""

    def convert(value: Any) -> Any:
        if isinstance(value, date):
            return iso_date(value)
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list | ReviewDates):
            return [convert(v) for v in value]
        return value

    result: dict[str, Any] = convert(asdict(record))
    return result


def record_from_json(data: Mapping[str, Any]) -> CaseRecord:
    """The inverse of :func:`record_to_json`."""
    c = data["child"]
    child = Child(
        la_child_id=c["la_child_id"],
        upn=c.get("upn"),
        upn_unknown=c.get("upn_unknown"),
        birth_date=optional_date(c.get("birth_date")),
        expected_birth_date=optional_date(c.get("expected_birth_date")),
        sex=c.get("sex"),
        ethnicity=c.get("ethnicity"),
        disabilities=list(c.get("disabilities") or []),
    )
    episodes = [
        Episode(
            referral_date=as_date(e["referral_date"]),
            referral_source=e.get("referral_source"),
            referral_nfa=bool(e.get("referral_nfa", False)),
            primary_need=e.get("primary_need"),
            assessments=[
                Assessment(as_date(a["start"]), optional_date(a.get("authorised")),
                           list(a.get("factors") or []))
                for a in e.get("assessments") or []
            ],
            s47s=[
                Section47(as_date(s["start"]), optional_date(s.get("icpc_date")),
                          bool(s.get("icpc_not_required", False)))
                for s in e.get("s47s") or []
            ],
            cp_plans=[
                CPPlan(
                    start=as_date(p["start"]),
                    initial_category=p.get("initial_category"),
                    latest_category=p.get("latest_category"),
                    reviews=[as_date(r) for r in p.get("reviews") or []],
                    end=optional_date(p.get("end")),
                )
                for p in e.get("cp_plans") or []
            ],
            cin_plans=[
                CINPlan(as_date(p["start"]), optional_date(p.get("end")))
                for p in e.get("cin_plans") or []
            ],
            closure_date=optional_date(e.get("closure_date")),
            closure_reason=e.get("closure_reason"),
            emergency_protection=[as_date(d) for d in e.get("emergency_protection") or []],
        )
        for e in data.get("episodes") or []
    ]
    return CaseRecord(child=child, episodes=episodes,
                      looked_after=looked_after_from_json(data.get("looked_after")))
