"""Realistic random stories: a seeded caseload for demos, benchmarks and tests. No I/O.

:func:`generate_stories` yields children's stories in exactly the normalised form
:func:`carepath.engine.stories.story.parse_story` returns (each one is checked by it), so they obey the DfE
CIN census rules of type ERROR that concern one child. The proportions (referral sources, no
further action, assessment outcomes, section 47 enquiries, conferences and plans, categories,
durations, re-referrals, ages, ethnicity, disability) are approximate, from the DfE "Children in
need" statistics for England (reporting years 2024 and 2025); ``docs/simulation.md`` lists them.

Dates are working days of the given calendar where practice needs them to be (assessments,
conferences, plans, closures: England bank holidays are skipped), conferences are held within 15
working days of the strategy discussion in most cases, and reviews come at 3 and then 6 months.
Stories start across the collection year ending 31 March ``year`` and up to 18 months before it;
everything dated after 31 March ``year`` is left out, so some cases are still open then.

Every story can be recorded by both built-in packs (``ics2010``, ``wt2023``): one assessment per
route (an initial assessment in ``ics2010``), a section 47 enquiry at the referral with an
assessment alongside it, or after an assessment, or while the child has a child in need plan; a
child protection plan ends at a review or between reviews and steps down to a child in need plan
or closes the case.

Child ``i`` of seed ``s`` is the same story whatever ``n`` is (each child has its own random
stream), and its LA child ID is ``S{s}N{i}``.
"""

from __future__ import annotations

import calendar as _calendar
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar

from carepath.core.errors import CarepathError
from carepath.engine.record.case_record import in_code_order
from carepath.engine.simulation.rates import (
    ABUSE_CATEGORIES,
    AFTER_ASSESSMENT,
    AGE_BANDS,
    ALONGSIDE_LATER,
    ASSESSMENT_ON_TIME,
    CATEGORY_FACTOR,
    CIN_AFTER_S47,
    CIN_ESCALATES,
    CLOSURE_REASONS,
    CP_PLAN_RATE,
    DISABILITIES,
    DISABLED,
    ETHNICITIES,
    FACTORS,
    ICPC_ON_TIME,
    ICPC_RATE,
    IN_YEAR,
    LATEST_SAME_CATEGORY,
    MALE,
    MAX_EPISODES,
    MONTHS_BEFORE,
    NFA_RATE,
    NO_FACTORS_WHEN_NFA,
    PLAN_ENDS_AT_REVIEW,
    PRIMARY_NEEDS,
    RE_REFERRAL_RATE,
    REFERRAL_ON_WORKING_DAY,
    REFERRAL_SOURCES,
    REVIEWS_BEFORE_END,
    REVIEWS_ON_TIME,
    S47_AT_REFERRAL,
    SCHOOL_SOURCES,
    STEP_DOWN,
    UN7_WHEN_ALL_NFA,
    UNBORN,
    UNBORN_LEAD_DAYS,
    UPN_UNKNOWN_AT_SCHOOL_AGE,
)
from carepath.engine.stories.story import parse_story, upn_check_letter
from carepath.engine.time.working_days import WorkingDayCalendar

__all__ = ["generate_stories", "check_story", "child_id", "upn_for", "SimulationError"]

T = TypeVar("T")



class SimulationError(CarepathError, ValueError):
    """Bad arguments to the generator (negative numbers, a year out of range)."""


# --- helpers --------------------------------------------------------------------------------


def _pick(rng: random.Random, weights: dict[T, float]) -> T:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _pick_many(rng: random.Random, weights: dict[str, float], count: int,
               exclude: Sequence[str] = ()) -> list[str]:
    pool = {k: v for k, v in weights.items() if k not in exclude}
    out: list[str] = []
    while pool and len(out) < count:
        choice = _pick(rng, pool)
        out.append(choice)
        del pool[choice]
    return out


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    last = _calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))


def child_id(seed: int, index: int) -> str:
    """The LA child ID of child ``index`` of a simulation with ``seed``."""
    return f"S{seed}N{index}"


def upn_for(seed: int, index: int, la: str = "201") -> str:
    """A valid unique pupil number for a simulated child: LA code ``la``, a serial made from the
    seed and the index (different for every index of one seed) and the right check letter."""
    serial = (seed * 7_919_071 + index) % 1_000_000_000
    digits = f"{serial:09d}"
    body = f"{la}{digits[:8]}{digits[8]}"  # 3 + 8 digits, then the 13th character (a digit)
    return upn_check_letter(body) + body


def check_story(story: dict[str, Any]) -> dict[str, Any]:
    """``story`` normalised by :func:`parse_story` (raises ``StoryFormatError`` if it breaks a
    rule)."""
    return parse_story(story, f"simulated story {story.get('child', {}).get('la_child_id')}")


# --- one child ------------------------------------------------------------------------------


@dataclass
class _Episode:
    referral: date
    source: str
    nfa: bool = False
    primary_need: str | None = None
    assessments: list[dict[str, Any]] = field(default_factory=list)
    s47: list[dict[str, Any]] = field(default_factory=list)
    cp_plans: list[dict[str, Any]] = field(default_factory=list)
    cin_plans: list[dict[str, Any]] = field(default_factory=list)
    closure: dict[str, Any] | None = None
    # when each "ICPC not required" decision was made (not part of the story)
    not_required_on: dict[int, date] = field(default_factory=dict)


class _Child:
    def __init__(self, rng: random.Random, cal: WorkingDayCalendar, seed: int, index: int,
                 year: int, la: str) -> None:
        self.rng = rng
        self.cal = cal
        self.seed = seed
        self.index = index
        self.year_start = date(year - 1, 4, 1)
        self.ref_date = date(year, 3, 31)
        self.la = la
        self.unborn = rng.random() < UNBORN
        self.disabled = not self.unborn and rng.random() < DISABLED
        self.cp_plans = 0

    # -- dates ---------------------------------------------------------------------------

    def wd(self, day: date, low: int, high: int) -> date:
        """A date ``low`` to ``high`` working days after ``day`` (0: the day itself)."""
        return self.cal.add_working_days(day, self.rng.randint(low, high))

    def working_on_or_before(self, day: date) -> date:
        return day if self.cal.is_working_day(day) else self.cal.add_working_days(day, -1)

    def first_referral(self) -> date:
        if self.rng.random() < IN_YEAR:
            start, end = self.year_start, self.ref_date
        else:
            start, end = _add_months(self.year_start, -MONTHS_BEFORE), self.year_start
        day = start + timedelta(days=self.rng.randrange((end - start).days + 1))
        if self.rng.random() < REFERRAL_ON_WORKING_DAY and not self.cal.is_working_day(day):
            day = self.cal.add_working_days(day, 1)
        return day

    # -- the child -------------------------------------------------------------------------

    def story(self) -> dict[str, Any]:
        first = self.first_referral()
        child: dict[str, Any] = {"la_child_id": child_id(self.seed, self.index)}
        if self.unborn and (self.ref_date - first).days > UNBORN_LEAD_DAYS:
            # a child referred before birth this long before 31 March is born by then; the
            # story has the child as they are now, and a child is referred after their birth
            self.unborn = False
        if self.unborn:
            # still unborn on 31 March (and due at most 40 weeks after the referral, rule 8606)
            soonest = max(30, (self.ref_date - first).days + 1)
            child["expected_birth_date"] = first + timedelta(
                days=self.rng.randint(soonest, max(soonest, UNBORN_LEAD_DAYS)))
            child["sex"] = "U"
            age0 = -1
        else:
            low, high = _pick(self.rng, AGE_BANDS)
            age0 = self.rng.randint(low, high)
            days = age0 * 365 + self.rng.randint(0, 364)
            child["birth_date"] = first - timedelta(days=days)
            child["sex"] = "M" if self.rng.random() < MALE else "F"
        child["ethnicity"] = _pick(self.rng, ETHNICITIES)
        if self.disabled:
            count = self.rng.choice((1, 1, 2, 2, 3))
            child["disabilities"] = in_code_order(_pick_many(self.rng, DISABILITIES, count),
                                                  "disability")
        else:
            child["disabilities"] = ["NONE"]

        episodes: list[_Episode] = []
        referral = first
        while True:
            age = age0 if self.unborn else age0 + (referral - first).days // 365
            episode = self.episode(referral, age)
            episodes.append(episode)
            if episode.closure is None or len(episodes) >= MAX_EPISODES or self.unborn:
                break
            if self.rng.random() >= RE_REFERRAL_RATE:
                break
            referral = episode.closure["date"] + timedelta(days=self.rng.randint(7, 330))
            if referral > self.ref_date:
                break
        known = [e for e in (self.truncate(e) for e in episodes) if e is not None]
        self.identify(child, known)
        return {"child": child, "episodes": known}

    def identify(self, child: dict[str, Any], episodes: list[dict[str, Any]]) -> None:
        """UPN or the reason it is unknown (school age: 5 or over on 31 March)."""
        all_nfa = all(e["referral"]["nfa"] for e in episodes)
        born = child.get("birth_date")
        age = (self.ref_date - born).days // 365 if isinstance(born, date) else -1
        if self.unborn:
            child["upn_unknown"] = "UN1"
        elif all_nfa and self.rng.random() < UN7_WHEN_ALL_NFA:
            child["upn_unknown"] = "UN7"
        elif age < 5:
            child["upn_unknown"] = "UN1"
        elif self.rng.random() < UPN_UNKNOWN_AT_SCHOOL_AGE:
            child["upn_unknown"] = self.rng.choice(("UN2", "UN3", "UN5"))
        else:
            child["upn"] = upn_for(self.seed, self.index, self.la)

    # -- an episode ------------------------------------------------------------------------

    def source(self, age: int) -> str:
        if self.unborn:
            return self.rng.choice(("3D", "3D", "3D", "3F", "5A", "6", "1A"))
        weights = REFERRAL_SOURCES
        if age < 4:
            weights = {k: v for k, v in weights.items() if k not in SCHOOL_SOURCES}
        return _pick(self.rng, weights)

    def episode(self, referral: date, age: int) -> _Episode:
        ep = _Episode(referral, self.source(age))
        if self.rng.random() < NFA_RATE:
            ep.nfa = True
            ep.closure = {"date": self.wd(referral, 0, 1), "reason": "RC7"}
            return ep
        need = _pick(self.rng, PRIMARY_NEEDS)
        if self.disabled and self.rng.random() < 0.4:
            need = "N2"
        if self.unborn and need in ("N2", "N6", "N9"):
            need = "N1"
        ep.primary_need = need
        if self.rng.random() < S47_AT_REFERRAL:
            ep.primary_need = "N1" if self.rng.random() < 0.85 else need
            start = self.wd(referral, 0, 1)
            self.enquiry(ep, start, age, alongside=True, in_cin_plan=False)
            return ep
        a_start = self.wd(referral, 0, 3)
        authorised = self.authorised(a_start)
        outcome = _pick(self.rng, AFTER_ASSESSMENT)
        if outcome.startswith("close"):
            factors = ["21"] if self.rng.random() < NO_FACTORS_WHEN_NFA else self.factors(None)
            ep.assessments.append({"start": a_start, "authorised": authorised,
                                   "factors": factors})
            ep.closure = {"date": self.wd(authorised, 0, 3),
                          "reason": "RC8" if outcome == "close_rc8" else "RC9"}
            return ep
        ep.assessments.append({"start": a_start, "authorised": authorised,
                               "factors": self.factors(None)})
        if outcome == "cin_plan":
            self.cin_plan(ep, self.wd(authorised, 0, 8), age)
        else:
            alongside = self.rng.random() < ALONGSIDE_LATER
            self.enquiry(ep, self.wd(authorised, 0, 3), age, alongside, in_cin_plan=False)
        return ep

    def authorised(self, start: date) -> date:
        if self.rng.random() < ASSESSMENT_ON_TIME:
            days = int(self.rng.triangular(5, 45, 30))
        else:
            days = self.rng.randint(46, 80)
        return self.cal.add_working_days(start, days)

    def factors(self, category: str | None) -> list[str]:
        count = self.rng.choice((1, 1, 2, 2, 2, 3, 3, 4, 5))
        chosen: list[str] = []
        if category in CATEGORY_FACTOR:
            chosen.append(CATEGORY_FACTOR[category])
        chosen += _pick_many(self.rng, FACTORS, count - len(chosen), exclude=chosen)
        return chosen or [_pick(self.rng, FACTORS)]

    def close(self, ep: _Episode, day: date, age_at_start: int) -> None:
        reason = _pick(self.rng, CLOSURE_REASONS)
        years = age_at_start + (day - ep.referral).days // 365
        if years >= 17 and (self.disabled or self.rng.random() < 0.3):
            reason = "RC6"
        ep.closure = {"date": day, "reason": reason}

    def enquiry(self, ep: _Episode, start: date, age: int, alongside: bool,
                in_cin_plan: bool) -> date | None:
        """A strategy discussion on ``start`` and what follows it. Returns, when the child had a
        child in need plan and gets no child protection plan, the day the plan goes on from."""
        s47: dict[str, Any] = {"start": start}
        ep.s47.append(s47)
        assessment: dict[str, Any] | None = None
        if alongside:
            assessment = {"start": self.wd(start, 0, 1)}
            if ep.assessments:  # the one before was authorised: start after that day
                after = self.cal.next_working_day(ep.assessments[-1]["authorised"])
                assessment["start"] = max(assessment["start"], after)
            assessment["authorised"] = self.authorised(assessment["start"])
            ep.assessments.append(assessment)
        if self.rng.random() < ICPC_RATE:
            if self.rng.random() < ICPC_ON_TIME:
                icpc = self.wd(start, 4, 15)
            else:
                icpc = self.wd(start, 16, 25)
            s47["icpc_date"] = icpc
            decided = icpc
            if self.rng.random() < CP_PLAN_RATE:
                if in_cin_plan:
                    ep.cin_plans[-1]["end"] = icpc
                category = _pick(self.rng, ABUSE_CATEGORIES)
                if assessment is not None:
                    assessment["factors"] = self.factors(category)
                first_event = self.cp_plan(ep, icpc, category, age)
                if assessment is not None:
                    # the plan's reviews start once the assessment and the enquiry are done
                    latest = first_event - timedelta(days=1)
                    if assessment["authorised"] > latest:
                        assessment["authorised"] = max(assessment["start"], latest)
                return None
        else:
            s47["icpc_not_required"] = True
            decided = self.wd(start, 3, 15)
            ep.not_required_on[len(ep.s47) - 1] = decided
        if assessment is not None:
            assessment["factors"] = self.factors(None)
            decided = max(decided, assessment["authorised"])
        if in_cin_plan:
            return decided
        if self.rng.random() < CIN_AFTER_S47:
            self.cin_plan(ep, self.wd(decided, 0, 5), age)
        else:
            ep.closure = {"date": self.wd(decided, 0, 3), "reason": "RC7"}
        return None

    def cp_plan(self, ep: _Episode, start: date, category: str, age: int) -> date:
        """A child protection plan from ``start`` (an ICPC) to its end and what follows; returns
        the date of its first review or its end."""
        self.cp_plans += 1
        plan: dict[str, Any] = {"start": start, "initial_category": category,
                                "latest_category": category}
        ep.cp_plans.append(plan)
        reviews_wanted = _pick(self.rng, REVIEWS_BEFORE_END)
        reviews: list[date] = []
        previous = start
        for number in range(reviews_wanted):
            due = _add_months(previous, 3 if number == 0 else 6)
            if self.rng.random() < REVIEWS_ON_TIME:
                review = self.cal.add_working_days(self.working_on_or_before(due),
                                                   -self.rng.randint(0, 15))
            else:
                review = self.cal.add_working_days(due, self.rng.randint(1, 10))
            if review <= previous:
                review = self.cal.add_working_days(previous, 1)
            reviews.append(review)
            previous = review
        if reviews:
            plan["reviews"] = reviews
        if not reviews or self.rng.random() >= PLAN_ENDS_AT_REVIEW:
            # ended between reviews, before the next one was due
            next_due = _add_months(previous, 3 if not reviews else 6)
            span = max(2, self.cal.working_days_between(previous, next_due) - 2)
            end = self.cal.add_working_days(previous, self.rng.randint(1, span))
        else:
            end = reviews[-1]
        plan["end"] = end
        if self.rng.random() >= LATEST_SAME_CATEGORY and (reviews or end):
            plan["latest_category"] = _pick(self.rng, {k: v for k, v in ABUSE_CATEGORIES.items()
                                                       if k != category})
        first_event = reviews[0] if reviews else end
        if self.rng.random() < STEP_DOWN:
            self.cin_plan(ep, end if self.rng.random() < 0.6 else self.wd(end, 1, 5), age)
        else:
            self.close(ep, self.wd(end, 0, 3), age)
        return first_event

    def cin_plan(self, ep: _Episode, start: date, age: int) -> None:
        plan: dict[str, Any] = {"start": start}
        ep.cin_plans.append(plan)
        months = min(30.0, max(1.0, self.rng.lognormvariate(1.75, 0.6)))  # median ~6 months
        end = self.working_on_or_before(start + timedelta(days=int(months * 30.4)))
        if end < start:
            end = start
        if self.rng.random() < CIN_ESCALATES and (end - start).days > 30:
            s47_start = self.cal.add_working_days(
                start, self.rng.randint(5, max(6, self.cal.working_days_between(start, end) - 5)))
            alongside = self.rng.random() < ALONGSIDE_LATER
            goes_on = self.enquiry(ep, s47_start, age, alongside, in_cin_plan=True)
            if goes_on is None:
                return  # a child protection plan followed
            end = max(end, self.wd(goes_on, 5, 60))
        plan["end"] = end
        self.close(ep, self.wd(end, 0, 2), age)

    # -- the reference date ------------------------------------------------------------------

    def truncate(self, ep: _Episode) -> dict[str, Any] | None:
        """The episode as known on 31 March: anything dated later is left out."""
        cut = self.ref_date
        if ep.referral > cut:
            return None
        # The decision "no further action" is recorded with the closure (both built-in packs
        # ask for them together): a referral closed after 31 March was still waiting for its
        # decision then, so it is open, neither NFA nor with a primary need.
        nfa = ep.nfa and ep.closure is not None and ep.closure["date"] <= cut
        out: dict[str, Any] = {"referral": {"date": ep.referral, "source": ep.source,
                                            "nfa": nfa}}
        if ep.primary_need:
            out["primary_need"] = ep.primary_need
        assessments = []
        for a in ep.assessments:
            if a["start"] > cut:
                continue
            entry = {"start": a["start"]}
            if a.get("authorised") and a["authorised"] <= cut:
                entry["authorised"] = a["authorised"]
                if a.get("factors"):
                    entry["factors"] = in_code_order(list(a["factors"]), "assessment_factors")
            assessments.append(entry)
        s47s = []
        for i, s in enumerate(ep.s47):
            if s["start"] > cut:
                continue
            entry = {"start": s["start"]}
            if s.get("icpc_date") and s["icpc_date"] <= cut:
                entry["icpc_date"] = s["icpc_date"]
            if s.get("icpc_not_required") and ep.not_required_on[i] <= cut:
                entry["icpc_not_required"] = True
            s47s.append(entry)
        plans = []
        for p in ep.cp_plans:
            if p["start"] > cut:
                continue
            entry = {"start": p["start"], "initial_category": p["initial_category"],
                     "latest_category": p["latest_category"]}
            reviews = [r for r in p.get("reviews", []) if r <= cut]
            if reviews:
                entry["reviews"] = reviews
            if p.get("end") and p["end"] <= cut:
                entry["end"] = p["end"]
            if not reviews and "end" not in entry:
                # the latest category changes at a review or when the plan ends
                entry["latest_category"] = p["initial_category"]
            plans.append(entry)
        cin_plans = []
        for c in ep.cin_plans:
            if c["start"] > cut:
                continue
            entry = {"start": c["start"]}
            if c.get("end") and c["end"] <= cut:
                entry["end"] = c["end"]
            cin_plans.append(entry)
        for key, items in (("assessments", assessments), ("s47", s47s), ("cp_plans", plans),
                           ("cin_plans", cin_plans)):
            if items:
                out[key] = items
        if ep.closure is not None and ep.closure["date"] <= cut:
            out["closure"] = dict(ep.closure)
        return out


# --- the generator ---------------------------------------------------------------------------


def generate_stories(n: int, seed: int, year: int = 2026,
                     calendar: WorkingDayCalendar | None = None,
                     la: str = "201", check: bool = True) -> Iterator[dict[str, Any]]:
    """``n`` stories (children ``S{seed}N0`` … ``S{seed}N{n-1}``) for the collection year
    ending 31 March ``year``, in the normalised form of ``parse_story``.

    ``calendar`` gives the working days (default: England's bank holidays); ``la`` is the
    three-digit LA code used in the children's UPNs. Each story goes through
    :func:`check_story` (``parse_story``) unless ``check`` is False (a third faster, for bulk
    benchmarks: the stories are the same).
    """
    if n < 0:
        raise SimulationError(f"the number of children cannot be negative ({n})")
    if seed < 0:
        raise SimulationError(f"the seed must be 0 or more ({seed})")
    if not 2000 < year < 2100:
        raise SimulationError(f"{year} is not a collection year carepath can simulate")
    if len(la) != 3 or not la.isdigit():
        raise SimulationError(f"'{la}' is not a three-digit LA code")
    cal = calendar if calendar is not None else WorkingDayCalendar()
    return _generate(n, seed, year, cal, la, check)


def _generate(n: int, seed: int, year: int, cal: WorkingDayCalendar, la: str,
              check: bool) -> Iterator[dict[str, Any]]:
    for index in range(n):
        rng = random.Random(f"carepath-simulate:{seed}:{index}")
        story = _Child(rng, cal, seed, index, year, la).story()
        yield check_story(story) if check else story
