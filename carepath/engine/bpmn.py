"""BPMN documents of a pack -> SpiffWorkflow specs, with everything that could run code refused.

:class:`ProcessLibrary` holds the BPMN of one pack (files written by hand and files compiled from
the YAML process language alike). ``add`` checks a document before Spiff sees it: well-formed,
valid against the BPMN and spiffworkflow schemas, only the elements carepath supports (no
scripts, services, messages or data objects), every condition and timer expression in the safe
language, no loop that could spin without waiting for a person or a timer. ``specs`` parses a
process and the processes it calls once and caches the result.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.task_parsers import GatewayParser
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.defaults import ParallelGateway
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from carepath.engine.errors import ExpressionError, PackError
from carepath.engine.expressions import compile_expression

# Spiff logs every state change, and below INFO the records carry task data: personal data.
logging.getLogger("spiff").setLevel(logging.WARNING)

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"

# Flow node tag -> the kind carepath calls it (also GraphNode.kind).
NODE_KINDS = {
    "startEvent": "start",
    "endEvent": "end",
    "userTask": "task",
    "exclusiveGateway": "exclusive",
    "parallelGateway": "parallel",
    "callActivity": "call",
    "intermediateCatchEvent": "timer",
    "boundaryEvent": "boundary_timer",
}
# Other BPMN elements allowed inside a process (structure, labels, lanes, timers).
ALLOWED_PARTS = {
    "sequenceFlow", "conditionExpression", "incoming", "outgoing", "documentation",
    "extensionElements", "laneSet", "lane", "childLaneSet", "flowNodeRef", "textAnnotation",
    "text", "association", "timerEventDefinition", "timeDuration", "timeDate", "timeCycle",
}
REFUSED = {
    "scriptTask": "script tasks are not allowed: a pack cannot run code",
    "serviceTask": "service tasks are not allowed: a pack cannot call services",
    "manualTask": "manual tasks are not supported: use a userTask with a form",
    "businessRuleTask": "business rule tasks (DMN) are not supported: use an exclusive gateway",
    "sendTask": "send tasks are not supported (no messages)",
    "receiveTask": "receive tasks are not supported (no messages)",
    "task": "plain tasks are not supported: use a userTask with a form and role",
    "subProcess": "embedded subprocesses are not supported: use a callActivity",
    "transaction": "transactions are not supported",
    "adHocSubProcess": "ad hoc subprocesses are not supported",
    "inclusiveGateway": "inclusive gateways are not supported: use exclusive or parallel",
    "eventBasedGateway": "event-based gateways are not supported",
    "complexGateway": "complex gateways are not supported",
    "intermediateThrowEvent": "throw events are not supported",
    "standardLoopCharacteristics": "loop tasks are not supported: start a new process instead",
    "multiInstanceLoopCharacteristics": "multi-instance tasks are not supported",
    "dataObject": "data objects are not supported: forms write to the case record",
    "dataObjectReference": "data objects are not supported: forms write to the case record",
    "dataStoreReference": "data stores are not supported",
    "ioSpecification": "data inputs and outputs are not supported",
    "dataInputAssociation": "data associations are not supported",
    "dataOutputAssociation": "data associations are not supported",
    "potentialOwner": "potentialOwner is not read: give the task a 'role' property",
    "humanPerformer": "humanPerformer is not read: give the task a 'role' property",
}
# Top-level children of bpmn:definitions we accept; anything else (messages, signals,
# collaborations/pools, data stores...) is a feature carepath does not support.
ALLOWED_TOP = {"process", "documentation", "extensionElements"}
SPIFF_ALLOWED = {"properties", "property"}
SPIFF_REFUSED = {
    "preScript": "pre-scripts are not allowed: a pack cannot run code",
    "postScript": "post-scripts are not allowed: a pack cannot run code",
}


@dataclass(frozen=True)
class TaskInfo:
    """What the engine needs to know about one user task of a process."""

    bpmn_id: str
    title: str
    form: str | None
    role: str | None
    due: str | None


@dataclass(frozen=True)
class ConditionInfo:
    """One condition on a flow leaving an exclusive gateway."""

    flow_id: str
    gateway_id: str
    gateway_title: str
    source: str


@dataclass(frozen=True)
class ProcessSpecs:
    """A parsed process with the processes it calls, ready to start workflows from.

    ``tasks`` and ``end_starts`` cover the process and, transitively, the processes it calls;
    where a called process uses the same id as the caller, the caller's entry is kept.
    ``spec`` and ``subprocess_specs`` are SpiffWorkflow objects (untyped; treat as opaque).
    """

    process_id: str
    title: str
    spec: Any
    subprocess_specs: dict[str, Any]
    tasks: dict[str, TaskInfo]
    end_starts: dict[str, str]
    conditions: list[ConditionInfo]


@dataclass(frozen=True)
class GraphEdge:
    """A sequence flow: ``condition`` is its expression source (None if unconditional)."""

    target: str
    condition: str | None
    is_default: bool
    flow_id: str


@dataclass(frozen=True)
class GraphNode:
    """A flow node. ``kind`` is one of start, end, task, exclusive, parallel, call, timer,
    boundary_timer. ``outgoing`` is in the order Spiff tries conditions (defaults last); a
    boundary timer appears as an extra outgoing edge of the activity it is attached to.
    """

    id: str
    kind: str
    title: str
    outgoing: tuple[GraphEdge, ...]
    called: str | None = None  # call: the process it runs
    starts: str | None = None  # end: the process it starts
    form: str | None = None  # task
    line: int | None = None


@dataclass(frozen=True)
class ProcessGraph:
    """The flow nodes of one process; ``start`` lists its start events."""

    process_id: str
    title: str
    file: str
    start: tuple[str, ...]
    nodes: Mapping[str, GraphNode]


@dataclass
class _Entry:
    file: str
    graph: ProcessGraph
    conditions: list[ConditionInfo] = field(default_factory=list)


def find_waitless_cycle(
    successors: Mapping[str, Iterable[str]], waits: Collection[str]
) -> list[str] | None:
    """A cycle that passes no node in ``waits`` (its nodes, in order), or None.

    Such a loop would run for ever inside one engine step: nothing in it waits for a person or
    the clock, and the data its conditions read cannot change.
    """
    white, grey, black = 0, 1, 2
    colour = {node: white for node in successors}
    for root in successors:
        if root in waits or colour[root] != white:
            continue
        path: list[str] = [root]
        stack: list[Iterator[str]] = [iter(successors[root])]
        colour[root] = grey
        while stack:
            step = next(stack[-1], None)
            if step is None:
                colour[path.pop()] = black
                stack.pop()
                continue
            if step in waits or step not in colour:
                continue
            if colour[step] == grey:
                return path[path.index(step):]
            if colour[step] == white:
                colour[step] = grey
                path.append(step)
                stack.append(iter(successors[step]))
    return None


class ParallelJoin(ParallelGateway):  # type: ignore[misc]
    """A parallel gateway whose join keeps what each branch *changed*.

    Spiff's join deep-merges the whole data of every branch in the order they finished, so a
    branch that did not touch a value still carries the value it had at the fork and, finishing
    last, puts the old value back; lists are merged as unions (a multichoice answer changed in
    one branch comes out as old and new codes together). Here each branch contributes only the
    values that differ from the data at the fork, replaced whole; if two branches change the
    same value, the one that finished last wins.
    """

    def _run_hook(self, my_task: Any) -> bool:
        # In a loop, the branches of earlier rounds hang off the join that fired last time;
        # only this round's branches (under that join, if any) take part.
        previous = my_task.parent
        while previous is not None and previous.task_spec != self:
            previous = previous.parent
        arrived = sorted(
            (
                t for t in my_task.workflow.tasks.values()
                if t.task_spec == self and t.has_state(TaskState.FINISHED_MASK)
                and not my_task.is_descendant_of(t)
                and (previous is None or t.is_descendant_of(previous))
            ),
            key=lambda t: t.last_state_change,
        )
        branch_ends = [t.parent for t in arrived] + [my_task.parent]
        base = _common_ancestor(branch_ends).data
        merged = copy.deepcopy(base)
        for end in branch_ends:
            for key, value in end.data.items():
                if key not in base or base[key] != value:
                    merged[key] = copy.deepcopy(value)
        for task in arrived:
            # As Spiff's own join: drop the branches that arrived earlier (they are done).
            if task.has_state(TaskState.COMPLETED):
                task._drop_children(force=True)
        my_task.data = merged
        return True


def _common_ancestor(tasks: list[Any]) -> Any:
    """The nearest task every one of ``tasks`` is (or descends from): the fork."""
    first, others = tasks[0], tasks[1:]
    candidate = first
    while candidate is not None:
        if all(t is candidate or t.is_descendant_of(candidate) for t in others):
            return candidate
        candidate = candidate.parent
    return first.workflow.task_tree


class _SpecParser(SpiffBpmnParser):  # type: ignore[misc]
    """Spiff's parser with carepath's parallel join."""

    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("parallelGateway"): (GatewayParser, ParallelJoin),
    }


def _local(element: Any) -> tuple[str, str]:
    qname = etree.QName(element)
    return qname.namespace or "", qname.localname


@dataclass(frozen=True)
class _Source:
    """Where a document came from. ``lines`` maps element ids to lines of another source the
    document was compiled from (a YAML process); without it, lines are the XML's own."""

    file: str
    lines: Mapping[str, int] | None = None

    def line(self, element: Any) -> int | None:
        if self.lines is None:
            return _line(element)
        while element is not None:
            found = self.lines.get(element.get("id") or "")
            if found:
                return found
            element = element.getparent()
        return None

    def error(self, message: str, element: Any) -> PackError:
        return PackError(message, self.file, self.line(element))


def _line(element: Any) -> int | None:
    line = getattr(element, "sourceline", None)
    return int(line) if line else None


class ProcessLibrary:
    """The BPMN processes of one pack."""

    def __init__(self) -> None:
        self._parser = _SpecParser(validator=VALIDATOR)
        self._entries: dict[str, _Entry] = {}
        self._specs: dict[str, ProcessSpecs] = {}
        self._passes: dict[str, bool] = {}

    def process_ids(self) -> list[str]:
        return list(self._entries)

    def file_of(self, process_id: str) -> str:
        return self._entries[process_id].file

    def graph(self, process_id: str) -> ProcessGraph:
        return self._entries[process_id].graph

    def add(self, xml: bytes, file: str, lines: Mapping[str, int] | None = None) -> list[str]:
        """Check one BPMN document and add its processes; returns their ids.

        ``lines`` (element id -> line, see ``compiler.source_lines``) makes errors found after
        the XML checks name lines of ``file`` when the document was compiled from it.
        """
        source = _Source(file, lines)
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
        try:
            root = etree.fromstring(xml, parser=parser)
        except etree.XMLSyntaxError as exc:
            raise PackError(f"not well-formed XML: {exc.msg}", file, exc.lineno or None) from None
        if etree.QName(root).text != f"{{{BPMN_NS}}}definitions":
            raise PackError("not a BPMN 2.0 document (the root must be bpmn:definitions)", file,
                            _line(root))
        try:
            VALIDATOR.validate(root, file)
        except ValidationException as exc:
            line = exc.line_number if isinstance(exc.line_number, int) else None
            raise PackError(f"not valid BPMN: {exc}", file, line) from None

        processes = self._check_document(root, source)
        entries: dict[str, _Entry] = {}
        for process in processes:
            process_id = process.get("id")
            if process_id in self._entries or process_id in entries:
                other = self._entries[process_id].file if process_id in self._entries else file
                raise source.error(f"process id '{process_id}' is already used in {other}",
                                   process)
            entries[process_id] = self._read_process(process, root, source)

        try:
            self._parser.add_bpmn_xml(root, filename=file)
            for process_id in entries:
                self._parser.get_spec(process_id)
        except ValidationException as exc:
            raise PackError(f"not a process carepath can run: {exc}", file,
                            _validation_line(exc, root, source)) from None
        except SpiffWorkflowException as exc:
            raise PackError(f"not a process carepath can run: {exc}", file) from None
        self._entries.update(entries)
        return list(entries)

    def specs(self, process_id: str) -> ProcessSpecs:
        """The parsed specs of a process and every process it calls (cached)."""
        cached = self._specs.get(process_id)
        if cached is not None:
            return cached
        if process_id not in self._entries:
            raise PackError(f"there is no process '{process_id}' in this pack")
        order = self._called_closure(process_id)
        self._check_calls_wait(process_id)
        try:
            spec = self._parser.get_spec(process_id)
            subprocess_specs = {pid: self._parser.get_spec(pid) for pid in order[1:]}
        except ValidationException as exc:
            raise PackError(f"not a process carepath can run: {exc}", self.file_of(process_id),
                            None) from None
        tasks: dict[str, TaskInfo] = {}
        end_starts: dict[str, str] = {}
        for each in [spec, *subprocess_specs.values()]:
            for task_spec in each.task_specs.values():
                properties = (getattr(task_spec, "extensions", None) or {}).get("properties", {})
                bpmn_id = getattr(task_spec, "bpmn_id", None)
                if bpmn_id is None:
                    continue
                if isinstance(task_spec, UserTask) and bpmn_id not in tasks:
                    tasks[bpmn_id] = TaskInfo(
                        bpmn_id=bpmn_id,
                        title=task_spec.bpmn_name or bpmn_id,
                        form=properties.get("form") or None,
                        role=properties.get("role") or None,
                        due=properties.get("due") or None,
                    )
                elif isinstance(task_spec, EndEvent) and properties.get("start"):
                    end_starts.setdefault(bpmn_id, properties["start"])
        entry = self._entries[process_id]
        specs = ProcessSpecs(
            process_id=process_id,
            title=entry.graph.title,
            spec=spec,
            subprocess_specs=subprocess_specs,
            tasks=tasks,
            end_starts=end_starts,
            conditions=list(entry.conditions),
        )
        self._specs[process_id] = specs
        return specs

    # -- checks -------------------------------------------------------------------------------

    def _check_document(self, root: Any, source: _Source) -> list[Any]:
        """Refuse every element carepath does not run; return the processes."""
        processes = []
        for child in root:
            if not isinstance(child.tag, str):
                continue  # comments, processing instructions
            namespace, name = _local(child)
            if namespace == BPMNDI_NS:
                continue
            if namespace != BPMN_NS or name not in ALLOWED_TOP:
                if name == "collaboration":
                    raise source.error("pools (collaborations) are not supported in carepath "
                                       "processes", child)
                raise source.error(f"'{name}' is not supported in carepath processes", child)
            if name == "process":
                if child.get("isExecutable") != "true":
                    raise source.error(f"process '{child.get('id')}' must be executable "
                                       "(isExecutable=\"true\")", child)
                processes.append(child)
        if not processes:
            raise source.error("the document has no process", root)
        for process in processes:
            for element in process.iter():
                if not isinstance(element.tag, str) or element is process:
                    continue
                self._check_element(element, source)
        return processes

    def _check_element(self, element: Any, source: _Source) -> None:
        namespace, name = _local(element)
        file, line = source.file, source.line(element)
        if namespace == SPIFF_NS:
            if name in SPIFF_REFUSED:
                raise PackError(SPIFF_REFUSED[name], file, line)
            if name not in SPIFF_ALLOWED:
                raise PackError(f"spiffworkflow:{name} is not supported in carepath processes",
                                file, line)
            return
        if namespace != BPMN_NS:
            # Other tools' extensions (camunda:, zeebe:...) inside extensionElements are inert:
            # Spiff never reads them. Anything else outside BPMN is refused.
            if _in_extensions(element):
                return
            raise PackError(f"'{element.tag}' is not supported in carepath processes", file,
                            line)
        if _in_extensions(element):
            return
        if name in REFUSED:
            raise PackError(REFUSED[name], file, line)
        if name not in NODE_KINDS and name not in ALLOWED_PARTS:
            raise PackError(f"bpmn:{name} is not supported in carepath processes", file, line)
        if name in ("startEvent", "endEvent", "intermediateCatchEvent", "boundaryEvent"):
            parts = [_local(c)[1] for c in element if isinstance(c.tag, str)]
            definitions = [
                p for p in parts if p.endswith("EventDefinition") or p == "eventDefinitionRef"
            ]
            if name in ("startEvent", "endEvent") and definitions:
                raise PackError(f"{name} with {definitions[0]} is not supported: start and end "
                                "events must be plain", file, line)
            if name == "intermediateCatchEvent" and definitions != ["timerEventDefinition"]:
                raise PackError("an intermediate catch event must be a timer", file, line)
            if name == "boundaryEvent" and definitions != ["timerEventDefinition"]:
                raise PackError("boundary events other than timers are not supported", file,
                                line)

    def _read_process(self, process: Any, root: Any, source: _Source) -> _Entry:
        """The graph of a checked process, with its expressions compiled."""
        file, line_of = source.file, source.line
        process_id = process.get("id")
        if process_id in ("Start", "End"):
            raise PackError(f"process id '{process_id}' is reserved by SpiffWorkflow", file,
                            line_of(process))
        positions = _positions(root)
        elements: dict[str, Any] = {}
        for element in process.iter(f"{{{BPMN_NS}}}*"):
            name = _local(element)[1]
            if name in NODE_KINDS:
                node_id = element.get("id")
                if node_id in ("Start", "End"):
                    raise PackError(f"'{node_id}' cannot be used as an element id "
                                    "(SpiffWorkflow reserves it)", file, line_of(element))
                elements[node_id] = element

        outgoing: dict[str, list[tuple[float, GraphEdge]]] = {n: [] for n in elements}
        conditions: list[ConditionInfo] = []
        for flow in process.iter(f"{{{BPMN_NS}}}sequenceFlow"):
            from_id, target = flow.get("sourceRef"), flow.get("targetRef")
            if from_id not in elements or target not in elements:
                raise PackError(f"sequence flow '{flow.get('id')}' does not connect two flow "
                                "nodes of this process", file, line_of(flow))
            source_element = elements[from_id]
            expression = flow.find(f"{{{BPMN_NS}}}conditionExpression")
            condition = None
            if expression is not None:
                condition = (expression.text or "").strip()
                if _local(source_element)[1] != "exclusiveGateway":
                    raise PackError("conditions are only allowed on flows leaving an exclusive "
                                    "gateway", file, line_of(expression))
                _compile(condition, file, line_of(expression), "condition")
                title = source_element.get("name") or from_id
                conditions.append(ConditionInfo(flow.get("id"), from_id, title, condition))
            is_default = source_element.get("default") == flow.get("id")
            if is_default and condition is not None:
                raise PackError(f"flow '{flow.get('id')}' is the default of gateway '{from_id}' "
                                "and so cannot have a condition (Spiff would ignore it)", file,
                                line_of(expression))
            y = positions.get(target, 0.0)
            outgoing[from_id].append((y, GraphEdge(target, condition or None, is_default,
                                                  flow.get("id"))))

        for element in elements.values():
            if _local(element)[1] != "exclusiveGateway":
                continue
            edges = outgoing[element.get("id")]
            if len(edges) == 1 and edges[0][1].condition is None:
                # Spiff takes a lone unconditional flow as the default.
                y, edge = edges[0]
                edges[0] = (y, GraphEdge(edge.target, None, True, edge.flow_id))
            for _, edge in edges:
                if edge.condition is None and not edge.is_default:
                    raise PackError(f"flow '{edge.flow_id}' leaves exclusive gateway "
                                    f"'{element.get('id')}' without a condition and is not its "
                                    "default", file, line_of(element))

        for element in process.iter(f"{{{BPMN_NS}}}timerEventDefinition"):
            for part in element:
                if isinstance(part.tag, str):
                    _compile((part.text or "").strip(), file, line_of(part), "timer expression")

        for node_id, element in elements.items():
            if _local(element)[1] == "boundaryEvent":
                attached = element.get("attachedToRef")
                if attached not in outgoing:
                    raise PackError(f"boundary event '{node_id}' is not attached to an "
                                    "activity of this process", file, line_of(element))
                outgoing[attached].append((float("inf"), GraphEdge(node_id, None, False,
                                                                   f"{node_id}-attached")))

        nodes: dict[str, GraphNode] = {}
        starts = []
        for node_id, element in elements.items():
            name = _local(element)[1]
            kind = NODE_KINDS[name]
            properties = _properties(element)
            # Spiff sorts a node's outgoing flows by the y of their targets (stable), then
            # tries conditions in that order; the default is taken only if none holds.
            edges = sorted(outgoing[node_id], key=lambda pair: pair[0])
            ordered = [e for _, e in edges if not e.is_default] + [
                e for _, e in edges if e.is_default
            ]
            nodes[node_id] = GraphNode(
                id=node_id,
                kind=kind,
                title=element.get("name") or node_id,
                outgoing=tuple(ordered),
                called=element.get("calledElement") if kind == "call" else None,
                starts=properties.get("start") if kind == "end" else None,
                form=properties.get("form") if kind == "task" else None,
                line=line_of(element),
            )
            if kind == "call" and not element.get("calledElement"):
                raise PackError(f"call activity '{node_id}' has no calledElement", file,
                                line_of(element))
            if kind == "start":
                starts.append(node_id)
        if len(starts) != 1:
            raise PackError(f"process '{process_id}' must have exactly one start event "
                            f"(found {len(starts)})", file, line_of(process))

        graph = ProcessGraph(process_id, process.get("name") or process_id, file, tuple(starts),
                             nodes)
        cycle = find_waitless_cycle(_successors(graph), _waiting(graph, lambda _: True))
        if cycle is not None:
            raise PackError(_loop_message(cycle), file, nodes[cycle[0]].line)
        return _Entry(file, graph, conditions)

    def _called_closure(self, process_id: str) -> list[str]:
        """The process and every process it calls, transitively (caller first). Refuses calls to
        processes not in the library and processes that call themselves."""
        order: list[str] = []

        def visit(pid: str, chain: list[str]) -> None:
            if pid in chain:
                loop = " -> ".join([*chain[chain.index(pid):], pid])
                raise PackError(f"processes call each other in a circle ({loop})",
                                self.file_of(chain[-1]))
            if pid in order:
                return
            order.append(pid)
            for node in self._entries[pid].graph.nodes.values():
                if node.called is None:
                    continue
                if node.called not in self._entries:
                    known = ", ".join(sorted(self._entries)) or "none"
                    raise PackError(f"call activity '{node.id}' calls process '{node.called}', "
                                    f"which is not in this pack (found: {known})",
                                    self.file_of(pid), node.line)
                visit(node.called, [*chain, pid])

        visit(process_id, [])
        return order

    def _passes_without_waiting(self, process_id: str) -> bool:
        """Whether a run of the process can reach an end without waiting for anyone."""
        known = self._passes.get(process_id)
        if known is not None:
            return known
        graph = self._entries[process_id].graph
        waiting = _waiting(graph, lambda pid: not self._passes_without_waiting(pid))
        seen = set(graph.start)
        todo = list(graph.start)
        while todo:
            node = graph.nodes[todo.pop()]
            if node.kind == "end":
                self._passes[process_id] = True
                return True
            for edge in node.outgoing:
                if edge.target not in seen and edge.target not in waiting:
                    seen.add(edge.target)
                    todo.append(edge.target)
        self._passes[process_id] = False
        return False

    def _check_calls_wait(self, process_id: str) -> None:
        for pid in self._called_closure(process_id):
            graph = self._entries[pid].graph
            waiting = _waiting(graph, lambda called: not self._passes_without_waiting(called))
            cycle = find_waitless_cycle(_successors(graph), waiting)
            if cycle is not None:
                raise PackError(_loop_message(cycle), graph.file, graph.nodes[cycle[0]].line)


def _compile(source: str, file: str, line: int | None, what: str) -> None:
    try:
        compile_expression(source)
    except ExpressionError as exc:
        raise PackError(f"{what} '{source}' is not allowed: {exc.message}", file, line) from None


def _in_extensions(element: Any) -> bool:
    parent = element.getparent()
    while parent is not None:
        if etree.QName(parent).text == f"{{{BPMN_NS}}}extensionElements":
            return True
        parent = parent.getparent()
    return False


def _properties(element: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for prop in element.iterfind(
        f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}properties/{{{SPIFF_NS}}}property"
    ):
        name = prop.get("name")
        if name:
            found[name] = prop.get("value") or ""
    return found


def _positions(root: Any) -> dict[str, float]:
    """Diagram y of each shape, as Spiff's parser reads it."""
    positions: dict[str, float] = {}
    for shape in root.iter(f"{{{BPMNDI_NS}}}BPMNShape"):
        bounds = shape.find(f"{{{DC_NS}}}Bounds")
        element_id = shape.get("bpmnElement")
        if bounds is not None and element_id:
            try:
                positions[element_id] = float(bounds.get("y", 0))
            except ValueError:
                positions[element_id] = 0.0
    return positions


def _successors(graph: ProcessGraph) -> dict[str, list[str]]:
    return {node_id: [e.target for e in node.outgoing] for node_id, node in graph.nodes.items()}


def _waiting(graph: ProcessGraph, call_waits: Callable[[str], bool]) -> set[str]:
    """Nodes where a run stops until a person or the clock moves it on."""
    waiting = set()
    for node_id, node in graph.nodes.items():
        calls_and_waits = node.called is not None and call_waits(node.called)
        if node.kind in ("task", "timer") or (node.kind == "call" and calls_and_waits):
            waiting.add(node_id)
    return waiting


def _loop_message(cycle: list[str]) -> str:
    path = " -> ".join([*cycle, cycle[0]])
    return (f"this loop never waits for a task or timer, so it would run for ever: {path}; put "
            "a user task or timer on it")


def _validation_line(exc: ValidationException, root: Any, source: _Source) -> int | None:
    """Spiff's exceptions name the element id but not its line (lxml calls it sourceline)."""
    line = getattr(exc, "line_number", None)
    if isinstance(line, int) and line > 0:
        return line
    element_id = getattr(exc, "id", None)
    if element_id:
        for element in root.iter():
            if isinstance(element.tag, str) and element.get("id") == element_id:
                return source.line(element)
    return None
