"""A referral for a child who already has a case goes into that case: only for someone who may
see it (never a write to, nor a hint of, a case hidden from them)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from carepath.adapters.app import case_service
from carepath.core.errors import PermissionDeniedError, RecordError
from carepath.engine.time.clock import FixedClock, use_clock
from carepath.service.types import Actor

from .test_access import OPERATOR, SAM, TESS, child


def test_a_referral_into_a_case_the_actor_may_not_see_is_refused(db: Engine) -> None:
    with use_clock(FixedClock(datetime(2025, 5, 12, 11, tzinfo=UTC))):
        cases = case_service(db)
        referral = {"date": "2025-05-12", "source": "2A"}
        south = cases.open_case("wt2023", child(1), referral, OPERATOR, team="south").case_id
        version = cases.head(south).version
        with pytest.raises(PermissionDeniedError, match="may not see") as refused:
            cases.open_case("wt2023", child(1), referral, SAM)
        assert str(south) not in str(refused.value)
        assert cases.head(south).version == version
        cases.open_case("wt2023", child(2), referral, OPERATOR, team="north")
        # someone who sees the case (or an operator) gets the record's own answer
        for actor in (TESS, Actor.operator("admin")):
            with pytest.raises(RecordError, match="already has an open episode"):
                cases.open_case("wt2023", child(2 if actor is TESS else 1), referral, actor)
