"""The canonical case record: one child, one or more episodes of need.

The engine owns this shape; packs only fill it through form mappings (``record:`` items) and the
statutory returns read only it. Its dictionary form is exactly the story format
(see ``docs/stories.md``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from carepath.engine.codes import STATUTORY_CODELISTS
from carepath.engine.errors import RecordError
from carepath.engine.record_items import RECORD_ITEMS, ItemType, RecordItem

if TYPE_CHECKING:
    from carepath.engine.working_days import WorkingDayCalendar


def in_code_order(codes: list[str], codelist: str) -> list[str]:
    """Codes in the order of their statutory list: a set of codes has one canonical form."""


    order = {c.code: i for i, c in enumerate(STATUTORY_CODELISTS[codelist].codes)}
    return sorted(codes, key=lambda code: (order.get(code, len(order)), code))


@dataclass
class Child:
    la_child_id: str
    upn: str | None = None
    upn_unknown: str | None = None
    birth_date: date | None = None
    expected_birth_date: date | None = None
    sex: str | None = None
    ethnicity: str | None = None
    disabilities: list[str] = field(default_factory=list)


@dataclass
class Assessment:
    start: date
    authorised: date | None = None
    factors: list[str] = field(default_factory=list)


@dataclass
class Section47:
    start: date  # the date of the strategy discussion that began the enquiry
    icpc_date: date | None = None
    icpc_not_required: bool = False


@dataclass
class CPPlan:
    start: date
    initial_category: str | None = None
    latest_category: str | None = None
    reviews: list[date] = field(default_factory=list)
    end: date | None = None


@dataclass
class CINPlan:
    start: date
    end: date | None = None


@dataclass
class Episode:
    referral_date: date
    referral_source: str | None = None
    referral_nfa: bool = False
    primary_need: str | None = None
    assessments: list[Assessment] = field(default_factory=list)
    s47s: list[Section47] = field(default_factory=list)
    cp_plans: list[CPPlan] = field(default_factory=list)
    cin_plans: list[CINPlan] = field(default_factory=list)
    closure_date: date | None = None
    closure_reason: str | None = None


@dataclass
class CaseRecord:
    child: Child
    episodes: list[Episode] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Functions over the record. All pure: they read or change the objects given and nothing else.
# --------------------------------------------------------------------------------------------

ICPC_WORKING_DAYS = 15  # initial child protection conference: 15 working days after the strategy discussion
CLOSED_MESSAGE = "This episode was closed on {date}: no more work can be recorded on it"


@dataclass(frozen=True)
class RecordChange:
    """One record item changed by :func:`apply_values`: the value written and the one before."""

    item: str
    value: Any
    before: Any


def _default_calendar() -> WorkingDayCalendar:
    from carepath.engine.working_days import WorkingDayCalendar

    return WorkingDayCalendar()


def _iso(d: date) -> str:
    return d.isoformat()


def _as_date(value: Any) -> date:
    """A date from a date object or an ISO ``YYYY-MM-DD`` string (a datetime is refused)."""
    if isinstance(value, datetime):
        raise ValueError(f"{value!r} is a date and time, not a date")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value.strip())
    raise ValueError(f"{value!r} is not a date")


def _opt_date(value: Any) -> date | None:
    return None if value is None else _as_date(value)


def previous_plans(record: CaseRecord, plan: CPPlan) -> int:
    """How many child protection plans the child had before ``plan`` (across all episodes)."""
    count = 0
    for episode in record.episodes:
        for other in episode.cp_plans:
            if other is plan:
                return count
            count += 1
    raise ValueError("the plan is not part of this record")


def icpc_target(s47: Section47, calendar: WorkingDayCalendar | None = None) -> date:
    """The date the initial child protection conference is due: 15 working days after the
    strategy discussion that started the enquiry."""
    cal = calendar if calendar is not None else _default_calendar()
    target: date = cal.add_working_days(s47.start, ICPC_WORKING_DAYS)
    return target


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
        cal = _default_calendar()
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
        if ep.closure_date is not None:
            closure: dict[str, Any] = {"date": ep.closure_date}
            if ep.closure_reason is not None:
                closure["reason"] = ep.closure_reason
            e["closure"] = closure
        episodes.append(e)
    return {"child": c, "episodes": episodes}


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
    """The record a (validated, see ``carepath.engine.story.parse_story``) story describes.

    Computed items (``icpc_target``, ``previous_plans``) are ignored. Dates may be ``date``
    objects or ISO strings.
    """
    c = story["child"]
    child = Child(
        la_child_id=str(c["la_child_id"]),
        upn=c.get("upn"),
        upn_unknown=c.get("upn_unknown"),
        birth_date=_opt_date(c.get("birth_date")),
        expected_birth_date=_opt_date(c.get("expected_birth_date")),
        sex=c.get("sex"),
        ethnicity=c.get("ethnicity"),
        disabilities=[str(d) for d in c.get("disabilities") or []],
    )
    episodes: list[Episode] = []
    for e in story.get("episodes") or []:
        referral = e["referral"]
        closure = e.get("closure") or {}
        source = referral.get("source")
        episodes.append(
            Episode(
                referral_date=_as_date(referral["date"]),
                referral_source=None if source is None else str(source),
                referral_nfa=bool(referral.get("nfa", False)),
                primary_need=e.get("primary_need"),
                assessments=[
                    Assessment(
                        start=_as_date(a["start"]),
                        authorised=_opt_date(a.get("authorised")),
                        factors=[str(f) for f in a.get("factors") or []],
                    )
                    for a in e.get("assessments") or []
                ],
                s47s=[
                    Section47(
                        start=_as_date(s["start"]),
                        icpc_date=_opt_date(s.get("icpc_date")),
                        icpc_not_required=bool(s.get("icpc_not_required", False)),
                    )
                    for s in e.get("s47") or []
                ],
                cp_plans=[
                    CPPlan(
                        start=_as_date(p["start"]),
                        initial_category=p.get("initial_category"),
                        latest_category=p.get("latest_category"),
                        reviews=[_as_date(r) for r in p.get("reviews") or []],
                        end=_opt_date(p.get("end")),
                    )
                    for p in e.get("cp_plans") or []
                ],
                cin_plans=[
                    CINPlan(start=_as_date(p["start"]), end=_opt_date(p.get("end")))
                    for p in e.get("cin_plans") or []
                ],
                closure_date=_opt_date(closure.get("date")),
                closure_reason=closure.get("reason"),
            )
        )
    return CaseRecord(child=child, episodes=episodes)


# -- JSON (events, CLI) ----------------------------------------------------------------------


def record_to_json(record: CaseRecord) -> dict[str, Any]:
    """The whole record as JSON-ready data: every field, dates as ISO strings."""

    def convert(value: Any) -> Any:
        if isinstance(value, date):
            return _iso(value)
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list):
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
        birth_date=_opt_date(c.get("birth_date")),
        expected_birth_date=_opt_date(c.get("expected_birth_date")),
        sex=c.get("sex"),
        ethnicity=c.get("ethnicity"),
        disabilities=list(c.get("disabilities") or []),
    )
    episodes = [
        Episode(
            referral_date=_as_date(e["referral_date"]),
            referral_source=e.get("referral_source"),
            referral_nfa=bool(e.get("referral_nfa", False)),
            primary_need=e.get("primary_need"),
            assessments=[
                Assessment(_as_date(a["start"]), _opt_date(a.get("authorised")),
                           list(a.get("factors") or []))
                for a in e.get("assessments") or []
            ],
            s47s=[
                Section47(_as_date(s["start"]), _opt_date(s.get("icpc_date")),
                          bool(s.get("icpc_not_required", False)))
                for s in e.get("s47s") or []
            ],
            cp_plans=[
                CPPlan(
                    start=_as_date(p["start"]),
                    initial_category=p.get("initial_category"),
                    latest_category=p.get("latest_category"),
                    reviews=[_as_date(r) for r in p.get("reviews") or []],
                    end=_opt_date(p.get("end")),
                )
                for p in e.get("cp_plans") or []
            ],
            cin_plans=[
                CINPlan(_as_date(p["start"]), _opt_date(p.get("end")))
                for p in e.get("cin_plans") or []
            ],
            closure_date=_opt_date(e.get("closure_date")),
            closure_reason=e.get("closure_reason"),
        )
        for e in data.get("episodes") or []
    ]
    return CaseRecord(child=child, episodes=episodes)


# -- context for expressions and timescales --------------------------------------------------


def current_episode(record: CaseRecord) -> Episode | None:
    """The child's current (latest) episode, or None before the first referral."""
    return record.episodes[-1] if record.episodes else None


def record_context(
    record: CaseRecord, calendar: WorkingDayCalendar | None = None
) -> dict[str, dict[str, Any]]:
    """Namespaces expressions and timescales read (``referral.date``, ``cp_plan.last_review``…).

    Every namespace and key is always present; a value not known yet is None (lists are empty).
    Episode items are those of the current episode; assessment, s47, cp_plan and cin_plan are its
    latest one of each.
    """
    child = record.child
    ep = current_episode(record)
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
        },
        "assessment": {
            "start": assessment.start if assessment else None,
            "authorised": assessment.authorised if assessment else None,
            "factors": list(assessment.factors) if assessment else [],
        },
        "s47": {
            "start": s47.start if s47 else None,
            "icpc_date": s47.icpc_date if s47 else None,
            "icpc_not_required": s47.icpc_not_required if s47 else None,
            "icpc_target": icpc_target(s47, calendar) if s47 else None,
        },
        "cp_plan": {
            "start": plan.start if plan else None,
            "end": plan.end if plan else None,
            "initial_category": plan.initial_category if plan else None,
            "latest_category": plan.latest_category if plan else None,
            "last_review": plan.reviews[-1] if plan and plan.reviews else None,
            "reviews": list(plan.reviews) if plan else [],
            "previous_plans": previous_plans(record, plan) if plan else None,
        },
        "cin_plan": {
            "start": cin.start if cin else None,
            "end": cin.end if cin else None,
        },
        "closure": {
            "date": ep.closure_date if ep else None,
            "reason": ep.closure_reason if ep else None,
        },
    }


# -- changing the record ---------------------------------------------------------------------


def new_episode(
    record: CaseRecord, referral_date: date, source: str | None, nfa: bool = False
) -> Episode:
    """Record a new referral: append a new episode and return it.

    The current episode must be closed first. An open referral with no further action does not
    block a new one (DfE rules 8815/8816 allow it to stay open).
    """
    referral_date = _coerce_date("Referral date", referral_date)
    if source is not None:
        source = _coerce_code(RECORD_ITEMS["referral.source"], source)
    current = current_episode(record)
    if current is not None:
        if current.closure_date is None and not current.referral_nfa:
            raise RecordError(
                "This child already has an open episode (referral "
                f"{_iso(current.referral_date)}): close it before recording a new referral"
            )
        after = current.closure_date or current.referral_date
        if referral_date < after:
            raise RecordError(
                f"The referral date must be on or after {_iso(after)}, when the child's previous "
                "episode " + ("closed" if current.closure_date else "began")
            )
    episode = Episode(referral_date=referral_date, referral_source=source, referral_nfa=nfa)
    record.episodes.append(episode)
    return episode


_START_ITEMS = frozenset({"assessment.start", "s47.start", "cp_plan.start", "cin_plan.start"})
_ITEM_ORDER = {path: i for i, path in enumerate(RECORD_ITEMS)}


def apply_values(record: CaseRecord, values: Mapping[str, Any]) -> list[RecordChange]:
    """Apply ``{record item: value}`` (a form's ``record:`` mappings) to the current episode.

    ``X.start`` items come first, each opening a new X; the other items follow in the order of
    ``RECORD_ITEMS`` and update the latest X. None (and empty text) means "not given" and is
    skipped. Either every value is applied or, on a :class:`RecordError`, none is.
    """
    unknown = sorted(k for k in values if k not in RECORD_ITEMS)
    if unknown:
        raise RecordError(f"'{unknown[0]}' is not an item of the case record")
    given = {k: v for k, v in values.items() if v is not None and v != ""}
    order = sorted(given, key=lambda k: (k not in _START_ITEMS, _ITEM_ORDER[k]))
    coerced = {k: _coerce(k, given[k]) for k in order}

    if coerced.get("child.upn") and coerced.get("child.upn_unknown"):
        raise RecordError("Give either a unique pupil number or the reason it is unknown, not both")
    if coerced.get("child.birth_date") and coerced.get("child.expected_birth_date"):
        raise RecordError("Give either the date of birth or the expected date of birth, not both")

    episode_items = [k for k in order if not k.startswith("child.")]
    ep = current_episode(record)
    if episode_items:
        if ep is None:
            raise RecordError("This child has no episode yet: record a referral first")
        if ep.closure_date is not None:
            raise RecordError(CLOSED_MESSAGE.format(date=_iso(ep.closure_date)))
        nfa = coerced.get("referral.nfa", ep.referral_nfa)
        if nfa and any(k in _START_ITEMS for k in order):
            raise RecordError(
                "This referral was recorded as needing no further action: no assessment, "
                "enquiry or plan can be recorded on it"
            )

    snapshot = copy.deepcopy(record)
    changes: list[RecordChange] = []
    try:
        for item in order:
            _apply_one(record, item, coerced[item], changes)
        if ep is not None and episode_items:
            _check_episode(ep)
    except RecordError:
        record.child = snapshot.child
        record.episodes = snapshot.episodes
        raise
    return changes


def _coerce_date(title: str, value: Any) -> date:
    try:
        return _as_date(value)
    except ValueError:
        raise RecordError(f"{title} must be a date, like 2025-05-01 (not {value!r})") from None


def _coerce_code(item: RecordItem, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise RecordError(f"{item.title} must be a code (not {value!r})")
    code = str(value).strip()
    codelist = STATUTORY_CODELISTS[item.codelist or ""]
    if code not in codelist:
        raise RecordError(f"{item.title}: '{code}' is not a code in the list '{codelist.title}'")
    return code


def _coerce(path: str, value: Any) -> Any:
    item = RECORD_ITEMS[path]
    if item.type is ItemType.DATE:
        return _coerce_date(item.title, value)
    if item.type is ItemType.YESNO:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("yes", "true", "1"):
            return True
        if text in ("no", "false", "0"):
            return False
        raise RecordError(f"{item.title} must be yes or no (not {value!r})")
    if item.type is ItemType.CODE:
        return _coerce_code(item, value)
    if item.type is ItemType.CODES:
        if isinstance(value, str | int) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list | tuple):
            raise RecordError(f"{item.title} must be a list of codes (not {value!r})")
        codes = [_coerce_code(item, v) for v in value]
        if len(set(codes)) != len(codes):
            raise RecordError(f"{item.title}: each code may be given only once")
        return codes
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise RecordError(f"{item.title} must be text (not {value!r})")
    return str(value).strip()


def _apply_one(record: CaseRecord, item: str, value: Any, changes: list[RecordChange]) -> None:
    def changed(path: str, new: Any, before: Any) -> None:
        changes.append(RecordChange(path, new, before))

    namespace, name = item.split(".", 1)
    if namespace == "child":
        child = record.child
        before = getattr(child, name)
        setattr(child, name, list(value) if isinstance(value, list) else value)
        changed(item, value, list(before) if isinstance(before, list) else before)
        # one or the other: a UPN replaces the reason it was unknown; a birth date replaces the
        # expected date of birth (and the other way round)
        pairs = {"upn": "upn_unknown", "upn_unknown": "upn",
                 "birth_date": "expected_birth_date", "expected_birth_date": "birth_date"}
        other = pairs.get(name)
        if other is not None and getattr(child, other) is not None:
            changed(f"child.{other}", None, getattr(child, other))
            setattr(child, other, None)
        return

    ep = record.episodes[-1]
    if namespace == "referral":
        attr = {"date": "referral_date", "source": "referral_source", "nfa": "referral_nfa"}[name]
        if name == "nfa" and value and (ep.assessments or ep.s47s or ep.cp_plans or ep.cin_plans):
            raise RecordError(
                "This referral cannot be marked as needing no further action: an assessment, "
                "enquiry or plan is already recorded on it"
            )
        changed(item, value, getattr(ep, attr))
        setattr(ep, attr, value)
    elif namespace == "episode":
        changed(item, value, ep.primary_need)
        ep.primary_need = value
    elif namespace == "closure":
        attr = {"date": "closure_date", "reason": "closure_reason"}[name]
        changed(item, value, getattr(ep, attr))
        setattr(ep, attr, value)
    elif namespace == "assessment":
        _apply_assessment(ep, name, value, changed)
    elif namespace == "s47":
        _apply_s47(ep, name, value, changed)
    elif namespace == "cp_plan":
        _apply_cp_plan(ep, name, value, changed)
    else:
        _apply_cin_plan(ep, name, value, changed)


def _apply_assessment(ep: Episode, name: str, value: Any, changed: _Changed) -> None:
    latest = ep.assessments[-1] if ep.assessments else None
    if name == "start":
        if latest is not None and latest.authorised is None:
            raise RecordError(
                f"An assessment is already open in this episode (started {_iso(latest.start)}): "
                "authorise it first"
            )
        ep.assessments.append(Assessment(start=value))
        changed("assessment.start", value, None)
        return
    if latest is None:
        raise RecordError("There is no assessment to authorise in this episode"
                          if name == "authorised" else "There is no assessment in this episode")
    if name == "authorised":
        changed("assessment.authorised", value, latest.authorised)
        latest.authorised = value
    else:
        if value and latest.authorised is None:
            raise RecordError("Factors can only be recorded on an assessment once it is "
                              "authorised (DfE rule 8614)")
        if "21" in value and len(value) > 1:
            raise RecordError("Factor 21 (no factors identified) cannot be recorded with other "
                              "factors (DfE rule 8869)")
        changed("assessment.factors", list(value), list(latest.factors))
        latest.factors = list(value)


def _apply_s47(ep: Episode, name: str, value: Any, changed: _Changed) -> None:
    latest = ep.s47s[-1] if ep.s47s else None
    if name == "start":
        if latest is not None and latest.icpc_date is None and not latest.icpc_not_required:
            raise RecordError(
                "A section 47 enquiry is already open in this episode (started "
                f"{_iso(latest.start)}): record its initial child protection conference, or that "
                "none is required, first"
            )
        ep.s47s.append(Section47(start=value))
        changed("s47.start", value, None)
        return
    if latest is None:
        raise RecordError("There is no section 47 enquiry in this episode")
    if name == "icpc_date":
        changed("s47.icpc_date", value, latest.icpc_date)
        latest.icpc_date = value
    else:
        changed("s47.icpc_not_required", value, latest.icpc_not_required)
        latest.icpc_not_required = value


def _apply_cp_plan(ep: Episode, name: str, value: Any, changed: _Changed) -> None:
    latest = ep.cp_plans[-1] if ep.cp_plans else None
    if name == "start":
        if latest is not None and latest.end is None:
            raise RecordError(
                "A child protection plan is already open in this episode (started "
                f"{_iso(latest.start)}): end it first"
            )
        ep.cp_plans.append(CPPlan(start=value))
        changed("cp_plan.start", value, None)
        return
    if latest is None:
        raise RecordError("There is no child protection plan in this episode")
    if name == "initial_category":
        changed("cp_plan.initial_category", value, latest.initial_category)
        latest.initial_category = value
        if latest.latest_category is None:
            changed("cp_plan.latest_category", value, None)
            latest.latest_category = value
    elif name == "latest_category":
        changed("cp_plan.latest_category", value, latest.latest_category)
        latest.latest_category = value
    elif name == "review":
        changed("cp_plan.review", value, latest.reviews[-1] if latest.reviews else None)
        latest.reviews.append(value)
    else:
        changed("cp_plan.end", value, latest.end)
        latest.end = value


def _apply_cin_plan(ep: Episode, name: str, value: Any, changed: _Changed) -> None:
    latest = ep.cin_plans[-1] if ep.cin_plans else None
    if name == "start":
        if latest is not None and latest.end is None:
            raise RecordError(
                "A child in need plan is already open in this episode (started "
                f"{_iso(latest.start)}): end it first"
            )
        ep.cin_plans.append(CINPlan(start=value))
        changed("cin_plan.start", value, None)
        return
    if latest is None:
        raise RecordError("There is no child in need plan in this episode")
    changed("cin_plan.end", value, latest.end)
    latest.end = value


def _check_episode(ep: Episode) -> None:
    """Dates within the current episode that would make the record impossible."""
    ref = ep.referral_date
    for a in ep.assessments:
        _not_before(a.start, ref, "An assessment cannot start before the referral")
        if a.authorised is not None:
            _not_before(a.authorised, a.start, "An assessment cannot be authorised before it "
                        "started")
    for s in ep.s47s:
        _not_before(s.start, ref, "A section 47 enquiry cannot start before the referral")
        if s.icpc_date is not None:
            _not_before(s.icpc_date, s.start, "The initial child protection conference cannot "
                        "be before the strategy discussion")
            if s.icpc_not_required:
                raise RecordError("A section 47 enquiry cannot have both an initial child "
                                  "protection conference and 'conference not required'")
    for p in ep.cp_plans:
        _not_before(p.start, ref, "A child protection plan cannot start before the referral")
        for r in p.reviews:
            if r <= p.start:
                raise RecordError(f"A review ({_iso(r)}) must be after the child protection "
                                  f"plan started ({_iso(p.start)})")
        if p.end is not None and p.end <= p.start:
            raise RecordError(f"A child protection plan must end after the day it started "
                              f"({_iso(p.start)})")
    for c in ep.cin_plans:
        _not_before(c.start, ref, "A child in need plan cannot start before the referral")
        if c.end is not None:
            _not_before(c.end, c.start, "A child in need plan cannot end before it started")
    if ep.closure_date is not None:
        _not_before(ep.closure_date, ref, "An episode cannot close before its referral")
        last = max(episode_dates(ep))
        _not_before(ep.closure_date, last, "An episode cannot close before work recorded on it")
        if ep.closure_reason is None:
            raise RecordError("Give the reason for closure with the closure date")
    elif ep.closure_reason is not None:
        raise RecordError("Give the closure date with the reason for closure")


def episode_dates(ep: Episode) -> list[date]:
    """Every date recorded on an episode except its closure date."""
    dates = [ep.referral_date]
    for a in ep.assessments:
        dates += [d for d in (a.start, a.authorised) if d is not None]
    for s in ep.s47s:
        dates += [d for d in (s.start, s.icpc_date) if d is not None]
    for p in ep.cp_plans:
        dates += [p.start, *p.reviews] + ([p.end] if p.end is not None else [])
    for c in ep.cin_plans:
        dates += [c.start] + ([c.end] if c.end is not None else [])
    return dates


def _not_before(value: date, limit: date, message: str) -> None:
    if value < limit:
        raise RecordError(f"{message} ({_iso(value)} is before {_iso(limit)})")


_Changed = Callable[[str, Any, Any], None]
