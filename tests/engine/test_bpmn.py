"""ProcessLibrary: hand-written BPMN is loaded, described and cached; anything that could run
code or that carepath does not support is refused with its file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from carepath.core.errors import PackError
from carepath.core.yamlsource import load_yaml
from carepath.engine.bpmn.specs import GraphEdge, ProcessLibrary, TaskInfo
from carepath.engine.process_language.compiler import compile_to_bpmn, parse_process, source_lines

DATA = Path(__file__).parent / "data"
FILE = "processes/p.bpmn"

HEAD = """\
<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="defs" targetNamespace="http://example.org/carepath">
"""
TASK_PROPERTIES = """\
<bpmn:extensionElements><spiffworkflow:properties>
<spiffworkflow:property name="form" value="f"/><spiffworkflow:property name="role" value="r"/>
</spiffworkflow:properties></bpmn:extensionElements>"""


def document(body: str, process_id: str = "p") -> bytes:
    """A process start -> task -> end, with ``body`` added inside the process (line 9 on)."""
    return (HEAD + f"""\
  <bpmn:process id="{process_id}" name="P" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="task" name="Task">{TASK_PROPERTIES}
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
{textwrap.dedent(body).strip()}
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="task"/>
    <bpmn:sequenceFlow id="f2" sourceRef="task" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
""").encode()


BODY_LINE = 12  # the first line of ``body`` in document()


def refused(xml: bytes) -> PackError:
    with pytest.raises(PackError) as caught:
        ProcessLibrary().add(xml, FILE)
    return caught.value


@pytest.fixture()
def library() -> ProcessLibrary:
    library = ProcessLibrary()
    assert library.add((DATA / "visits.bpmn").read_bytes(), "processes/visits.bpmn") == ["visits"]
    assert library.add((DATA / "followup.bpmn").read_bytes(), "processes/followup.bpmn") == [
        "followup"
    ]
    return library


def test_the_base_document_loads() -> None:
    assert ProcessLibrary().add(document(""), FILE) == ["p"]


# -------------------------------------------------------------------------------- loading


def test_hand_written_bpmn_is_described(library: ProcessLibrary) -> None:
    assert library.process_ids() == ["visits", "followup"]
    assert library.file_of("followup") == "processes/followup.bpmn"
    specs = library.specs("visits")
    assert specs.process_id == "visits" and specs.title == "Statutory visits"
    assert specs.spec.name == "visits" and set(specs.subprocess_specs) == {"followup"}
    assert specs.tasks == {
        "visit": TaskInfo("visit", "Visit the child", "visit", "social_worker", "visit"),
        "escalate": TaskInfo("escalate", "Tell the manager", "escalation", "team_manager", None),
        "plan": TaskInfo("plan", "Plan the follow-up", "followup", "team_manager", None),
    }
    assert specs.end_starts == {"done": "visits", "followed": "review"}
    (condition,) = specs.conditions
    assert (condition.flow_id, condition.gateway_id, condition.gateway_title, condition.source) == (
        "f_worried", "concern", "Any concern?", "concern == 'yes'")


def test_specs_are_parsed_once(library: ProcessLibrary) -> None:
    assert library.specs("visits") is library.specs("visits")


def test_graph_of_a_hand_written_process(library: ProcessLibrary) -> None:
    graph = library.graph("visits")
    assert graph.start == ("start",) and graph.file == "processes/visits.bpmn"
    kinds = {node_id: node.kind for node_id, node in graph.nodes.items()}
    assert kinds == {
        "start": "start", "visit": "task", "overdue": "boundary_timer", "escalate": "task",
        "escalated": "end", "concern": "exclusive", "follow": "call", "done": "end",
    }
    assert graph.nodes["concern"].outgoing == (
        GraphEdge("follow", "concern == 'yes'", False, "f_worried"),
        GraphEdge("done", None, True, "f_fine"),
    )
    # a boundary timer is an extra way out of the task it is attached to
    assert [e.target for e in graph.nodes["visit"].outgoing] == ["concern", "overdue"]
    assert graph.nodes["follow"].called == "followup"
    assert graph.nodes["done"].starts == "visits"
    assert graph.nodes["visit"].form == "visit" and graph.nodes["visit"].line == 17


def test_graph_of_a_compiled_process_keeps_branch_order() -> None:
    text = textwrap.dedent("""\
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
              - when: score > 5
                steps: []
              - when: score > 0
                steps:
                  - end: low
                    title: Low
            default:
              steps: []
    """)
    model = parse_process(load_yaml(text, "order.yaml"), "order.yaml")
    library = ProcessLibrary()
    library.add(compile_to_bpmn(model), "order.yaml")
    pick = library.graph("order").nodes["pick"]
    assert [(e.condition, e.is_default) for e in pick.outgoing] == [
        ("score > 5", False), ("score > 0", False), (None, True),
    ]
    assert library.graph("order").nodes["process-end"].kind == "end"


# -------------------------------------------------------------------------------- refusals

REFUSED_ELEMENTS = [
    pytest.param('<bpmn:scriptTask id="s"><bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>',
                 "script tasks are not allowed", id="scriptTask"),
    pytest.param('<bpmn:serviceTask id="s"/>', "service tasks are not allowed", id="serviceTask"),
    pytest.param('<bpmn:manualTask id="s"/>', "manual tasks are not supported", id="manualTask"),
    pytest.param('<bpmn:businessRuleTask id="s"/>', "business rule tasks", id="businessRule"),
    pytest.param('<bpmn:sendTask id="s"/>', "send tasks are not supported", id="sendTask"),
    pytest.param('<bpmn:receiveTask id="s"/>', "receive tasks are not supported", id="receive"),
    pytest.param('<bpmn:task id="s"/>', "plain tasks are not supported", id="task"),
    pytest.param('<bpmn:subProcess id="s"/>', "embedded subprocesses", id="subProcess"),
    pytest.param('<bpmn:inclusiveGateway id="s"/>', "inclusive gateways", id="inclusive"),
    pytest.param('<bpmn:intermediateThrowEvent id="s"/>', "throw events", id="throw"),
    pytest.param('<bpmn:dataObject id="s"/>', "data objects are not supported", id="dataObject"),
    pytest.param('<bpmn:userTask id="s"><bpmn:extensionElements><spiffworkflow:preScript>'
                 "x = 1</spiffworkflow:preScript></bpmn:extensionElements></bpmn:userTask>",
                 "pre-scripts are not allowed", id="preScript"),
    pytest.param('<bpmn:userTask id="s"><bpmn:extensionElements><spiffworkflow:postScript>'
                 "x = 1</spiffworkflow:postScript></bpmn:extensionElements></bpmn:userTask>",
                 "post-scripts are not allowed", id="postScript"),
    pytest.param('<bpmn:userTask id="s"><bpmn:standardLoopCharacteristics/></bpmn:userTask>',
                 "loop tasks are not supported", id="loop"),
    pytest.param('<bpmn:boundaryEvent id="s" attachedToRef="task">'
                 "<bpmn:messageEventDefinition/></bpmn:boundaryEvent>",
                 "boundary events other than timers", id="message-boundary"),
    pytest.param('<bpmn:boundaryEvent id="s" attachedToRef="task">'
                 "<bpmn:errorEventDefinition/></bpmn:boundaryEvent>",
                 "boundary events other than timers", id="error-boundary"),
    pytest.param('<bpmn:intermediateCatchEvent id="s"><bpmn:signalEventDefinition/>'
                 "</bpmn:intermediateCatchEvent>", "must be a timer", id="signal-catch"),
    pytest.param('<bpmn:startEvent id="s"><bpmn:timerEventDefinition/></bpmn:startEvent>',
                 "start and end events must be plain", id="timer-start"),
    pytest.param('<bpmn:endEvent id="s"><bpmn:terminateEventDefinition/></bpmn:endEvent>',
                 "start and end events must be plain", id="terminate-end"),
    pytest.param('<bpmn:userTask id="s"><bpmn:extensionElements><spiffworkflow:serviceTaskOperator'
                 ' id="x"><spiffworkflow:parameters/></spiffworkflow:serviceTaskOperator>'
                 "</bpmn:extensionElements></bpmn:userTask>",
                 "spiffworkflow:serviceTaskOperator is not supported", id="spiff-extension"),
]


@pytest.mark.parametrize(("body", "message"), REFUSED_ELEMENTS)
def test_unsupported_elements_are_refused_with_their_line(body: str, message: str) -> None:
    error = refused(document(body))
    assert (error.file, error.line) == (FILE, BODY_LINE)
    assert message in error.detail


def test_other_tools_extensions_are_inert_and_allowed() -> None:
    xml = document("").replace(
        b"</spiffworkflow:properties></bpmn:extensionElements>",
        b'</spiffworkflow:properties><camunda:formKey xmlns:camunda="http://camunda.org/schema/'
        b'1.0/bpmn">visit</camunda:formKey></bpmn:extensionElements>',
    )
    assert ProcessLibrary().add(xml, FILE) == ["p"]


def test_script_task_refused_with_file_and_line() -> None:
    xml = (DATA / "visits.bpmn").read_bytes().replace(
        b'    <bpmn:endEvent id="escalated"',
        b'    <bpmn:scriptTask id="leak"><bpmn:script>import os</bpmn:script></bpmn:scriptTask>\n'
        b'    <bpmn:endEvent id="escalated"',
    )
    error = refused(xml)
    assert str(error) == f"{FILE}:45: script tasks are not allowed: a pack cannot run code"


def test_unsafe_condition_is_refused_at_load() -> None:
    body = """\
    <bpmn:exclusiveGateway id="g" default="d"><bpmn:outgoing>c</bpmn:outgoing>
      <bpmn:outgoing>d</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:endEvent id="e1"><bpmn:incoming>c</bpmn:incoming><bpmn:incoming>d</bpmn:incoming>
      </bpmn:endEvent>
    <bpmn:sequenceFlow id="c" sourceRef="g" targetRef="e1">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">().__class__.__base__
      </bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="d" sourceRef="g" targetRef="e1"/>
    """
    error = refused(document(body))
    assert error.line == BODY_LINE + 5
    assert "condition '().__class__.__base__' is not allowed" in error.detail


def test_unsafe_timer_expression_is_refused_at_load() -> None:
    body = """\
    <bpmn:boundaryEvent id="b" attachedToRef="task"><bpmn:timerEventDefinition>
      <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">__import__('os')</bpmn:timeDuration>
    </bpmn:timerEventDefinition></bpmn:boundaryEvent>
    """
    error = refused(document(body))
    assert error.line == BODY_LINE + 1 and "timer expression" in error.detail


def test_condition_on_a_flow_from_a_task_is_refused() -> None:
    xml = document("").replace(
        b'<bpmn:sequenceFlow id="f2" sourceRef="task" targetRef="end"/>',
        b'<bpmn:sequenceFlow id="f2" sourceRef="task" targetRef="end"><bpmn:conditionExpression>'
        b"x</bpmn:conditionExpression></bpmn:sequenceFlow>",
    )
    assert "only allowed on flows leaving an exclusive gateway" in refused(xml).detail


def test_not_well_formed_names_the_line() -> None:
    error = refused(HEAD.encode() + b"  <bpmn:process id='p'>\n</bpmn:definitions>\n")
    assert error.file == FILE and error.line == 7
    assert error.detail.startswith("not well-formed XML")


def test_schema_errors_name_the_line() -> None:
    error = refused(document('<bpmn:userTask id="s" bogus="1"/>'))
    assert error.line == BODY_LINE and error.detail.startswith("not valid BPMN")


def test_not_a_bpmn_document() -> None:
    assert "not a BPMN 2.0 document" in refused(b"<html/>").detail


def test_pools_are_refused() -> None:
    xml = document("").replace(
        b'  <bpmn:process', b'  <bpmn:collaboration id="c"/>\n  <bpmn:process', 1)
    error = refused(xml)
    assert error.line == 6 and "pools (collaborations) are not supported" in error.detail


def test_external_entities_are_not_read() -> None:
    xml = (b'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
           + document("").split(b"\n", 1)[1].replace(b'name="P"', b'name="&x;"'))
    try:
        library = ProcessLibrary()
        library.add(xml, FILE)
    except PackError:
        return
    assert "root:" not in library.specs("p").title


def test_duplicate_process_id_across_files() -> None:
    library = ProcessLibrary()
    library.add(document(""), "processes/a.bpmn")
    with pytest.raises(PackError) as caught:
        library.add(document(""), "processes/b.bpmn")
    assert caught.value.file == "processes/b.bpmn" and caught.value.line == 6
    assert "process id 'p' is already used in processes/a.bpmn" in caught.value.detail


def test_call_to_a_missing_process_is_refused(library: ProcessLibrary) -> None:
    other = ProcessLibrary()
    other.add((DATA / "visits.bpmn").read_bytes(), "processes/visits.bpmn")
    with pytest.raises(PackError) as caught:
        other.specs("visits")
    assert (caught.value.file, caught.value.line) == ("processes/visits.bpmn", 53)
    assert "calls process 'followup', which is not in this pack" in caught.value.detail


def test_processes_calling_each_other_in_a_circle_are_refused() -> None:
    library = ProcessLibrary()
    for me, other in (("a", "b"), ("b", "a")):
        xml = document("").replace(
            b'<bpmn:endEvent id="end">',
            f'<bpmn:callActivity id="call" calledElement="{other}"><bpmn:incoming>f2'
            f'</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:callActivity>'
            f'<bpmn:sequenceFlow id="f3" sourceRef="call" targetRef="end"/>'
            f'<bpmn:endEvent id="end">'.encode(),
        ).replace(b'targetRef="end"/>\n  </bpmn', b'targetRef="call"/>\n  </bpmn').replace(
            b'id="p"', f'id="{me}"'.encode())
        library.add(xml, f"processes/{me}.bpmn")
    with pytest.raises(PackError) as caught:
        library.specs("a")
    assert "processes call each other in a circle (a -> b -> a)" in caught.value.detail


def test_loop_that_never_waits_is_refused() -> None:
    body = """\
    <bpmn:exclusiveGateway id="g1" default="back"><bpmn:incoming>back</bpmn:incoming>
      <bpmn:outgoing>on</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:exclusiveGateway id="g2" default="back"><bpmn:incoming>on</bpmn:incoming>
      <bpmn:outgoing>back</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="on" sourceRef="g1" targetRef="g2"/>
    <bpmn:sequenceFlow id="back" sourceRef="g2" targetRef="g1"/>
    """
    error = refused(document(body))
    assert "this loop never waits for a task or timer" in error.detail
    assert error.line in (BODY_LINE, BODY_LINE + 2)


def test_unknown_process_in_specs() -> None:
    with pytest.raises(PackError, match="there is no process 'nope'"):
        ProcessLibrary().specs("nope")


def test_errors_in_a_compiled_process_name_the_yaml_lines() -> None:
    text = textwrap.dedent("""\
        id: caller
        title: Caller
        steps:
          - task: first
            title: First
            form: f
            role: r
          - call: missing
            title: Missing
    """)
    model = parse_process(load_yaml(text, "processes/caller.yaml"), "processes/caller.yaml")
    library = ProcessLibrary()
    library.add(compile_to_bpmn(model), "processes/caller.yaml", lines=source_lines(model))
    assert library.graph("caller").nodes["first"].line == 4
    with pytest.raises(PackError) as caught:
        library.specs("caller")
    assert (caught.value.file, caught.value.line) == ("processes/caller.yaml", 8)
