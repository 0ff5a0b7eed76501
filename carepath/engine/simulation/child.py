"""One simulated child: the episodes of its story, drawn from its own random stream. No I/O.

``generator.generate_stories`` is the way in; ``docs/simulation.md`` says what is drawn and
from which published figures (``rates``).
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from carepath.core.ages import age_on
from carepath.engine.record.case_record import in_code_order
from carepath.engine.simulation.dates import (
    add_months,
    days_from,
    pick,
    pick_many,
    referral_day,
)
from carepath.engine.simulation.known import SimEpisode, known_on
from carepath.engine.simulation.rates import (
    ABUSE_CATEGORIES,
    AFTER_ASSESSMENT,
    AGE_BANDS,
    ALONGSIDE_LATER,
    ASSESSMENT_DAYS,
    CATEGORY_FACTOR,
    CIN_AFTER_S47,
    CIN_ESCALATES,
    CLOSURE_REASONS,
    CP_LEAD_MONTHS,
    CP_PLAN_FIT,
    CP_PLAN_MONTHS,
    CP_PLAN_RATE,
    DISABILITIES,
    DISABLED,
    ETHNICITIES,
    FACTORS,
    ICPC_DAYS,
    ICPC_DAYS_11_15,
    ICPC_RATE,
    IN_YEAR,
    LATEST_SAME_CATEGORY,
    MALE,
    MAX_EPISODES,
    MONTHS_BEFORE,
    NFA_RATE,
    NO_FACTORS_WHEN_NFA,
    OUT_OF_HOURS_S47,
    PLAN_ENDS_AT_REVIEW,
    PRIMARY_NEEDS,
    RE_REFERRAL_RATE,
    REFERRAL_SOURCES,
    REVIEWS_ON_TIME,
    S47_AT_REFERRAL,
    SCHOOL_SOURCES,
    STEP_DOWN,
    UN7_WHEN_ALL_NFA,
    UNBORN,
    UNBORN_LEAD_DAYS,
    UPN_UNKNOWN_AT_SCHOOL_AGE,
)
from carepath.engine.time.working_days import WorkingDayCalendar

# Plan lengths are drawn with the published shares of plans *ending in the year* (DfE table D7)
# weighted by the window a plan of that length is placed in (``SimChild.first_referral``): a
# plan's chance of ending within the year is 12 months over its window, so after that chance the
# plans ending in the year have the published shares. (``CP_PLAN_FIT`` corrects for what this
# leaves out: the time from referral to plan, plans that start late in an episode.)
_PLAN_DRAW = {band: share * CP_PLAN_FIT[band] * (12 + CP_LEAD_MONTHS + (band[0] + band[1]) / 2)
              for band, share in CP_PLAN_MONTHS.items()}


class SimChild:
    """Child ``index`` of ``seed``: ``rng`` draws what happens, ``dates`` when it starts."""

    def __init__(self, rng: random.Random, cal: WorkingDayCalendar, child_id: str, upn: str,
                 year: int) -> None:
        self.rng = rng
        self.cal = cal
        self.child_id = child_id
        self.upn = upn
        self.year_start = date(year - 1, 4, 1)
        self.ref_date = date(year, 3, 31)
        self.unborn = rng.random() < UNBORN
        self.disabled = not self.unborn and rng.random() < DISABLED
        self.had_plan = False
        self.plan_days = 0  # the longest plan's length

    # -- dates ---------------------------------------------------------------------------

    def wd(self, day: date, low: int, high: int) -> date:
        """A date ``low`` to ``high`` working days after ``day`` (0: the day itself)."""
        return self.cal.add_working_days(day, self.rng.randint(low, high))

    def working_on_or_before(self, day: date) -> date:
        return day if self.cal.is_working_day(day) else self.cal.add_working_days(day, -1)

    def working_from(self, day: date) -> date:
        """``day`` if it is a working day, else the next one: when office work can start."""
        return day if self.cal.is_working_day(day) else self.cal.next_working_day(day)

    def first_referral(self, dates: random.Random, plan_days: int = 0) -> date:
        """The first referral: most in the collection year, the rest up to 18 months before it.
        A child whose story has a child protection plan of ``plan_days`` is referred at an even
        rate from the year's start less the plan's length (and ``CP_LEAD_MONTHS``) to 31 March:
        plans that end in the year then have the lengths plans are drawn with."""
        if plan_days:
            start = add_months(self.year_start, -CP_LEAD_MONTHS) - timedelta(days=plan_days)
            end = self.ref_date
        elif dates.random() < IN_YEAR:
            start, end = self.year_start, self.ref_date
        else:
            start, end = add_months(self.year_start, -MONTHS_BEFORE), self.year_start
        return referral_day(dates, self.cal, start, end)

    # -- the child -------------------------------------------------------------------------

    def story(self, first: date, earlier_plan: bool = False) -> dict[str, Any]:
        child: dict[str, Any] = {"la_child_id": self.child_id}
        if self.unborn and (self.ref_date - first).days > UNBORN_LEAD_DAYS:
            # a child referred before birth this long before 31 March is born by then; the
            # story has the child as they are now, and a child is referred after their birth
            self.unborn = False
        birth: date | None = None
        if self.unborn:
            # still unborn on 31 March (and due at most 40 weeks after the referral, rule 8606)
            soonest = max(30, (self.ref_date - first).days + 1)
            child["expected_birth_date"] = first + timedelta(
                days=self.rng.randint(soonest, max(soonest, UNBORN_LEAD_DAYS)))
            child["sex"] = "U"
        else:
            low, high = pick(self.rng, AGE_BANDS)
            days = self.rng.randint(low, high) * 365 + self.rng.randint(0, 364)
            birth = first - timedelta(days=days)
            child["birth_date"] = birth
            child["sex"] = "M" if self.rng.random() < MALE else "F"
        child["ethnicity"] = pick(self.rng, ETHNICITIES)
        if self.disabled:
            count = self.rng.choice((1, 1, 2, 2, 3))
            child["disabilities"] = in_code_order(pick_many(self.rng, DISABILITIES, count),
                                                  "disability")
        else:
            child["disabilities"] = ["NONE"]

        episodes: list[SimEpisode] = []
        referral = first
        while True:
            # a referral is of a child under 18 (or unborn): none once the child is 18
            age = -1 if birth is None else age_on(birth, referral)
            episode = self.episode(referral, age)
            episodes.append(episode)
            if episode.closure is None or len(episodes) >= MAX_EPISODES or birth is None:
                break
            if self.rng.random() >= RE_REFERRAL_RATE:
                break
            after = episode.closure["date"] + timedelta(days=7)
            referral = referral_day(self.rng, self.cal, after, after + timedelta(days=323))
            if referral > self.ref_date or age_on(birth, referral) >= 18:
                break
        if earlier_plan and birth is not None:
            earlier = self.earlier_episode(first, birth)
            if earlier is not None:
                episodes.insert(0, earlier)
        known = [e for e in (known_on(e, self.ref_date) for e in episodes) if e is not None]
        self.identify(child, known)
        return {"child": child, "episodes": known}

    def earlier_episode(self, first: date, birth: date) -> SimEpisode | None:
        """An episode 1 to 5 years before ``first`` that had a child protection plan, closed
        at least a week before ``first`` (None if the child is too young for one)."""
        earliest = max(first - timedelta(days=1800), birth + timedelta(days=30))
        latest = first - timedelta(days=400)
        if earliest >= latest:
            return None
        day = referral_day(self.rng, self.cal, earliest, latest)
        age = age_on(birth, day)
        ep = SimEpisode(day, self.source(age), primary_need="N1")
        self.enquiry(ep, self.s47_start(day), age, alongside=True, in_cin_plan=False,
                     plan=True)
        if ep.closure is None or ep.closure["date"] >= first - timedelta(days=7):
            return None
        return ep

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
            child["upn"] = self.upn

    # -- an episode ------------------------------------------------------------------------

    def source(self, age: int) -> str:
        if self.unborn:
            return self.rng.choice(("3D", "3D", "3D", "3F", "5A", "6", "1A"))
        weights = REFERRAL_SOURCES
        if age < 4:
            weights = {k: v for k, v in weights.items() if k not in SCHOOL_SOURCES}
        return pick(self.rng, weights)

    def s47_start(self, referral: date) -> date:
        """A strategy discussion at the referral: out of hours on a weekend or holiday referral
        now and then, otherwise on the referral's working day or the next."""
        if not self.cal.is_working_day(referral) and self.rng.random() < OUT_OF_HOURS_S47:
            return referral
        return self.wd(self.working_from(referral), 0, 1)

    def episode(self, referral: date, age: int) -> SimEpisode:
        ep = SimEpisode(referral, self.source(age))
        office = self.working_from(referral)
        if self.rng.random() < NFA_RATE:
            ep.nfa = True
            ep.closure = {"date": self.wd(office, 0, 1), "reason": "RC7"}
            return ep
        need = pick(self.rng, PRIMARY_NEEDS)
        if self.disabled and self.rng.random() < 0.4:
            need = "N2"
        if self.unborn and need in ("N2", "N6", "N9"):
            need = "N1"
        ep.primary_need = need
        if self.rng.random() < S47_AT_REFERRAL:
            ep.primary_need = "N1" if self.rng.random() < 0.85 else need
            self.enquiry(ep, self.s47_start(referral), age, alongside=True, in_cin_plan=False)
            return ep
        a_start = self.wd(office, 0, 3)
        authorised = self.authorised(a_start)
        outcome = pick(self.rng, AFTER_ASSESSMENT)
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
        """When an assessment started on ``start`` is authorised (DfE table C2 lengths)."""
        return self.cal.add_working_days(start, days_from(self.rng, ASSESSMENT_DAYS))

    def icpc(self, start: date) -> date:
        """The initial conference after a strategy discussion on ``start`` (table C4)."""
        band = pick(self.rng, ICPC_DAYS)
        days = pick(self.rng, ICPC_DAYS_11_15) if band == (11, 15) else \
            self.rng.randint(*band)
        return self.cal.add_working_days(start, days)

    def factors(self, category: str | None) -> list[str]:
        count = self.rng.choice((1, 1, 2, 2, 2, 3, 3, 4, 5))
        chosen: list[str] = []
        if category in CATEGORY_FACTOR:
            chosen.append(CATEGORY_FACTOR[category])
        chosen += pick_many(self.rng, FACTORS, count - len(chosen), exclude=chosen)
        return chosen or [pick(self.rng, FACTORS)]

    def close(self, ep: SimEpisode, day: date, age_at_start: int) -> None:
        reason = pick(self.rng, CLOSURE_REASONS)
        years = age_at_start + (day - ep.referral).days // 365
        if years >= 17 and (self.disabled or self.rng.random() < 0.3):
            reason = "RC6"
        ep.closure = {"date": day, "reason": reason}

    def enquiry(self, ep: SimEpisode, start: date, age: int, alongside: bool,
                in_cin_plan: bool, plan: bool = False) -> date | None:
        """A strategy discussion on ``start`` and what follows it (``plan``: certainly a
        conference and a child protection plan). Returns, when the child had a child in need
        plan and gets no child protection plan, the day the plan goes on from."""
        s47: dict[str, Any] = {"start": start}
        ep.s47.append(s47)
        assessment: dict[str, Any] | None = None
        if alongside:
            assessment = {"start": self.wd(self.working_from(start), 0, 1)}
            if ep.assessments:  # the one before was authorised: start after that day
                after = self.cal.next_working_day(ep.assessments[-1]["authorised"])
                assessment["start"] = max(assessment["start"], after)
            assessment["authorised"] = self.authorised(assessment["start"])
            ep.assessments.append(assessment)
        if plan or self.rng.random() < ICPC_RATE:
            icpc = self.icpc(start)
            s47["icpc_date"] = icpc
            decided = icpc
            if plan or self.rng.random() < CP_PLAN_RATE:
                if in_cin_plan:
                    ep.cin_plans[-1]["end"] = icpc
                category = pick(self.rng, ABUSE_CATEGORIES)
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

    def review_schedule(self, start: date, until: date) -> list[date]:
        """Review conferences of a plan started on ``start``, held up to ``until``: 3 months
        after the start, then at most 6 months apart (mostly a little before they are due)."""
        reviews: list[date] = []
        previous = start
        while previous < until:
            due = add_months(previous, 3 if not reviews else 6)
            if self.rng.random() < REVIEWS_ON_TIME:
                review = self.cal.add_working_days(self.working_on_or_before(due),
                                                   -self.rng.randint(0, 15))
            else:
                review = self.cal.add_working_days(due, self.rng.randint(1, 10))
            if review <= previous:
                review = self.cal.add_working_days(previous, 1)
            reviews.append(review)
            previous = review
        return reviews

    def cp_plan(self, ep: SimEpisode, start: date, category: str, age: int) -> date:
        """A child protection plan from ``start`` (an ICPC) to its end and what follows; returns
        the date of its first review or its end. Its length is drawn from DfE table D7; it ends
        at a review conference falling in that length, or between reviews."""
        self.had_plan = True
        plan: dict[str, Any] = {"start": start, "initial_category": category,
                                "latest_category": category}
        ep.cp_plans.append(plan)
        low, high = pick(self.rng, _PLAN_DRAW)
        earliest = add_months(start, low) if low else start + timedelta(days=10)
        latest = add_months(start, high)
        schedule = self.review_schedule(start, latest)
        at_review = [r for r in schedule if earliest < r <= latest]
        if at_review and self.rng.random() < PLAN_ENDS_AT_REVIEW:
            end = self.rng.choice(at_review)
        else:
            target = earliest + timedelta(days=self.rng.randint(1, (latest - earliest).days))
            end = self.working_on_or_before(target)
            if end <= start:
                end = self.cal.next_working_day(start)
        reviews = [r for r in schedule if r <= end]
        if reviews:
            plan["reviews"] = reviews
        plan["end"] = end
        self.plan_days = max(self.plan_days, (end - start).days)
        if self.rng.random() >= LATEST_SAME_CATEGORY:
            plan["latest_category"] = pick(self.rng, {k: v for k, v in ABUSE_CATEGORIES.items()
                                                      if k != category})
        first_event = reviews[0] if reviews else end
        if self.rng.random() < STEP_DOWN:
            self.cin_plan(ep, end if self.rng.random() < 0.6 else self.wd(end, 1, 5), age)
        else:
            self.close(ep, self.wd(end, 0, 3), age)
        return first_event

    def cin_plan(self, ep: SimEpisode, start: date, age: int) -> None:
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
