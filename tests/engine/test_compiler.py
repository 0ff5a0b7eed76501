"""The YAML process language: every step kind compiles to BPMN that validates, opens in a modeller
(a shape per node, an edge per flow) and runs in Spiff; every mistake is refused with its line."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from lxml import etree
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from carepath.core.errors import PackError
from carepath.core.yamlsource import load_yaml
from carepath.engine.bpmn.specs import ProcessLibrary
from carepath.engine.process_language.compiler import compile_to_bpmn, parse_process
from carepath.engine.process_language.model import (
    CallStep,
    DecisionStep,
    EndStep,
    GotoStep,
    ParallelStep,
    ProcessModel,
    TaskStep,
    TimerStep,
)
from carepath.engine.time.clock import FixedClock, use_clock
from carepath.engine.workflow import WorkflowInstance

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
LONDON = ZoneInfo("Europe/London")

REFERRAL = """\
id: referral
title: Referral and assessment
steps:
  - task: referral_decision
    title: Decide what happens next
    form: referral_decision
    role: social_worker
    due: referral_decision
  - decision: after_referral
    title: After the referral decision
    branches:
      - when: next_step == 'nfa'
        steps:
          - end: closed_nfa
            title: Closed with no further action
      - when: next_step == 'strategy'
        title: Strategy discussion
        steps:
          - call: section47
            id: s47_from_referral
            title: Section 47 enquiry
      - when: next_step == 'again'
        steps:
          - goto: referral_decision
            title: Send back
      - when: next_step == 'assess'
        steps: []
    default:
      steps: []
  - parallel: assess_and_wait
    title: Assessment and cooling off
    branches:
      - steps:
          - task: assessment
            title: Assess the child's needs
            form: assessment
            role: social_worker
      - steps:
          - timer: cooling_off
            title: Wait seven days
            duration: "P7D"
  - timer: until_review
    title: Wait for the review date
    until: days_after(review_date, 1)
  - decision: review
    title: Review
    branches:
      - when: redo
        steps:
          - goto: assess_and_wait
    default:
      title: Done
      steps: []
  - end: done
    title: Episode closed
    start: cp_review
"""

SECTION47 = """\
id: section47
title: Section 47 enquiry
steps:
  - task: strategy
    title: Strategy discussion
    form: strategy
    role: team_manager
  - end: s47_done
    title: Enquiry finished
"""


def model_of(text: str, file: str = "processes/p.yaml") -> ProcessModel:
    return parse_process(load_yaml(textwrap.dedent(text), file), file)


def refusal(text: str) -> PackError:
    with pytest.raises(PackError) as caught:
        model_of(text)
    return caught.value


def timer_date(value: date) -> str:
    return datetime.combine(value, time(0), LONDON).isoformat()


def days_after(value: date, days: int) -> date:
    return value + timedelta(days=days)


FUNCTIONS: dict[str, Callable[..., Any]] = {"timer_date": timer_date, "days_after": days_after}


@pytest.fixture()
def clock() -> Iterator[FixedClock]:
    fixed = FixedClock(datetime(2025, 1, 6, 9, tzinfo=UTC))
    with use_clock(fixed):
        yield fixed


@pytest.fixture()
def library() -> ProcessLibrary:
    library = ProcessLibrary()
    for name, text in (("referral", REFERRAL), ("section47", SECTION47)):
        file = f"processes/{name}.yaml"
        assert library.add(compile_to_bpmn(model_of(text, file)), file) == [name]
    return library


# -------------------------------------------------------------------------------- the model


def test_parse_builds_the_model_with_lines() -> None:
    model = model_of(REFERRAL)
    assert (model.id, model.title, model.file) == ("referral", "Referral and assessment",
                                                   "processes/p.yaml")
    task, decision, parallel, timer, review, end = model.steps
    assert task == TaskStep("referral_decision", "Decide what happens next", "referral_decision",
                            "social_worker", "referral_decision", 4)
    assert isinstance(decision, DecisionStep) and decision.line == 9
    assert [b.when for b in decision.branches] == [
        "next_step == 'nfa'", "next_step == 'strategy'", "next_step == 'again'",
        "next_step == 'assess'",
    ]
    assert decision.branches[1].steps == (
        CallStep("s47_from_referral", "Section 47 enquiry", "section47", 19),
    )
    assert decision.branches[2].steps == (GotoStep("referral_decision", "Send back", 24),)
    assert decision.default.when is None and decision.default.steps == ()
    assert isinstance(parallel, ParallelStep) and len(parallel.branches) == 2
    assert timer == TimerStep("until_review", "Wait for the review date", None,
                              "days_after(review_date, 1)", 42)
    assert isinstance(review, DecisionStep) and review.default.title == "Done"
    assert end == EndStep("done", "Episode closed", "cp_review", 54)
    kinds = [type(s).__name__ for s in model.walk()]
    assert kinds.count("TaskStep") == 2 and kinds.count("GotoStep") == 2


def test_call_without_id_takes_the_called_process_as_id() -> None:
    model = model_of("""
        id: p
        title: P
        steps:
          - call: section47
            title: Enquiry
    """)
    assert model.steps[0] == CallStep("section47", "Enquiry", "section47", 5)


# -------------------------------------------------------------------------------- BPMN output


def test_output_validates_and_parses_with_spiff() -> None:
    xml = compile_to_bpmn(model_of(REFERRAL))
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_str(xml, "referral.bpmn")
    spec = parser.get_spec("referral")
    assert spec.task_specs["referral_decision"].extensions["properties"] == {
        "form": "referral_decision", "role": "social_worker", "due": "referral_decision",
    }
    assert spec.task_specs["done"].extensions["properties"] == {"start": "cp_review"}


def test_output_is_the_documented_bpmn() -> None:
    root = etree.fromstring(compile_to_bpmn(model_of(REFERRAL)))
    (process,) = root.findall("bpmn:process", NS)
    assert process.get("id") == "referral" and process.get("isExecutable") == "true"
    gateway = process.find("bpmn:exclusiveGateway[@id='after_referral']", NS)
    assert gateway is not None and gateway.get("name") == "After the referral decision"
    default = process.find(f"bpmn:sequenceFlow[@id='{gateway.get('default')}']", NS)
    assert default is not None and default.find("bpmn:conditionExpression", NS) is None
    conditions = [c.text for c in process.iterfind(".//bpmn:conditionExpression", NS)]
    assert "next_step == 'nfa'" in conditions and "redo" in conditions
    expression = process.find(".//bpmn:conditionExpression", NS)
    assert expression is not None
    assert expression.get("{http://www.w3.org/2001/XMLSchema-instance}type") == (
        "bpmn:tFormalExpression")
    call = process.find("bpmn:callActivity", NS)
    assert call is not None and call.get("calledElement") == "section47"
    duration = process.find(".//bpmn:timeDuration", NS)
    assert duration is not None and duration.text == '"P7D"'
    until = process.find(".//bpmn:timeDate", NS)
    assert until is not None and until.text == "timer_date(days_after(review_date, 1))"
    assert process.find("bpmn:parallelGateway[@id='assess_and_wait']", NS) is not None
    assert process.find("bpmn:parallelGateway[@id='assess_and_wait-join']", NS) is not None
    # gotos enter their target through a merge gateway, never the task itself
    loop = process.find("bpmn:exclusiveGateway[@id='referral_decision-loop']", NS)
    assert loop is not None and len(loop.findall("bpmn:incoming", NS)) == 2
    task = process.find("bpmn:userTask[@id='referral_decision']", NS)
    assert task is not None and len(task.findall("bpmn:incoming", NS)) == 1


def test_diagram_has_a_shape_per_node_and_an_edge_per_flow() -> None:
    root = etree.fromstring(compile_to_bpmn(model_of(REFERRAL)))
    process = root.find("bpmn:process", NS)
    assert process is not None
    nodes = {e.get("id") for e in process if etree.QName(e).localname not in
             ("sequenceFlow", "documentation")}
    flows = {e.get("id") for e in process.iterfind("bpmn:sequenceFlow", NS)}
    plane = root.find("bpmndi:BPMNDiagram/bpmndi:BPMNPlane", NS)
    assert plane is not None and plane.get("bpmnElement") == "referral"
    shapes = {s.get("bpmnElement"): s for s in plane.iterfind("bpmndi:BPMNShape", NS)}
    edges = {e.get("bpmnElement"): e for e in plane.iterfind("bpmndi:BPMNEdge", NS)}
    assert set(shapes) == nodes
    assert set(edges) == flows
    boxes = []
    for shape in shapes.values():
        bounds = shape.find("dc:Bounds", NS)
        assert bounds is not None
        x, y, w, h = (float(bounds.get(k, "nan")) for k in ("x", "y", "width", "height"))
        assert w > 0 and h > 0
        boxes.append((x, y, x + w, y + h))
    for i, a in enumerate(boxes):  # a readable layout: no two shapes overlap
        for b in boxes[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    for edge in edges.values():
        assert len(edge.findall("di:waypoint", NS)) >= 2


def test_lists_without_an_end_get_an_implicit_end() -> None:
    model = model_of("""
        id: simple
        title: Simple
        steps:
          - task: visit
            title: Visit
            form: visit
            role: social_worker
    """)
    root = etree.fromstring(compile_to_bpmn(model))
    end = root.find(".//bpmn:endEvent", NS)
    assert end is not None and end.get("id") == "process-end" and end.get("name") == "End"
    library = ProcessLibrary()
    library.add(compile_to_bpmn(model), "simple.yaml")
    instance = WorkflowInstance.start(library.specs("simple"), {}, FUNCTIONS)
    instance.complete(instance.ready_tasks()[0].id, {})
    assert instance.is_completed() and instance.ended_starts() == []


# -------------------------------------------------------------------------------- running


def titles(instance: WorkflowInstance) -> list[str]:
    return [t.title for t in instance.ready_tasks()]


def complete(instance: WorkflowInstance, title: str, **values: Any) -> None:
    (task,) = [t for t in instance.ready_tasks() if t.title == title]
    instance.complete(task.id, values)


def test_runs_the_no_further_action_branch(library: ProcessLibrary, clock: FixedClock) -> None:
    instance = WorkflowInstance.start(library.specs("referral"), {}, FUNCTIONS)
    assert titles(instance) == ["Decide what happens next"]
    complete(instance, "Decide what happens next", next_step="nfa")
    assert instance.is_completed()
    assert instance.ended_starts() == []


def test_runs_loops_calls_parallel_and_timers_to_the_end(
    library: ProcessLibrary, clock: FixedClock
) -> None:
    specs = library.specs("referral")
    instance = WorkflowInstance.start(specs, {"review_date": date(2025, 1, 20)}, FUNCTIONS)
    complete(instance, "Decide what happens next", next_step="again")  # goto back
    assert titles(instance) == ["Decide what happens next"]
    complete(instance, "Decide what happens next", next_step="strategy")  # call activity
    (task,) = instance.ready_tasks()
    assert (task.title, task.process_id, task.role) == ("Strategy discussion", "section47",
                                                        "team_manager")
    instance = WorkflowInstance.restore(instance.dump(), specs, FUNCTIONS)
    complete(instance, "Strategy discussion")
    # parallel: the assessment is ready while the seven-day timer waits
    assert titles(instance) == ["Assess the child's needs"]
    assert instance.next_timer_at() == datetime(2025, 1, 13, 9, tzinfo=UTC)
    complete(instance, "Assess the child's needs", redo=True)
    assert titles(instance) == [] and not instance.is_completed()
    clock.advance(timedelta(days=7, seconds=1))
    assert instance.run_timers()
    # the join has passed; now waiting until the day after the review date, 00:00 London
    assert instance.next_timer_at() == datetime(2025, 1, 21, 0, tzinfo=UTC)
    clock.set(datetime(2025, 1, 21, 0, 0, 1, tzinfo=UTC))
    assert instance.run_timers()
    # review: redo -> back to the parallel step
    assert titles(instance) == ["Assess the child's needs"]
    complete(instance, "Assess the child's needs", redo=False)
    clock.advance(timedelta(days=8))
    assert instance.run_timers()
    assert instance.is_completed()
    assert instance.ended_starts() == ["cp_review"]


def test_empty_branch_continues_after_the_decision(
    library: ProcessLibrary, clock: FixedClock
) -> None:
    instance = WorkflowInstance.start(library.specs("referral"), {}, FUNCTIONS)
    complete(instance, "Decide what happens next", next_step="assess")
    assert titles(instance) == ["Assess the child's needs"]


def test_first_matching_branch_in_file_order_wins() -> None:
    # Overlapping conditions, with empty and goto branches between them: Spiff orders the
    # conditions by diagram position, so the layout must keep file order.
    model = model_of("""
        id: order
        title: Order
        steps:
          - task: enter
            title: Enter
            form: f
            role: r
          - decision: pick
            title: Pick
            branches:
              - when: score > 10
                steps:
                  - task: high
                    title: High
                    form: f
                    role: r
              - when: score > 5
                steps: []
              - when: score > 3
                steps:
                  - goto: enter
              - when: score > 0
                steps:
                  - task: low
                    title: Low
                    form: f
                    role: r
            default:
              steps:
                - task: none
                  title: None
                  form: f
                  role: r
          - task: after
            title: After
            form: f
            role: r
    """)
    library = ProcessLibrary()
    library.add(compile_to_bpmn(model), "order.yaml")
    expected = {20: "High", 7: "After", 4: "Enter", 1: "Low", 0: "None"}
    for score, title in expected.items():
        instance = WorkflowInstance.start(library.specs("order"), {}, FUNCTIONS)
        complete(instance, "Enter", score=score)
        assert titles(instance) == [title], score


# -------------------------------------------------------------------------------- refusals

TASK = """
          - task: a
            title: A
            form: f
            role: r
"""

REFUSALS = [
    pytest.param("""
        id: p
        title: P
        steps:
          - task: a
            titel: A
            form: f
            role: r
    """, 6, "unknown key 'titel' in a task step (did you mean 'title'?)", id="unknown-key"),
    pytest.param("""
        id: p
        title: P
        stesp: []
    """, 4, "unknown key 'stesp' in the process (did you mean 'steps'?)", id="unknown-top-key"),
    pytest.param("""
        id: p
        title: P
        steps:
          - taks: a
            title: A
    """, 5, "one of task, decision, parallel, call, timer, goto, end (did you mean 'task'?)",
        id="unknown-kind"),
    pytest.param("""
        id: p
        title: P
        steps:
          - task: a
            form: f
            role: r
    """, 5, "task 'a' needs a 'title'", id="task-without-title"),
    pytest.param("""
        id: p
        title: P
        steps:
          - task: a
            title: A
            role: r
    """, 5, "task 'a' needs a 'form'", id="task-without-form"),
    pytest.param("""
        id: p
        title: P
        steps:
          - task: a
            title: A
            form: f
    """, 5, "task 'a' needs a 'role'", id="task-without-role"),
    pytest.param("""
        id: p
        title: P
        steps:
          - task: a
            title: A
            form: f
            role: r
          - end: a
            title: Done
    """, 9, "step id 'a' is used twice (first on line 5)", id="duplicate-id"),
    pytest.param("""
        id: p
        title: P
        steps:
          - decision: d
            title: D
            branches:
              - when: x == 1
                steps: []
    """, 5, "decision 'd' needs a 'default' branch", id="decision-without-default"),
    pytest.param("""
        id: p
        title: P
        steps:
          - decision: d
            title: D
            branches:
              - when: __import__('os').system('id') == 0
                steps: []
            default:
              steps: []
    """, 8, "'when' of a branch of decision 'd' is not an allowed expression", id="unsafe-when"),
    pytest.param("""
        id: p
        title: P
        steps:
          - decision: d
            title: D
            branches:
              - when: x ==
                steps: []
            default:
              steps: []
    """, 8, "is not an allowed expression", id="syntax-error-when"),
    pytest.param("""
        id: p
        title: P
        steps:
          - task: a
            title: A
            form: f
            role: r
          - goto: b
    """, 9, "goto 'b': there is no step 'b' in this process", id="goto-unknown"),
    pytest.param("""
        id: p
        title: P
        steps:
          - task: a
            title: A
            form: f
            role: r
          - decision: d
            title: D
            branches:
              - when: x
                steps:
                  - goto: b
            default:
              steps: []
          - task: b
            title: B
            form: f
            role: r
    """, 14, "goto 'b' goes forward (that step is on line 17)", id="goto-later"),
    pytest.param("""
        id: p
        title: P
        steps:
          - decision: d
            title: D
            branches:
              - when: x
                steps:
                  - task: inner
                    title: Inner
                    form: f
                    role: r
            default:
              steps: []
          - goto: inner
    """, 16, "goto 'inner' jumps into a branch", id="goto-into-branch"),
    pytest.param("""
        id: p
        title: P
        steps:
          - end: done
            title: Done
          - task: a
            title: A
            form: f
            role: r
    """, 7, "this step can never be reached: the step before it ends the process",
        id="step-after-end"),
    pytest.param("""
        id: p
        title: P
        steps:
          - task: a
            title: A
            form: f
            role: r
          - goto: a
          - end: done
            title: Done
    """, 10, "goes back to an earlier step", id="step-after-goto"),
    pytest.param("""
        id: p
        title: P
        steps:
          - task: a
            title: A
            form: f
            role: r
          - decision: d
            title: D
            branches:
              - when: x
                steps:
                  - goto: a
            default:
              steps:
                - end: done
                  title: Done
          - end: later
            title: Later
    """, 19, "ends in end or goto on every branch", id="step-after-closed-decision"),
    pytest.param("""
        id: p
        title: P
        steps: []
    """, 4, "the process has no steps", id="empty-process"),
    pytest.param("""
        id: p
        title: P
    """, 2, "the process has no steps", id="no-steps"),
    pytest.param("""
        id: p
        title: P
        steps:
          - parallel: par
            title: Par
            branches:
              - steps:
                  - end: early
                    title: Early
              - steps: []
    """, 9, "parallel branches cannot end the process", id="end-in-parallel"),
    pytest.param("""
        id: p
        title: P
        steps:
          - task: a
            title: A
            form: f
            role: r
          - parallel: par
            title: Par
            branches:
              - steps:
                  - goto: a
              - steps: []
    """, 13, "goto is not allowed inside a parallel branch", id="goto-in-parallel"),
    pytest.param("""
        id: p
        title: P
        steps:
          - parallel: par
            title: Par
            branches:
              - steps: []
    """, 7, "needs 'branches': a list of at least two", id="parallel-one-branch"),
    pytest.param("""
        id: p
        title: P
        steps:
          - timer: wait
            title: Wait
            duration: 7 days
    """, 7, "must be an ISO 8601 duration", id="bad-duration"),
    pytest.param("""
        id: p
        title: P
        steps:
          - timer: wait
            title: Wait
    """, 5, "needs either 'duration'", id="timer-without-time"),
    pytest.param("""
        id: p
        title: P
        steps:
          - timer: wait
            title: Wait
            duration: P1D
            until: today()
    """, 5, "has both 'duration' and 'until'", id="timer-with-both"),
    pytest.param("""
        id: p
        title: P
        steps:
          - timer: wait
            title: Wait
            until: open('/etc/passwd')
    """, 7, "'until' of timer 'wait' is not an allowed expression", id="unsafe-until"),
    pytest.param("""
        id: p
        title: P
        steps:
          - decision: again
            title: Again
            branches:
              - when: x
                steps:
                  - goto: again
            default:
              steps: []
    """, 10, "this goto loops without any task or timer", id="loop-without-wait"),
    pytest.param("""
        id: p
        title: P
        steps:
          - task: End
            title: A
            form: f
            role: r
    """, 5, "'End' cannot be used as a step id", id="reserved-id"),
    pytest.param("""
        id: p
        title: P
        steps:
          - end: p
            title: A
    """, 5, "step id 'p' is the id of the process", id="id-is-process-id"),
    pytest.param("""
        id: p
        title: P
        steps:
          - task: 1st
            title: A
            form: f
            role: r
    """, 5, "must be an id: letters, digits and '_'", id="bad-id"),
    pytest.param("""
        id: p
        title: P
        steps:
          - task: a
            title: A
            form: f
            role: r
            end: b
    """, 9, "a step can be only one of task, end", id="two-kinds"),
    pytest.param("""
        id: p
        title: P
        steps:
          - task: a
            title: A
            form: f
            role: r
          - goto: a
    """, 2, "the process can never end", id="no-end"),
    pytest.param("""
        - task: a
    """, 2, "a process file must be a mapping", id="not-a-mapping"),
]


@pytest.mark.parametrize(("text", "line", "message"), REFUSALS)
def test_refusals_name_file_line_and_problem(text: str, line: int, message: str) -> None:
    error = refusal(text)
    assert error.file == "processes/p.yaml"
    assert message in error.detail
    assert error.line == line, error
