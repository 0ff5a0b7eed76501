"""Varied, valid looked-after careers for the SSDA903 benchmark, built in Python.

The packs have no looked-after processes yet, so the benchmark's caseload cannot be simulated
through them: each child here is a :class:`~carepath.returns.ssda903.LookedAfterChild` made from
one of the careers below (``KINDS``, in the shares given), with dates, ages, carers, codes and
postcodes varied by a seeded random generator. Every career is written so that the return for the
collection year ending 31 March ``year`` needs nothing the record lacks (no problems) and passes
the DfE rules (the smoke run checks both on its children):

* ``s20_to_care_order``: section 20 (V2) for months, then an interim (C1) and a full care order
  (C2); moves of foster carer (P, with a reason), a stay in hospital (T1) and back, missing and
  away episodes; looked after 12 months at 31 March (OC2);
* ``ico``: an interim care order (C1) then a full one (C2), started in the year: reviews at 20
  working days, 3 months and 6 months; a move where the same carers change home (T);
* ``epo``: an emergency protection order (L2, a week or two) then an interim care order (C1);
* ``police``: police protection (L1, two days), then section 20 (V2), home within months (E4A);
* ``adoption``: care order, placement order (E1), decision, matching, placed for adoption with
  the foster carers (A5, T) or new adopters (A6, P), adopted in the year (E11/E12): AD1 and
  PlacedAdoption; some are placed and not adopted yet;
* ``leaves_at_18``: eighteen in the year and leaves care that day (E17, E5 or E6);
* ``care_leaver``: left care at 18 before the year; contacted around the 19th-21st birthday
  (OC3 only);
* ``uasc``: an unaccompanied asylum seeker of 16 arriving in the year (no home postcode);
* ``short_breaks``: agreed short breaks (V3), each break a period of care;
* ``home``: a short section 20 stay ending in the year (E4A/E4B/E13/E41/E45).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import date, timedelta

from carepath.core.upn import upn_check_letter
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
)
from carepath.engine.record.model import Child
from carepath.returns.ssda903 import LookedAfterChild, age_on, birthday

# Real postcodes the validator's lookup knows (the same as tests/returns/ssda903_children.py).
HOMES = ("EC2V 7AA", "E1 7AE")
PLACES = ("EC2V 7AF", "E1 7AA", "E1 7AD", "E1 7AF")
ETHNICITIES = ("WBRI", "WBRI", "WBRI", "WOTH", "MWBC", "AOTH", "APKN", "BAFR", "BCRB", "OOTH")
LA_CODES = ("201", "202", "209", "304", "800", "SCO")  # LA_PERM: DfE codes (rule 633)
NEEDS = ("N1", "N1", "N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8")
MOVE_REASONS = ("CARPL", "CREQB", "CREQO", "CHILD", "LAREQ", "CLOSE")
SW_REASONS = ("LEFTRL", "MANAGE", "ORGRST", "TSPROC")


class _Career:
    """One child's record being built: the helpers keep the timelines contiguous."""

    def __init__(self, n: int, rng: random.Random, year: int) -> None:
        self.n, self.rng, self.year = n, rng, year
        self.first, self.last = date(year - 1, 4, 1), date(year, 3, 31)
        self.record = LookedAfter()
        self.home = rng.choice(HOMES)
        self.carers = 0
        self.sex = rng.choice("MF")

    # -- dates ------------------------------------------------------------------------------
    def day_in(self, start: date, end: date) -> date:
        return start + timedelta(days=self.rng.randrange((end - start).days + 1))

    @staticmethod
    def working_days(start: date, count: int) -> date:
        day = start
        while count:
            day += timedelta(days=1)
            if day.weekday() < 5:
                count -= 1
        return day

    @staticmethod
    def months(start: date, count: int) -> date:
        month = start.month - 1 + count
        year, month = start.year + month // 12, month % 12 + 1
        return date(year, month, min(start.day, 28))

    # -- the record ---------------------------------------------------------------------------
    def carer(self) -> str:
        self.carers += 1
        return f"C{self.n}-{self.carers}"

    def place(self, kind: str, start: date, end: date | None = None, *, carer: str | None = None,
              reason: str | None = None, postcode: str | None = None,
              home: bool = True) -> Placement:
        temporary = kind.startswith("T")
        fostering = kind[0] in "AU"
        placement = Placement(
            kind, start, end, provider=None if temporary else self.rng.choice(
                ("PR1", "PR1", "PR2", "PR4", "PR5")),
            carer=carer or self.carer(),
            urn=None if temporary else ("XXXXXXX" if fostering else
                                        f"SC{100000 + self.n % 800000:06d}"),
            postcode=postcode or self.new_postcode(),
            home_postcode=self.home if home else None, reason_changed=reason)
        self.record.placements.append(placement)
        return placement

    def new_postcode(self) -> str:
        """A placement postcode other than the last one's: a move shows in the 903's terms even
        when type and provider are the same (rule 435)."""
        last = self.record.placements[-1].postcode if self.record.placements else None
        return self.rng.choice([p for p in PLACES if p != last])

    def status(self, code: str, start: date, end: date | None = None) -> None:
        self.record.legal_statuses.append(LegalStatus(code, start, end))

    def period(self, start: date, end: date | None = None, reason: str | None = None,
               need: str | None = None) -> PeriodOfCare:
        period = PeriodOfCare(start, need or self.rng.choice(NEEDS), end, reason)
        self.record.periods.append(period)
        return period

    def reviews(self, born: date, start: date, until: date) -> None:
        """The first review within 20 working days, the second within 3 months of it, then
        every 6 months, while looked after (before ``until``)."""
        held = self.working_days(start, self.rng.randint(12, 20))
        gaps = [3] + [6] * 40
        for gap in gaps:
            if held >= until or held > self.last:
                return
            age = age_on(born, held)
            code = "PN0" if age < 4 else self.rng.choice(("PN1", "PN1", "PN2", "PN3", "PN4",
                                                          "PN5", "PN6", "PN7"))
            self.record.reviews.append(LACReview(held, code))
            held = self.months(held, gap) - timedelta(days=self.rng.randint(0, 10))

    def social_workers(self, start: date, changes: int = 1) -> None:
        day, worker = start, self.n % 900
        for k in range(changes + 1):
            reason = "FCONTA" if k == 0 else self.rng.choice(SW_REASONS)
            end = None
            if k < changes:
                end = self.day_in(day + timedelta(days=30), day + timedelta(days=200))
                if end >= self.last:
                    end = None
            self.record.social_workers.append(
                SocialWorkerPeriod(f"SW{worker + k:05d}", day, end, reason))
            if end is None:
                return
            day = end

    def missing(self, start: date, end: date, count: int) -> None:
        day = start + timedelta(days=10)
        for _ in range(count):
            latest = min(end, day + timedelta(days=90)) - timedelta(days=5)
            if latest <= day:
                return
            day = self.day_in(day, latest)
            back = day + timedelta(days=self.rng.randint(0, 3))
            if back >= end - timedelta(days=2):
                return
            offered = self.rng.random() < 0.9
            self.record.missing.append(MissingEpisode(
                self.rng.choice("MMA"), day, back, offered, offered and self.rng.random() < 0.6))
            day = back + timedelta(days=7)

    def previous_permanence(self, born: date, start: date) -> None:
        """Mostly none (Z1); else an order with its council and a date known in part (rule 630
        wants both for any option but Z1)."""
        option = self.rng.choice(("Z1", "Z1", "Z1", "Z1", "P1", "P2", "P3", "P4"))
        if option != "Z1" and start.year - born.year >= 3:
            self.record.previous_permanence = PreviousPermanence(
                option, self.rng.randint(born.year + 1, start.year - 1),
                self.rng.choice((None, 6)), None, self.rng.choice(LA_CODES))
        else:
            self.record.previous_permanence = PreviousPermanence("Z1")

    def outcomes(self, born: date) -> None:
        young = age_on(born, self.last) < 4  # no SDQ item at all (rule 188)
        self.record.outcomes.append(HealthOutcomes(
            self.year, sdq_score=None if young else self.rng.randint(5, 30), convicted=False, health_check=True,
            immunisations=True, teeth_check=self.rng.random() < 0.85, health_assessment=True,
            substance_misuse=False))

    def child(self, born: date) -> LookedAfterChild:
        body = f"201{self.n:09d}"
        if self.sex == "F" and age_on(born, self.last) >= 12:
            self.record.mother = False
        child = Child(f"LAC{self.n:07d}", upn=upn_check_letter(body) + body, birth_date=born,
                      sex=self.sex, ethnicity=self.rng.choice(ETHNICITIES))
        return LookedAfterChild(child, self.record)


# -- the careers ---------------------------------------------------------------------------------


def _s20_to_care_order(c: _Career) -> date:
    start = c.day_in(date(c.year - 4, 4, 1), date(c.year - 2, 12, 1))
    born = c.day_in(start - timedelta(days=365 * 14), start - timedelta(days=365 * 2))
    ico = c.day_in(start + timedelta(days=60), start + timedelta(days=200))
    full = c.day_in(ico + timedelta(days=60), ico + timedelta(days=180))
    c.period(start)
    c.status("V2", start, ico)
    c.status("C1", ico, full)
    c.status("C2", full)
    first_move = c.day_in(max(start + timedelta(days=30), c.first - timedelta(days=200)),
                          c.first + timedelta(days=60))
    c.place("U6", start, first_move, reason=c.rng.choice(MOVE_REASONS))
    carer = c.carer()
    # in the year (the year's first episode is never the temporary one, rule 380) and after
    # the full care order (the return from hospital is a move only, RNE P: rule 383)
    hospital = c.day_in(max(first_move + timedelta(days=20), c.first + timedelta(days=10),
                            full + timedelta(days=1)), c.last - timedelta(days=30))
    back = hospital + timedelta(days=c.rng.randint(1, 6))
    postcode = c.rng.choice(PLACES)
    c.place("U4", first_move, hospital, carer=carer, postcode=postcode)
    c.place("T1", hospital, back)
    c.place("U4", back, carer=carer, postcode=postcode)
    c.reviews(born, start, c.last)
    c.missing(c.first, c.last, c.rng.randint(0, 3))
    c.outcomes(born)
    c.social_workers(start, c.rng.randint(0, 2))
    return born


def _ico(c: _Career) -> date:
    start = c.day_in(c.first + timedelta(days=5), c.last - timedelta(days=120))
    born = c.day_in(start - timedelta(days=365 * 15), start - timedelta(days=60))
    full = c.day_in(start + timedelta(days=40), c.last - timedelta(days=10))
    c.period(start)
    c.status("C1", start, full)
    c.status("C2", full)
    carer = c.carer()
    moved = c.day_in(start + timedelta(days=20), c.last - timedelta(days=5))
    if moved == full:
        moved -= timedelta(days=1)
    c.place("U6", start, moved, carer=carer, reason="PLACE", postcode=PLACES[0])
    c.place("U6", moved, carer=carer, postcode=PLACES[1])  # the carers moved house: T
    c.reviews(born, start, c.last)
    c.previous_permanence(born, start)
    c.social_workers(start, c.rng.randint(0, 1))
    return born


def _epo(c: _Career) -> date:
    start = c.day_in(c.first + timedelta(days=5), c.last - timedelta(days=60))
    born = c.day_in(start - timedelta(days=365 * 10), start - timedelta(days=30))
    ico = start + timedelta(days=c.rng.randint(3, 14))
    c.period(start, need="N1")
    c.status("L2", start, ico)
    c.status("C1", ico)
    c.place(c.rng.choice(("U6", "U3")), start)
    c.reviews(born, start, c.last)
    c.previous_permanence(born, start)
    c.social_workers(start, 0)
    return born


def _police(c: _Career) -> date:
    start = c.day_in(c.first + timedelta(days=5), c.last - timedelta(days=200))
    born = c.day_in(start - timedelta(days=365 * 15), start - timedelta(days=365 * 5))
    s20 = start + timedelta(days=c.rng.randint(1, 2))
    home = c.day_in(s20 + timedelta(days=40), min(c.last, s20 + timedelta(days=180)))
    c.period(start, home, "E4A")
    c.status("L1", start, s20)
    c.status("V2", s20, home)
    c.place("U6", start, home)
    c.reviews(born, start, home)
    c.missing(start, home, c.rng.randint(0, 1))
    c.previous_permanence(born, start)
    c.social_workers(start, 0)
    return born


def _adoption(c: _Career) -> date:
    start = c.day_in(date(c.year - 4, 1, 1), date(c.year - 3, 6, 1))
    born = c.day_in(start - timedelta(days=700), start - timedelta(days=10))
    full = start + timedelta(days=c.rng.randint(100, 250))
    order = full + timedelta(days=c.rng.randint(60, 200))
    decision = order - timedelta(days=c.rng.randint(30, 90))
    placed = c.day_in(c.first - timedelta(days=200), c.first + timedelta(days=120))
    matched = placed - timedelta(days=c.rng.randint(10, 60))
    adopted = max(placed + timedelta(days=c.rng.randint(100, 300)),
                  c.first + timedelta(days=c.rng.randint(5, 60)))  # in the year, or later
    done = adopted < c.last and c.rng.random() < 0.8  # on 31 March: looked after 12 months
    reason = c.rng.choice(("E11", "E12")) if done else None
    c.period(start, adopted if done else None, reason)
    c.status("C1", start, full)
    c.status("C2", full, order)
    c.status("E1", order)
    by_foster_carer = c.rng.random() < 0.4
    carer = c.carer()
    c.place("U5" if by_foster_carer else "U6", start, placed, carer=carer, reason="CARPL")
    if by_foster_carer:
        c.place("A5", placed, carer=carer)
    else:
        c.place("A6", placed)
    c.reviews(born, start, adopted if done else c.last)
    adopters = c.rng.choice((1, 2, 2, 2))
    sex = c.rng.choice(("M1", "F1")) if adopters == 1 else c.rng.choice(("MF", "MF", "MM", "FF"))
    legal = "L0" if adopters == 1 else {"MF": "L11", "MM": "L12", "FF": "L2"}[sex]
    c.record.adoptions.append(Adoption(decision, placement_order=order, matched=matched,
                                       adopters=adopters, adopters_sex=sex,
                                       adopters_legal_status=legal,
                                       by_foster_carer=by_foster_carer))
    c.social_workers(start, c.rng.randint(0, 1))
    if not done:
        c.outcomes(born)
    return born


def _leaves_at_18(c: _Career) -> date:
    eighteen = c.day_in(c.first + timedelta(days=1), c.last - timedelta(days=1))
    born = date(eighteen.year - 18, eighteen.month, min(eighteen.day, 28))
    eighteen = birthday(born, 18)
    start = c.day_in(birthday(born, 12), birthday(born, 16))
    reason = c.rng.choice(("E17", "E5", "E6"))
    c.period(start, eighteen, reason)
    c.status("C2", start)
    c.place(c.rng.choice(("U4", "U1")), start)
    c.reviews(born, start, eighteen)
    c.social_workers(start, 0)
    return born


def _care_leaver(c: _Career) -> date:
    day = c.day_in(c.first + timedelta(days=35), c.last - timedelta(days=35))
    age = c.rng.choice((19, 20, 21))
    born = date(day.year - age, day.month, min(day.day, 28))
    eighteen = birthday(born, 18)
    start = c.day_in(birthday(born, 13), birthday(born, 16))
    c.period(start, eighteen, c.rng.choice(("E5", "E17", "E6")))
    c.status("C2", start, eighteen)
    c.place("U4", start, eighteen)
    c.social_workers(start, 0)
    c.record.social_workers[-1].end = eighteen
    contact = birthday(born, age) - timedelta(days=c.rng.randint(0, 60))
    touch = c.rng.choice(("YES", "YES", "YES", "NO", "REFU", "NREQ"))
    activity = c.rng.choice(("F1", "F2", "F5", "P5", "G5")) if touch == "YES" else "0"
    accommodation = c.rng.choice(("U1", "D1", "Z1", "E1", "B1")) if touch == "YES" else "0"
    c.record.care_leaver_contacts.append(CareLeaverContact(contact, touch, activity,
                                                           accommodation))
    return born


def _uasc(c: _Career) -> date:
    start = c.day_in(c.first + timedelta(days=5), c.last - timedelta(days=60))
    born = c.day_in(start - timedelta(days=365 * 16 + 180), start - timedelta(days=365 * 15))
    c.sex = "M"
    c.period(start, need="N8")
    c.status("V2", start)
    c.place("U6", start, home=False)
    c.reviews(born, start, c.last)
    c.record.uasc = True
    c.previous_permanence(born, start)
    c.social_workers(start, 0)
    return born


def _short_breaks(c: _Career) -> date:
    born = c.day_in(date(c.year - 16, 1, 1), date(c.year - 6, 1, 1))
    day = c.first + timedelta(days=c.rng.randint(0, 40))
    carer, urn = c.carer(), f"SC{200000 + c.n % 700000:06d}"
    while day < c.last - timedelta(days=10):
        end = day + timedelta(days=c.rng.randint(1, 4))
        c.period(day, end, "E4A", need="N2")
        c.status("V3", day, end)
        c.record.placements.append(Placement("K2", day, end, provider="PR1", carer=carer,
                                             urn=urn))
        day = end + timedelta(days=c.rng.randint(40, 100))
    c.record.previous_permanence = PreviousPermanence("Z1")
    return born


def _home(c: _Career) -> date:
    start = c.day_in(c.first + timedelta(days=5), c.last - timedelta(days=120))
    born = c.day_in(start - timedelta(days=365 * 15), start - timedelta(days=365))
    end = c.day_in(start + timedelta(days=30), min(c.last, start + timedelta(days=300)))
    reason = c.rng.choice(("E4A", "E4A", "E4B", "E13", "E41", "E47"))
    c.period(start, end, reason)
    c.status("V2", start, end)
    moved = start + (end - start) // 2
    c.place("U3" if reason == "E47" else "U6", start, moved, reason=c.rng.choice(MOVE_REASONS))
    c.place("U3" if reason == "E47" else "U4", moved, end)
    c.reviews(born, start, end)
    c.missing(start, end, c.rng.randint(0, 1))
    c.previous_permanence(born, start)
    c.social_workers(start, 0)
    return born


Kind = Callable[[_Career], date]
KINDS: tuple[tuple[str, Kind, int], ...] = (  # (name, career, share in 20)
    ("s20_to_care_order", _s20_to_care_order, 5),
    ("ico", _ico, 2),
    ("epo", _epo, 1),
    ("police", _police, 1),
    ("adoption", _adoption, 2),
    ("leaves_at_18", _leaves_at_18, 1),
    ("care_leaver", _care_leaver, 3),
    ("uasc", _uasc, 1),
    ("short_breaks", _short_breaks, 1),
    ("home", _home, 3),
)
_PLAN = [kind for _, kind, share in KINDS for _ in range(share)]


def careers(count: int, seed: int, year: int) -> Iterator[LookedAfterChild]:
    """``count`` looked-after children for the year ending 31 March ``year``, children 1 to
    ``count`` (``LAC0000001``...), the careers in the shares of :data:`KINDS`."""
    rng = random.Random(seed)
    for n in range(1, count + 1):
        career = _Career(n, rng, year)
        born = _PLAN[n % len(_PLAN)](career)
        yield career.child(born)


def kind_of(n: int) -> str:
    """The name of child ``n``'s career."""
    kind = _PLAN[n % len(_PLAN)]
    return next(name for name, k, _ in KINDS if k is kind)
