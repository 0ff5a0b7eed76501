"""Realistic random stories: a seeded caseload for demos, benchmarks and tests. No I/O.

:func:`generate_stories` yields children's stories in exactly the normalised form
:func:`carepath.engine.stories.story.parse_story` returns (each one is checked by it), so they obey the DfE
CIN census rules of type ERROR that concern one child. The proportions and lengths (referral
sources and days of the week, no further action, assessment outcomes and lengths, section 47
enquiries, conferences and their timing, plans, their lengths and repeats, categories,
re-referrals, ages, ethnicity, disability) follow the DfE "Characteristics of children in need"
statistics for England (reporting year 2025, some 2024); ``docs/simulation.md`` lists each target
with its source and what the generator gives.

Dates are working days of the given calendar where practice needs them to be (assessments,
conferences, plans, closures: England bank holidays are skipped); referrals come on every day of
the week, far fewer at weekends, and work on a weekend referral starts on the next working day
(a strategy discussion now and then out of hours). Reviews come at 3 and then 6 months. Stories
start across the collection year ending 31 March ``year`` and up to 18 months before it (a child
whose story has a child protection plan: from the plan's length before the year, so that plans
ending in the year have every length); everything dated after 31 March ``year`` is left out, so some cases are
still open then.

Every story can be recorded by both built-in packs (``ics2010``, ``wt2023``): one assessment per
route (an initial assessment in ``ics2010``), a section 47 enquiry at the referral with an
assessment alongside it, or after an assessment, or while the child has a child in need plan; a
child protection plan ends at a review or between reviews and steps down to a child in need plan
or closes the case.

Child ``i`` of seed ``s`` is the same story whatever ``n`` is (each child has its own random
streams), and its LA child ID is ``S{s}N{i}``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from carepath.core.errors import CarepathError
from carepath.engine.simulation.careers import LOOKED_AFTER_SHARE, career_story
from carepath.engine.simulation.child import SimChild
from carepath.engine.simulation.rates import EARLIER_PLAN
from carepath.engine.stories.story import parse_story, upn_check_letter
from carepath.engine.time.working_days import WorkingDayCalendar

__all__ = ["generate_stories", "check_story", "child_id", "upn_for", "SimulationError"]


class SimulationError(CarepathError, ValueError):
    """Bad arguments to the generator (negative numbers, a year out of range)."""


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


def generate_stories(n: int, seed: int, year: int = 2026,
                     calendar: WorkingDayCalendar | None = None,
                     la: str = "201", check: bool = True,
                     looked_after: bool | float = False) -> Iterator[dict[str, Any]]:
    """``n`` stories (children ``S{seed}N0`` … ``S{seed}N{n-1}``) for the collection year
    ending 31 March ``year``, in the normalised form of ``parse_story``.

    ``calendar`` gives the working days (default: England's bank holidays); ``la`` is the
    three-digit LA code used in the children's UPNs. Each story goes through
    :func:`check_story` (``parse_story``) unless ``check`` is False (a third faster, for bulk
    benchmarks: the stories are the same). With ``looked_after``, about one child in eight
    (``careers.LOOKED_AFTER_SHARE``, drawn from the child's own stream; a number from 0 to 1
    gives another share) is a looked-after child instead, with one of the careers of
    :mod:`carepath.engine.simulation.careers`; the other children are the same as without it.
    """
    if n < 0:
        raise SimulationError(f"the number of children cannot be negative ({n})")
    if seed < 0:
        raise SimulationError(f"the seed must be 0 or more ({seed})")
    if not 2000 < year < 2100:
        raise SimulationError(f"{year} is not a collection year carepath can simulate")
    share = LOOKED_AFTER_SHARE if looked_after is True else float(looked_after)
    if not 0 <= share <= 1:
        raise SimulationError(f"the share of looked-after children must be from 0 to 1 "
                              f"({looked_after})")
    if len(la) != 3 or not la.isdigit():
        raise SimulationError(f"'{la}' is not a three-digit LA code")
    cal = calendar if calendar is not None else WorkingDayCalendar()
    return _generate(n, seed, year, cal, la, check, share)


def one_story(seed: int, index: int, year: int, cal: WorkingDayCalendar,
              la: str, looked_after: float = 0.0) -> dict[str, Any]:
    """The story of child ``index`` of ``seed`` (not checked).

    What happens to the child comes from one random stream and when its first referral is from
    another, so the same child can be moved in time: a child whose story turns out to have a
    child protection plan is drawn again (the same events) with its first referral in the
    longer window its plan's length needs, and sometimes with an earlier episode that had a plan."""
    key = f"carepath-simulate:{seed}:{index}"
    ident, upn = child_id(seed, index), upn_for(seed, index, la)
    if looked_after:
        care = random.Random(key + ":lac")
        if care.random() < looked_after:
            return career_story(care, cal, year, index, ident, upn)
    dates = random.Random(key + ":dates")
    child = SimChild(random.Random(key), cal, ident, upn, year)
    story = child.story(child.first_referral(dates))
    if not child.had_plan:
        return story
    plan_days = child.plan_days
    child = SimChild(random.Random(key), cal, ident, upn, year)
    first = child.first_referral(dates, plan_days)
    return child.story(first, earlier_plan=dates.random() < EARLIER_PLAN)


def _generate(n: int, seed: int, year: int, cal: WorkingDayCalendar, la: str,
              check: bool, looked_after: float) -> Iterator[dict[str, Any]]:
    for index in range(n):
        story = one_story(seed, index, year, cal, la, looked_after)
        yield check_story(story) if check else story
