"""Simulated looked-after careers: a child's period(s) of care as a story. No I/O.

``generate_stories(..., looked_after=True)`` makes some children (``LOOKED_AFTER_SHARE``, drawn
from the child's own stream ``carepath-simulate:{seed}:{index}:lac``) looked-after children: their
story is one of the careers below, in the shares of ``CAREERS``, inside one open episode of
need (referred a few days before care starts, the referral decision giving the primary need, an
assessment authorised within weeks). ``docs/simulation.md`` compares the shares with the DfE's
published statistics.

Every career keeps to what both built-in packs can record (placement type, provider, URN and
postcodes; legal status; reviews; missing episodes; adoption steps; the reason care ended; care
leaver contact; previous permanence "none"; one allocated social worker a period) and to the DfE's
SSDA903 rules, and everything is dated on or before 31 March of the collection year.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from carepath.core.ages import age_on, birthday
from carepath.engine.simulation.dates import add_months, pick, pick_many
from carepath.engine.simulation.rates import ETHNICITIES, FACTORS
from carepath.engine.time.working_days import WorkingDayCalendar

__all__ = ["CAREERS", "LOOKED_AFTER_SHARE", "career_story", "career_of"]

# Of the simulated children, those whose story is a looked-after career. About one child in
# need in five is looked after (DfE: 81,770 looked after and ~400,000 children in need on
# 31 March 2025); a simulation counts children referred, so fewer.
LOOKED_AFTER_SHARE = 0.12

# Real postcodes the DfE validator's lookup knows (as the shipped stories use).
HOMES = ("EC2V 7AA", "E1 7AE")
PLACES = ("EC2V 7AF", "E1 7AA", "E1 7AD", "E1 7AF")
NEEDS = {"N1": 64.0, "N2": 3.0, "N3": 3.0, "N4": 13.0, "N5": 9.0, "N6": 2.0, "N7": 1.0,
         "N8": 5.0}
MOVE_REASONS = ("CARPL", "CREQB", "CREQO", "CHILD", "LAREQ", "CLOSE")
PROVIDERS = ("PR1", "PR1", "PR1", "PR2", "PR4", "PR5")
SOURCES = ("5A", "5A", "5B", "5D", "3A", "3B", "2A", "6")


class _Career:
    """One child's looked-after record being built, in the story's terms."""

    def __init__(self, rng: random.Random, cal: WorkingDayCalendar, year: int, n: int) -> None:
        self.rng, self.cal, self.n = rng, cal, n
        self.first, self.last = date(year - 1, 4, 1), date(year, 3, 31)
        self.home = rng.choice(HOMES)
        self.sex = "M" if rng.random() < 0.56 else "F"
        self.periods: list[dict[str, Any]] = []
        self.statuses: list[dict[str, Any]] = []
        self.placements: list[dict[str, Any]] = []
        self.reviews_held: list[dict[str, Any]] = []
        self.missing_episodes: list[dict[str, Any]] = []
        self.adoptions: list[dict[str, Any]] = []
        self.contacts: list[dict[str, Any]] = []
        self.uasc = False
        self.carers = 0
        self.need: str = pick(rng, NEEDS)

    # -- dates --------------------------------------------------------------------------------
    def day_in(self, start: date, end: date) -> date:
        return start + timedelta(days=self.rng.randrange(max(0, (end - start).days) + 1))

    def working(self, day: date) -> date:
        """``day`` if it is a working day, else the next one."""
        return day if self.cal.is_working_day(day) else self.cal.next_working_day(day)

    def wd(self, day: date, low: int, high: int) -> date:
        return self.cal.add_working_days(day, self.rng.randint(low, high))

    # -- the record ---------------------------------------------------------------------------
    def period(self, start: date, end: date | None = None, reason: str | None = None) -> None:
        period: dict[str, Any] = {"start": start, "need": self.need}
        if end is not None and end <= self.last:
            period.update(end=end, reason_ceased=reason)
        self.periods.append(period)

    def status(self, code: str, start: date, end: date | None = None) -> None:
        if start > self.last:
            return
        item: dict[str, Any] = {"code": code, "start": start}
        if end is not None and end <= self.last:
            item["end"] = end
        self.statuses.append(item)

    def new_postcode(self) -> str:
        """A placement postcode other than the last one's: a move shows in the 903's terms even
        when type and provider are the same (rule 435)."""
        last = self.placements[-1].get("postcode") if self.placements else None
        return self.rng.choice([p for p in PLACES if p != last])

    def carer(self) -> str:
        """A new carer's reference."""
        self.carers += 1
        return f"FC{self.n}-{self.carers}"

    def place(self, kind: str, start: date, end: date | None = None, *,
              reason: str | None = None, postcode: str | None = None,
              home: bool = True, carer: str | None = None,
              provider: str | None = None) -> None:
        if start > self.last:
            return
        fostering = kind[0] in "AU"
        item: dict[str, Any] = {
            "type": kind, "start": start, "provider": provider or self.rng.choice(PROVIDERS),
            "carer": carer or self.carer(),
            "urn": "XXXXXXX" if fostering else f"SC{100000 + self.n % 800000:06d}",
            "postcode": postcode or self.new_postcode()}
        if home:
            item["home_postcode"] = self.home
        if end is not None and end <= self.last:
            item["end"] = end
            if reason is not None:
                item["reason_changed"] = reason
        self.placements.append(item)

    def reviews(self, born: date, start: date, until: date) -> None:
        """The first review within 20 working days, the second within 3 months of it, then at
        most every 6 months, while looked after (on or before ``until``)."""
        held = self.wd(start, 10, 20)
        for gap in [3] + [6] * 40:
            if held > until or held > self.last:
                return
            code = "PN0" if age_on(born, held) < 4 else self.rng.choice(
                ("PN1", "PN1", "PN1", "PN2", "PN3", "PN4", "PN5", "PN6", "PN7"))
            self.reviews_held.append({"held": held, "participation": code})
            held = self.working(add_months(held, gap) - timedelta(days=self.rng.randint(7, 20)))

    def missing(self, start: date, end: date, count: int) -> None:
        """Up to ``count`` short missing or away episodes from ``start`` to ``end``."""
        day = start + timedelta(days=10)
        for _ in range(count):
            latest = min(end, day + timedelta(days=90)) - timedelta(days=5)
            if latest <= day:
                return
            day = self.day_in(day, latest)
            back = day + timedelta(days=self.rng.randint(0, 3))
            if back >= end - timedelta(days=2) or back > self.last:
                return
            episode: dict[str, Any] = {"kind": self.rng.choice("MMA"), "start": day,
                                       "end": back, "rhi_offered": self.rng.random() < 0.9}
            if episode["rhi_offered"]:  # whether it was accepted is asked only then
                episode["rhi_accepted"] = self.rng.random() < 0.6
            self.missing_episodes.append(episode)
            day = back + timedelta(days=7)

    def outcomes(self, born: date) -> dict[str, Any] | None:
        """The year's outcomes (OC2) of a child looked after continuously for the 12 months to
        31 March (no short breaks)."""
        if not any(p["start"] <= self.first and p.get("end", self.last) >= self.last
                   for p in self.periods) or \
                any(s["code"] in ("V3", "V4") for s in self.statuses):
            return None
        age = age_on(born, self.last)
        item: dict[str, Any] = {
            "year": self.last.year, "immunisations": self.rng.random() < 0.85,
            "teeth_check": self.rng.random() < 0.8, "health_assessment": self.rng.random() < 0.9,
            "substance_misuse": False}
        if age < 5:
            item["health_check"] = self.rng.random() < 0.9
        if age >= 10:
            item["convicted"] = self.rng.random() < 0.03
        if age >= 4 and age_on(born, self.first) < 17:  # DfE rules 188, 197B
            item["sdq_score"] = self.rng.randint(4, 30)
        return item


# -- the careers: each fills the record and returns (birth date, the day care first starts) --

Career = Callable[[_Career], date]


def _long_term(c: _Career) -> date:
    """Section 20 (V2) for months, then an interim (C1) and a full care order (C2), started one
    to four years before the year; a move of foster carer, sometimes another in the year."""
    start = c.working(c.day_in(c.first - timedelta(days=4 * 365), c.first - timedelta(days=200)))
    born = c.day_in(start - timedelta(days=365 * 14), start - timedelta(days=365 * 2))
    ico = c.wd(start, 40, 140)
    full = c.wd(ico, 40, 120)
    c.period(start)
    c.status("V2", start, ico)
    c.status("C1", ico, full)
    c.status("C2", full)
    move = c.day_in(start + timedelta(days=30), c.last - timedelta(days=20))
    if move in (ico, full):
        move += timedelta(days=1)
    c.place("U6", start, move, reason=c.rng.choice(MOVE_REASONS))
    if c.rng.random() < 0.35 and move < c.last - timedelta(days=40):
        again = c.day_in(max(move + timedelta(days=20), c.first), c.last - timedelta(days=10))
        if again not in (ico, full):
            c.place("U4", move, again, reason=c.rng.choice(MOVE_REASONS))
            move = again
    c.place(c.rng.choice(("U4", "U4", "U1", "K2")), move)
    c.reviews(born, start, c.last)
    if age_on(born, c.first) >= 11 and c.rng.random() < 0.4:
        c.missing(max(c.first, move), c.last, c.rng.randint(1, 3))
    return born


def _interim_order(c: _Career) -> date:
    """An interim care order (C1), then a full one (C2), started in the year."""
    start = c.working(c.day_in(c.first + timedelta(days=5), c.last - timedelta(days=120)))
    born = c.day_in(start - timedelta(days=365 * 15), start - timedelta(days=60))
    full = c.wd(start, 40, 160)
    c.period(start)
    c.status("C1", start, full)
    c.status("C2", full)
    if c.rng.random() < 0.5:
        moved = c.day_in(start + timedelta(days=20), c.last - timedelta(days=5))
        if moved == full:
            moved -= timedelta(days=1)
        c.place("U6", start, moved, reason=c.rng.choice(MOVE_REASONS))
        c.place(c.rng.choice(("U4", "U6", "K2")), moved)
    else:
        c.place(c.rng.choice(("U4", "U6", "U3")), start)
    c.reviews(born, start, c.last)
    if age_on(born, start) >= 12 and c.rng.random() < 0.35:
        c.missing(start, c.last, c.rng.randint(1, 2))
    return born


def _emergency(c: _Career) -> date:
    """An emergency protection order (L2, one or two weeks), then an interim care order."""
    start = c.working(c.day_in(c.first + timedelta(days=5), c.last - timedelta(days=60)))
    born = c.day_in(start - timedelta(days=365 * 10), start - timedelta(days=30))
    ico = c.wd(start, 3, 8)
    c.need = "N1"
    c.period(start)
    c.status("L2", start, ico)
    c.status("C1", ico)
    c.place(c.rng.choice(("U6", "U3")), start)
    c.reviews(born, start, c.last)
    return born


def _police(c: _Career) -> date:
    """Police protection (L1, a day or two), then section 20 (V2), home within months."""
    start = c.day_in(c.first + timedelta(days=5), c.last - timedelta(days=200))
    born = c.day_in(start - timedelta(days=365 * 15), start - timedelta(days=365 * 5))
    s20 = start + timedelta(days=c.rng.randint(1, 2))
    home = c.day_in(s20 + timedelta(days=40), min(c.last, s20 + timedelta(days=180)))
    c.period(start, home, "E4A")
    c.status("L1", start, s20)
    c.status("V2", s20, home)
    c.place("U6", start, home)
    c.reviews(born, start, home)
    if c.rng.random() < 0.3:
        c.missing(start, home, 1)
    return born


def _home_again(c: _Career) -> date:
    """A short section 20 stay in the year ending with a return home, a child arrangements
    order or special guardianship."""
    start = c.working(c.day_in(c.first + timedelta(days=5), c.last - timedelta(days=120)))
    born = c.day_in(start - timedelta(days=365 * 15), start - timedelta(days=365))
    end = c.day_in(start + timedelta(days=30), min(c.last, start + timedelta(days=300)))
    reason = c.rng.choice(("E4A", "E4A", "E4A", "E4B", "E13", "E41", "E45", "E47", "E45", "E47"))
    c.period(start, end, reason)
    c.status("V2", start, end)
    moved = start + (end - start) // 2
    kind = "U3" if reason in ("E45", "E47") else "U6"
    c.place(kind, start, moved, reason=c.rng.choice(MOVE_REASONS))
    c.place("U3" if reason in ("E45", "E47") else "U4", moved, end)
    c.reviews(born, start, end)
    if age_on(born, start) >= 12 and c.rng.random() < 0.25:
        c.missing(start, end, 1)
    return born


def _adoption(c: _Career) -> date:
    """Care order, decision, placement order (E1), matching, placed with the foster carers (A5)
    or new adopters (A6), then the adoption order (E11/E12), often in the year."""
    start = c.working(c.day_in(c.first - timedelta(days=3 * 365), c.first - timedelta(days=500)))
    born = c.day_in(start - timedelta(days=700), start - timedelta(days=10))
    full = c.wd(start, 60, 160)
    order = c.wd(full, 40, 140)
    decision = c.cal.add_working_days(order, -c.rng.randint(20, 60))
    placed = c.working(c.day_in(order + timedelta(days=40),
                                max(order + timedelta(days=60), c.first + timedelta(days=60))))
    matched = max(c.cal.add_working_days(order, 5),
                  c.cal.add_working_days(placed, -c.rng.randint(5, 40)))
    adopted = c.working(max(placed + timedelta(days=c.rng.randint(100, 400)),
                            c.first + timedelta(days=c.rng.randint(5, 60))))  # not before the year
    done = adopted < c.last and c.rng.random() < 0.85
    c.need = "N1"
    c.period(start, adopted if done else None, c.rng.choice(("E11", "E12")))
    c.status("C1", start, full)
    c.status("C2", full, order)
    c.status("E1", order, adopted if done else None)
    by_foster_carer = c.rng.random() < 0.3
    carer = c.carer()
    c.place("U5" if by_foster_carer else "U6", start, placed, reason="CARPL", carer=carer)
    if by_foster_carer:  # the same carers (RNE T, rule 217)
        c.place("A5", placed, adopted if done else None, carer=carer)
    else:
        c.place("A6", placed, adopted if done else None)
    c.reviews(born, start, adopted if done else c.last)
    adopters = c.rng.choice((1, 2, 2, 2))
    sex = c.rng.choice(("M1", "F1")) if adopters == 1 else c.rng.choice(("MF", "MF", "MM", "FF"))
    legal = "L0" if adopters == 1 else {"MF": "L11", "MM": "L12", "FF": "L2"}[sex]
    c.adoptions.append({"decision": decision, "placement_order": order, "matched": matched,
                        "adopters": adopters, "adopters_sex": sex,
                        "adopters_legal_status": legal, "by_foster_carer": by_foster_carer})
    return born


def _leaves_at_18(c: _Career) -> date:
    """Looked after since 12 to 16 under a care order; eighteen in the year and leaves care."""
    eighteen = c.day_in(c.first + timedelta(days=1), c.last - timedelta(days=1))
    born = date(eighteen.year - 18, eighteen.month, min(eighteen.day, 28))
    eighteen = birthday(born, 18)
    start = c.working(c.day_in(birthday(born, 12), birthday(born, 16)))
    c.period(start, eighteen, c.rng.choice(("E17", "E5", "E6", "E5")))
    c.status("C2", start, eighteen)
    c.place(c.rng.choice(("U4", "U1", "K2")), start, eighteen)
    c.reviews(born, start, eighteen - timedelta(days=1))
    return born


def _care_leaver(c: _Career) -> date:
    """Left care at 18 before the year; in touch (or not) around the 19th-21st birthday."""
    day = c.day_in(c.first + timedelta(days=70), c.last - timedelta(days=5))
    age = c.rng.choice((19, 20, 21))
    born = date(day.year - age, day.month, min(day.day, 28))
    eighteen = birthday(born, 18)
    start = c.working(c.day_in(birthday(born, 13), birthday(born, 16)))
    c.period(start, eighteen, c.rng.choice(("E5", "E17", "E6")))
    c.status("C2", start, eighteen)
    c.place("U4", start, eighteen)
    c.reviews(born, start, eighteen - timedelta(days=1))
    contact = c.working(birthday(born, age) - timedelta(days=c.rng.randint(5, 60)))
    touch = c.rng.choice(("YES", "YES", "YES", "YES", "NO", "REFU"))
    activity = c.rng.choice(("F1", "F2", "F5", "P5", "G5")) if touch == "YES" else "0"
    housing = c.rng.choice(("U1", "D1", "Z1", "E1", "B1")) if touch == "YES" else "0"
    c.contacts.append({"contacted": contact, "in_touch": touch, "activity": activity,
                       "accommodation": housing, "personal_adviser": f"PA{c.n % 1000:04d}"})
    return born


def _uasc(c: _Career) -> date:
    """An unaccompanied asylum-seeking young person of 15 or 16 arriving in the year."""
    start = c.working(c.day_in(c.first + timedelta(days=5), c.last - timedelta(days=60)))
    born = c.day_in(start - timedelta(days=365 * 16 + 180), start - timedelta(days=365 * 15))
    c.sex = "M"
    c.need = "N8"
    c.period(start)
    c.status("V2", start)
    c.place(c.rng.choice(("U6", "K2")), start, home=False)
    c.reviews(born, start, c.last)
    c.uasc = True
    return born


def _short_breaks(c: _Career) -> date:
    """A disabled child's agreed short breaks (V3), each break its own period of care."""
    born = c.day_in(date(c.last.year - 16, 1, 1), date(c.last.year - 6, 1, 1))
    day = c.working(c.first + timedelta(days=c.rng.randint(5, 40)))
    c.need = "N2"
    carer, provider = c.carer(), c.rng.choice(PROVIDERS)  # the same short-breaks home each time
    while day < c.last - timedelta(days=10):
        end = day + timedelta(days=c.rng.randint(1, 4))
        c.period(day, end, "E4A")
        c.status("V3", day, end)
        c.place("K2", day, end, postcode=PLACES[c.n % len(PLACES)], carer=carer,
                provider=provider)
        day = c.working(end + timedelta(days=c.rng.randint(40, 100)))
    return born


# (name, career, share in 100): roughly the routes into and out of care of the DfE statistics
# (docs/simulation.md): most children looked after on 31 March are under a care order.
CAREERS: tuple[tuple[str, Career, int], ...] = (
    ("long_term", _long_term, 31),
    ("interim_order", _interim_order, 12),
    ("emergency", _emergency, 4),
    ("police", _police, 5),
    ("home_again", _home_again, 14),
    ("adoption", _adoption, 5),
    ("leaves_at_18", _leaves_at_18, 10),
    ("care_leaver", _care_leaver, 10),
    ("uasc", _uasc, 6),
    ("short_breaks", _short_breaks, 3),
)
_NAMES = [name for name, _, _ in CAREERS]
_SHARES = {name: float(share) for name, _, share in CAREERS}
_BY_NAME = {name: career for name, career, _ in CAREERS}


def career_of(rng: random.Random) -> str:
    """The career drawn for a looked-after child (``rng`` is the child's own stream)."""
    return pick(rng, _SHARES)


def career_story(rng: random.Random, cal: WorkingDayCalendar, year: int, n: int,
                 child_id: str, upn: str) -> dict[str, Any]:
    """The story of a looked-after child: one open episode of need and the career drawn from
    ``rng``, everything on or before 31 March ``year``."""
    name = career_of(rng)
    c = _Career(rng, cal, year, n)
    born = _BY_NAME[name](c)
    first = c.periods[0]["start"]
    referral = first if not c.cal.is_working_day(first) or rng.random() < 0.3 \
        else c.cal.add_working_days(first, -rng.randint(1, 3))
    referral = max(referral, born + timedelta(days=1))
    assessment_start = c.working(referral + timedelta(days=1))
    authorised = c.wd(assessment_start, 15, 40)
    assessment: dict[str, Any] = {"start": assessment_start,
                                  "factors": pick_many(rng, FACTORS, rng.randint(1, 3))}
    if authorised <= c.last:
        assessment["authorised"] = authorised
    episode = {"referral": {"date": referral, "source": rng.choice(SOURCES), "nfa": False},
               "primary_need": c.need, "assessments": [assessment]}
    child: dict[str, Any] = {"la_child_id": child_id, "birth_date": born, "sex": c.sex,
                             "ethnicity": pick(rng, ETHNICITIES),
                             "disabilities": ["AUT"] if name == "short_breaks" else ["NONE"]}
    if age_on(born, c.last) < 5 or c.uasc:
        child["upn_unknown"] = "UN2" if c.uasc else "UN1"
    else:
        child["upn"] = upn
    care: dict[str, Any] = {"periods": c.periods, "legal_statuses": c.statuses,
                            "placements": c.placements,
                            "previous_permanence": {"option": "Z1"},
                            "social_workers": [{"worker": f"SW{c.n % 100000:05d}",
                                                "start": first, "reason": "FCONTA"}]}
    for key, items in (("reviews", c.reviews_held), ("missing", c.missing_episodes),
                       ("adoptions", c.adoptions), ("care_leaver_contacts", c.contacts)):
        if items:
            care[key] = items
    outcomes = c.outcomes(born)
    if outcomes is not None:
        care["outcomes"] = [outcomes]
    if c.uasc:
        care["uasc"] = True
    if c.sex == "F" and age_on(born, c.last) >= 12:
        care["mother"] = False
    return {"child": child, "episodes": [episode], "looked_after": care}
