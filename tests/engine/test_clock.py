"""The injectable clock, and SpiffWorkflow's timers driven by it."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions import timer
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from carepath.engine.bpmn.script_environment import safe_script_engine
from carepath.engine.time.clock import (
    LONDON,
    Clock,
    ClockDatetime,
    FixedClock,
    SystemClock,
    current_clock,
    install_spiff_clock,
    set_default_clock,
    today,
    use_clock,
)

MONDAY = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def test_fixed_clock_moves_only_when_told() -> None:
    clock = FixedClock(MONDAY)
    assert clock.now() == MONDAY and clock.now().tzinfo is UTC
    clock.advance(timedelta(hours=30))
    assert clock.now() == datetime(2025, 3, 4, 15, 0, tzinfo=UTC)
    clock.set(datetime(2025, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=1))))
    assert clock.now() == datetime(2025, 6, 1, 11, 0, tzinfo=UTC)
    assert clock.now().utcoffset() == timedelta(0)


def test_fixed_clock_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        FixedClock(datetime(2025, 1, 1))
    clock = FixedClock(MONDAY)
    with pytest.raises(ValueError):
        clock.set(datetime(2025, 1, 1))
    assert clock.now() == MONDAY


def test_set_date_is_nine_in_the_morning_london_time() -> None:
    clock = FixedClock(MONDAY)
    clock.set_date(date(2025, 1, 15))  # GMT
    assert clock.now() == datetime(2025, 1, 15, 9, 0, tzinfo=UTC)
    clock.set_date(date(2025, 7, 15))  # BST: 09:00 London is 08:00 UTC
    assert clock.now() == datetime(2025, 7, 15, 8, 0, tzinfo=UTC)
    assert clock.now().astimezone(LONDON).hour == 9


def test_system_clock_is_aware_utc() -> None:
    clock: Clock = SystemClock()  # also checks, statically, that it is a Clock
    assert clock.now().utcoffset() == timedelta(0)


def test_use_clock_sets_and_restores() -> None:
    outer, inner = FixedClock(MONDAY), FixedClock(MONDAY + timedelta(days=1))
    before = current_clock()
    with use_clock(outer) as given:
        assert given is outer and current_clock() is outer
        with use_clock(inner):
            assert current_clock() is inner
        assert current_clock() is outer
    assert current_clock() is before


def test_use_clock_is_restored_after_an_error() -> None:
    before = current_clock()
    with pytest.raises(RuntimeError), use_clock(FixedClock(MONDAY)):
        raise RuntimeError("boom")
    assert current_clock() is before


def test_use_clock_belongs_to_its_context_only() -> None:
    seen: list[Clock] = []
    with use_clock(FixedClock(MONDAY)):
        thread = threading.Thread(target=lambda: seen.append(current_clock()))
        thread.start()
        thread.join()
    assert len(seen) == 1 and not isinstance(seen[0], FixedClock)


def test_default_clock_can_be_replaced() -> None:
    original = current_clock()
    fixed = FixedClock(MONDAY)
    set_default_clock(fixed)
    try:
        assert current_clock() is fixed
        with use_clock(FixedClock(MONDAY)) as other:
            assert current_clock() is other
    finally:
        set_default_clock(original)
    assert current_clock() is original


def test_today_is_the_date_in_london() -> None:
    with use_clock(FixedClock(datetime(2025, 6, 30, 23, 30, tzinfo=UTC))):
        assert today() == date(2025, 7, 1)  # 00:30 BST
    with use_clock(FixedClock(datetime(2025, 12, 31, 23, 30, tzinfo=UTC))):
        assert today() == date(2025, 12, 31)  # GMT
    clock = FixedClock(MONDAY)
    with use_clock(clock):
        clock.set_date(date(2026, 4, 3))
        assert today() == date(2026, 4, 3)


# --------------------------------------------------------------------------- SpiffWorkflow

TIMER_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    id="defs" targetNamespace="http://example.org/carepath">
  <bpmn:process id="wait" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="cooling_off"/>
    <bpmn:intermediateCatchEvent id="cooling_off" name="Wait two days">
      <bpmn:incoming>f0</bpmn:incoming>
      <bpmn:outgoing>f1</bpmn:outgoing>
      <bpmn:timerEventDefinition>TIMER</bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="cooling_off" targetRef="done"/>
    <bpmn:endEvent id="done"><bpmn:incoming>f1</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


def _timer_workflow(definition: str) -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(TIMER_BPMN.replace("TIMER", definition).encode())
    return BpmnWorkflow(parser.get_spec("wait"), {}, script_engine=safe_script_engine())


def _tick(workflow: BpmnWorkflow) -> bool:
    workflow.refresh_timers()
    workflow.do_engine_steps()
    return bool(workflow.is_completed())


def test_install_spiff_clock_is_idempotent() -> None:
    install_spiff_clock()
    install_spiff_clock()
    assert timer.datetime is ClockDatetime


def test_spiff_duration_timer_follows_the_fixed_clock() -> None:
    install_spiff_clock()
    clock = FixedClock(MONDAY)
    with use_clock(clock):
        workflow = _timer_workflow('<bpmn:timeDuration>"P2D"</bpmn:timeDuration>')
        workflow.do_engine_steps()
        assert not workflow.is_completed()
        [pending] = workflow.waiting_events()
        assert datetime.fromisoformat(pending.value) == MONDAY + timedelta(days=2)

        clock.advance(timedelta(days=1))
        assert not _tick(workflow)
        clock.advance(timedelta(days=1) - timedelta(minutes=1))
        assert not _tick(workflow)
        # Spiff fires a timer once now is strictly after its due time.
        clock.advance(timedelta(minutes=2))
        assert _tick(workflow)


def test_spiff_date_timer_follows_the_fixed_clock() -> None:
    install_spiff_clock()
    clock = FixedClock(MONDAY)
    due = datetime(2025, 3, 10, 0, 0, tzinfo=LONDON).isoformat()
    with use_clock(clock):
        workflow = _timer_workflow(f'<bpmn:timeDate>"{due}"</bpmn:timeDate>')
        workflow.do_engine_steps()
        assert not workflow.is_completed()
        clock.set_date(date(2025, 3, 9))
        assert not _tick(workflow)
        clock.set_date(date(2025, 3, 10))
        assert _tick(workflow)


def test_patched_datetime_still_behaves_like_datetime() -> None:
    install_spiff_clock()
    moment = MONDAY + timedelta(hours=5)
    with use_clock(FixedClock(moment)):
        assert ClockDatetime.now(UTC) == moment
        assert ClockDatetime.now(LONDON) == moment and ClockDatetime.now(LONDON).tzinfo is LONDON
        assert ClockDatetime.now().tzinfo is None
    parsed = ClockDatetime.fromisoformat("2025-03-03T09:00:00+00:00")
    assert parsed == MONDAY and isinstance(parsed, datetime)
    # Spiff checks isinstance(x, datetime) with the patched name; plain datetimes must pass.
    assert isinstance(MONDAY, ClockDatetime)
    assert timer.TimerEventDefinition.get_datetime("2025-03-03T09:00:00+00:00") == MONDAY
    cycles, start, duration = timer.TimerEventDefinition.parse_iso_recurring_interval(
        "R2/2025-03-03T09:00:00+00:00/PT1H"
    )
    assert (cycles, start, duration) == (2, MONDAY, timedelta(hours=1))
