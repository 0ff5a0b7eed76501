"""The simulated children against the DfE's published figures (docs/simulation.md): a seeded
caseload is within the stated tolerance of every target (deterministic: a fixed seed)."""

from __future__ import annotations

from typing import Any

import pytest

from carepath.engine.simulation.generator import generate_stories
from carepath.engine.simulation.measures import TARGETS, measure

N = 10_000  # enough plans ending in the year (~500) for the tolerances
YEAR = 2026


@pytest.fixture(scope="module")
def measured() -> dict[str, Any]:
    return measure(list(generate_stories(N, seed=2026, year=YEAR, check=False)), YEAR)


def test_enough_events_to_measure(measured: dict[str, Any]) -> None:
    assert measured["n_referrals"] > 0.8 * N
    assert measured["n_cp_ended"] > 400
    assert measured["n_cp_started"] > 400
    assert measured["n_icpcs"] > 500


@pytest.mark.parametrize("target", TARGETS, ids=[t.key for t in TARGETS])
def test_within_tolerance_of_the_published_figure(target: Any, measured: dict[str, Any]) -> None:
    assert abs(measured[target.key] - target.published) <= target.tolerance, \
        f"{target.what}: {measured[target.key]}% simulated, {target.published}% published"


def test_no_weekend_assessment_starts_and_no_adult_referrals(measured: dict[str, Any]) -> None:
    assert measured["assessment_weekend_starts"] == 0
    assert measured["referral_age_18_plus"] == 0.0
