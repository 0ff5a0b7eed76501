"""WorkflowInstance: the typed facade over one Spiff workflow — safe engine on every restore,
READY checks, timers on our clock, errors that name the step, state without specs."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from carepath.core.errors import CarepathError, ExpressionError, TaskStateError, UnsafeExpression
from carepath.core.yamlsource import load_yaml
from carepath.engine.bpmn.specs import ProcessLibrary, ProcessSpecs
from carepath.engine.process_language.compiler import compile_to_bpmn, parse_process
from carepath.engine.time.clock import FixedClock, use_clock
from carepath.engine.workflow import ReadyTask, WorkflowInstance

DATA = Path(__file__).parent / "data"
LONDON = ZoneInfo("Europe/London")


def timer_date(value: date) -> str:
    return datetime.combine(value, time(0), LONDON).isoformat()


FUNCTIONS: dict[str, Callable[..., Any]] = {"timer_date": timer_date}


def library_of(*texts: str) -> ProcessLibrary:
    library = ProcessLibrary()
    for text in texts:
        model = parse_process(load_yaml(textwrap.dedent(text), "p.yaml"), "p.yaml")
        library.add(compile_to_bpmn(model), f"{model.id}.yaml")
    return library


def only(instance: WorkflowInstance) -> ReadyTask:
    (task,) = instance.ready_tasks()
    return task


@pytest.fixture()
def clock() -> Iterator[FixedClock]:
    fixed = FixedClock(datetime(2025, 3, 3, 9, tzinfo=UTC))
    with use_clock(fixed):
        yield fixed


ASSESSMENT = """
    id: assessment
    title: Assessment
    steps:
      - task: assess
        title: Assess
        form: assess
        role: social_worker
        due: assessment
      - decision: after
        title: After assessment
        branches:
          - when: outcome == 'plan'
            steps:
              - call: planning
                title: Planning
        default:
          steps: []
      - end: closed
        title: Closed
        start: review
"""
PLANNING = """
    id: planning
    title: Planning
    steps:
      - task: plan
        title: Write the plan
        form: plan
        role: team_manager
      - end: planned
        title: Planned
        start: plan_review
"""


@pytest.fixture()
def specs() -> ProcessSpecs:
    return library_of(ASSESSMENT, PLANNING).specs("assessment")


# -------------------------------------------------------------------------------- basics


def test_start_gives_the_first_ready_task(specs: ProcessSpecs) -> None:
    instance = WorkflowInstance.start(specs, {"child": "A"}, FUNCTIONS)
    task = only(instance)
    assert (task.bpmn_id, task.title, task.form, task.role, task.due, task.process_id) == (
        "assess", "Assess", "assess", "social_worker", "assessment", "assessment")
    assert instance.task_data(task.id)["child"] == "A"
    assert not instance.is_completed()


def test_complete_runs_into_called_processes_and_records_ended_starts(
    specs: ProcessSpecs,
) -> None:
    instance = WorkflowInstance.start(specs, {}, FUNCTIONS)
    instance.complete(only(instance).id, {"outcome": "plan"})
    task = only(instance)
    assert (task.title, task.process_id) == ("Write the plan", "planning")
    assert instance.ended_starts() == []
    instance.complete(task.id, {"plan_date": date(2025, 3, 4)})
    assert instance.is_completed()
    # the called process's end first, then the caller's
    assert instance.ended_starts() == ["plan_review", "review"]
    assert instance.data["outcome"] == "plan"
    assert instance.data["plan_date"] == date(2025, 3, 4)


def test_task_state_errors(specs: ProcessSpecs) -> None:
    instance = WorkflowInstance.start(specs, {}, FUNCTIONS)
    with pytest.raises(TaskStateError, match="there is no task 'not-a-uuid'"):
        instance.complete("not-a-uuid", {})
    with pytest.raises(TaskStateError, match="there is no task"):
        instance.complete("00000000-0000-0000-0000-000000000000", {})
    task = only(instance)
    instance.complete(task.id, {"outcome": "none"})
    with pytest.raises(TaskStateError, match="task 'Assess' cannot be completed now"):
        instance.complete(task.id, {"outcome": "none"})


def test_a_task_that_is_not_ready_yet_cannot_be_completed(specs: ProcessSpecs) -> None:
    instance = WorkflowInstance.start(specs, {}, FUNCTIONS)
    future = [t for t in instance._wf.get_tasks() if t.task_spec.name == "closed"]
    assert future and future[0].state != TaskState.READY  # predicted only
    with pytest.raises(TaskStateError, match="'Closed' cannot be completed now"):
        instance.complete(str(future[0].id), {})
    assert instance.ready_tasks()[0].title == "Assess"


# -------------------------------------------------------------------------------- state


def test_dump_has_no_spec_and_restores_dates(specs: ProcessSpecs) -> None:
    instance = WorkflowInstance.start(specs, {}, FUNCTIONS)
    instance.complete(only(instance).id, {"outcome": "plan", "seen": date(2025, 3, 1),
                                          "factors": ["1A", "21"]})
    state = instance.dump()
    stored = json.loads(state)
    assert "spec" not in stored and "subprocess_specs" not in stored
    assert stored["serializer_version"] == "1.5"
    restored = WorkflowInstance.restore(state, specs, FUNCTIONS)
    task = only(restored)
    assert task.title == "Write the plan"
    data = restored.task_data(task.id)
    assert data["seen"] == date(2025, 3, 1) and data["factors"] == ["1A", "21"]
    assert restored.dump() == state


def test_copy_is_independent(specs: ProcessSpecs) -> None:
    instance = WorkflowInstance.start(specs, {}, FUNCTIONS)
    look_ahead = instance.copy()
    look_ahead.complete(only(look_ahead).id, {"outcome": "none"})
    assert look_ahead.is_completed() and look_ahead.ended_starts() == ["review"]
    assert not instance.is_completed() and instance.ended_starts() == []
    assert only(instance).title == "Assess"


def test_restore_refuses_what_it_cannot_read(specs: ProcessSpecs) -> None:
    state = WorkflowInstance.start(specs, {}, FUNCTIONS).dump()
    with pytest.raises(CarepathError, match="not valid JSON"):
        WorkflowInstance.restore("{", specs, FUNCTIONS)
    with pytest.raises(CarepathError, match="no serializer version"):
        WorkflowInstance.restore("{}", specs, FUNCTIONS)
    newer = json.loads(state) | {"serializer_version": "9.9"}
    with pytest.raises(CarepathError, match="cannot read"):
        WorkflowInstance.restore(json.dumps(newer), specs, FUNCTIONS)


def test_older_states_are_migrated(specs: ProcessSpecs) -> None:
    instance = WorkflowInstance.start(specs, {}, FUNCTIONS)
    older = json.loads(instance.dump()) | {"serializer_version": "1.4"}
    restored = WorkflowInstance.restore(json.dumps(older), specs, FUNCTIONS)
    restored.complete(only(restored).id, {"outcome": "none"})
    assert restored.is_completed()


# -------------------------------------------------------------------------------- safety

ESCAPE = """\
<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
                  id="defs" targetNamespace="http://example.org/carepath">
  <bpmn:process id="escape" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="task" name="Task"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:exclusiveGateway id="gate" name="Gate" default="f4"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing><bpmn:outgoing>f4</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming><bpmn:incoming>f4</bpmn:incoming>
      </bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="task"/>
    <bpmn:sequenceFlow id="f2" sourceRef="task" targetRef="gate"/>
    <bpmn:sequenceFlow id="f3" sourceRef="gate" targetRef="end">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">CONDITION
      </bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f4" sourceRef="gate" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def unchecked_specs(condition: str) -> ProcessSpecs:
    """Specs built straight from Spiff's parser, past the library's load-time checks, as if a
    hostile state or spec had got in: the engine must still refuse to run the escape."""
    parser = SpiffBpmnParser(validator=VALIDATOR)
    xml = ESCAPE.replace("CONDITION", condition.replace("&", "&amp;").replace("<", "&lt;"))
    parser.add_bpmn_str(xml.encode(), "escape.bpmn")
    return ProcessSpecs("escape", "Escape", parser.get_spec("escape"), {}, {}, {}, [])


ESCAPES = [
    "__import__('os').system('touch {marker}') == 0",
    "[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0]"
    ".__init__.__globals__['system']('touch {marker}') == 0",
    "open('{marker}', 'w').write('x') > 0",
]


@pytest.mark.parametrize("escape", ESCAPES)
def test_restore_reattaches_the_safe_engine(escape: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    specs = unchecked_specs(escape.format(marker=marker))
    started = WorkflowInstance.start(specs, {}, FUNCTIONS)
    restored = WorkflowInstance.restore(started.dump(), specs, FUNCTIONS)
    with pytest.raises(UnsafeExpression, match="^Condition on 'Gate' failed: "):
        restored.complete(only(restored).id, {})
    assert not marker.exists()
    # and on a fresh start too
    fresh = WorkflowInstance.start(specs, {}, FUNCTIONS)
    with pytest.raises(UnsafeExpression):
        fresh.complete(only(fresh).id, {})
    assert not marker.exists()


def test_condition_errors_name_the_gateway(specs: ProcessSpecs) -> None:
    instance = WorkflowInstance.start(specs, {}, FUNCTIONS)
    with pytest.raises(ExpressionError) as caught:
        instance.complete(only(instance).id, {"unrelated": 1})
    assert str(caught.value) == "Condition on 'After assessment' failed: 'outcome' is not defined"


def test_no_matching_branch_without_default() -> None:
    specs = unchecked_specs("x == 1")
    specs.spec.task_specs["gate"].default_task_spec = None
    instance = WorkflowInstance.start(specs, {}, FUNCTIONS)
    with pytest.raises(CarepathError, match="No branch of 'Gate' applies"):
        instance.complete(only(instance).id, {"x": 2})


# -------------------------------------------------------------------------------- timers

TIMERS = """
    id: waiting
    title: Waiting
    steps:
      - task: first
        title: First
        form: f
        role: r
      - timer: cool_off
        title: Cool off
        duration: "P2D"
      - task: second
        title: Second
        form: f
        role: r
      - timer: until_date
        title: Until the date
        until: chosen
      - end: done
        title: Done
"""


def test_timers_fire_on_our_clock(clock: FixedClock) -> None:
    specs = library_of(TIMERS).specs("waiting")
    instance = WorkflowInstance.start(specs, {}, FUNCTIONS)
    assert instance.next_timer_at() is None
    instance.complete(only(instance).id, {"chosen": date(2025, 6, 2)})
    assert instance.ready_tasks() == []
    assert instance.next_timer_at() == datetime(2025, 3, 5, 9, tzinfo=UTC)
    clock.advance(timedelta(days=1, hours=23))
    assert not instance.run_timers()
    assert instance.ready_tasks() == []
    # the timer survives a save and restore, and fires once its time has passed
    instance = WorkflowInstance.restore(instance.dump(), specs, FUNCTIONS)
    clock.advance(timedelta(hours=1, seconds=1))
    assert instance.run_timers()
    assert only(instance).title == "Second"
    assert not instance.run_timers()  # nothing more is due
    instance.complete(only(instance).id, {})
    # until: midnight London time on the chosen date (summer time: 23:00 UTC the day before)
    assert instance.next_timer_at() == datetime(2025, 6, 1, 23, tzinfo=UTC)
    clock.set(datetime(2025, 6, 1, 22, 59, tzinfo=UTC))
    assert not instance.run_timers()
    clock.set(datetime(2025, 6, 1, 23, 0, 1, tzinfo=UTC))
    assert instance.run_timers()
    assert instance.is_completed()


def test_a_timer_due_while_a_task_was_open_fires_on_completion(clock: FixedClock) -> None:
    library = ProcessLibrary()
    library.add((DATA / "visits.bpmn").read_bytes(), "visits.bpmn")
    library.add((DATA / "followup.bpmn").read_bytes(), "followup.bpmn")
    instance = WorkflowInstance.start(library.specs("visits"), {}, FUNCTIONS)
    assert only(instance).title == "Visit the child"
    assert instance.next_timer_at() == datetime(2025, 3, 6, 9, tzinfo=UTC)
    clock.advance(timedelta(days=3, seconds=1))
    assert instance.run_timers()  # the boundary timer interrupts the visit
    assert only(instance).title == "Tell the manager"


def test_timer_expression_errors_name_the_timer(clock: FixedClock) -> None:
    specs = library_of(TIMERS).specs("waiting")
    instance = WorkflowInstance.start(specs, {}, FUNCTIONS)
    instance.complete(only(instance).id, {})
    clock.advance(timedelta(days=3))
    assert instance.run_timers()
    with pytest.raises(ExpressionError, match="^Timer 'Until the date' failed: 'chosen' is not"):
        instance.complete(only(instance).id, {})


# -------------------------------------------------------------------------------- joins


PARALLEL = """
    id: both
    title: Both
    steps:
      - task: start_work
        title: Start
        form: f
        role: r
      - parallel: together
        title: Together
        branches:
          - steps:
              - task: left
                title: Left
                form: f
                role: r
          - steps:
              - task: right
                title: Right
                form: f
                role: r
      - task: check
        title: Check
        form: f
        role: r
"""


@pytest.mark.parametrize("order", [("Left", "Right"), ("Right", "Left")])
def test_a_join_keeps_what_each_branch_changed(order: tuple[str, str]) -> None:
    # Spiff's own join lets a branch that finished last put back the value it had at the fork,
    # and merges lists as unions; ours keeps each branch's changes.
    instance = WorkflowInstance.start(library_of(PARALLEL).specs("both"), {}, FUNCTIONS)
    instance.complete(only(instance).id, {"outcome": "old", "codes": ["1A"], "note": "x"})
    values: dict[str, dict[str, Any]] = {
        "Left": {"outcome": "new", "codes": ["21"]}, "Right": {"seen": True},
    }
    for title in order:
        (task,) = [t for t in instance.ready_tasks() if t.title == title]
        instance.complete(task.id, values[title])
    data = instance.task_data(only(instance).id)
    assert data["outcome"] == "new" and data["codes"] == ["21"]
    assert data["seen"] is True and data["note"] == "x"


def test_loops_survive_spiffs_depth_limit() -> None:
    # Spiff's iterators stop at depth 1000; a round of this loop is four levels deep, so with
    # Spiff's own workflow class the READY task vanishes after round 250 and the workflow
    # claims to be complete (spiffworkflow-notes, finding 1).
    library = library_of("""
        id: loop
        title: Loop
        steps:
          - task: again
            title: Again
            form: f
            role: r
          - decision: more
            title: More?
            branches:
              - when: more
                steps:
                  - goto: again
            default:
              steps: []
    """)
    instance = WorkflowInstance.start(library.specs("loop"), {}, FUNCTIONS)
    for _ in range(260):
        instance.complete(only(instance).id, {"more": True})
    instance = WorkflowInstance.restore(instance.dump(), library.specs("loop"), FUNCTIONS)
    assert only(instance).title == "Again" and not instance.is_completed()
    instance.complete(only(instance).id, {"more": False})
    assert instance.is_completed()
