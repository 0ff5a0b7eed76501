"""The flow graph of a checked BPMN process, and the loops in it that would never wait.

:func:`read_process` reads a process that passed :mod:`carepath.engine.bpmn.checks` into a
:class:`ProcessGraph`: its flow nodes, their outgoing flows in the order Spiff tries them, and
every condition and timer expression compiled in the safe language. Loops that would spin
without waiting are found on it (:func:`find_waitless_cycle`) before anything runs, and
:mod:`carepath.engine.check` walks it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from carepath.core.errors import ExpressionError, PackError
from carepath.core.expressions.evaluator import compile_expression
from carepath.core.record_items import record_read_problem
from carepath.engine.bpmn.checks import (
    BPMN_NS,
    BPMNDI_NS,
    DC_NS,
    NODE_KINDS,
    SPIFF_NS,
    DocumentSource,
    namespace_and_name,
)


@dataclass(frozen=True)
class ConditionInfo:
    """One condition on a flow leaving an exclusive gateway."""

    flow_id: str
    gateway_id: str
    gateway_title: str
    source: str


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
class ProcessEntry:
    """A read process. ``locations`` maps the source of each condition and timer expression to
    where it is written ("file:line"), for errors found while evaluating it."""

    file: str
    graph: ProcessGraph
    conditions: list[ConditionInfo] = field(default_factory=list)
    locations: dict[str, str] = field(default_factory=dict)


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


def read_process(process: Any, root: Any, source: DocumentSource) -> ProcessEntry:
    """The graph of a checked process, with its expressions compiled."""
    file, line_of = source.file, source.line
    process_id = process.get("id")
    if process_id in ("Start", "End"):
        raise PackError(f"process id '{process_id}' is reserved by SpiffWorkflow", file,
                        line_of(process))
    positions = _positions(root)
    elements: dict[str, Any] = {}
    for element in process.iter(f"{{{BPMN_NS}}}*"):
        name = namespace_and_name(element)[1]
        if name in NODE_KINDS:
            node_id = element.get("id")
            if node_id in ("Start", "End"):
                raise PackError(f"'{node_id}' cannot be used as an element id "
                                "(SpiffWorkflow reserves it)", file, line_of(element))
            elements[node_id] = element

    outgoing: dict[str, list[tuple[float, GraphEdge]]] = {n: [] for n in elements}
    conditions: list[ConditionInfo] = []
    locations: dict[str, str] = {}

    def compiled(source: str, line: int | None, what: str) -> None:
        _compile(source, file, line, what)
        locations.setdefault(source, f"{file}:{line}" if line else file)

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
            if namespace_and_name(source_element)[1] != "exclusiveGateway":
                raise PackError("conditions are only allowed on flows leaving an exclusive "
                                "gateway", file, line_of(expression))
            compiled(condition, line_of(expression), "condition")
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
        if namespace_and_name(element)[1] != "exclusiveGateway":
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
                compiled((part.text or "").strip(), line_of(part), "timer expression")

    for node_id, element in elements.items():
        if namespace_and_name(element)[1] == "boundaryEvent":
            attached = element.get("attachedToRef")
            if attached not in outgoing:
                raise PackError(f"boundary event '{node_id}' is not attached to an "
                                "activity of this process", file, line_of(element))
            outgoing[attached].append((float("inf"), GraphEdge(node_id, None, False,
                                                               f"{node_id}-attached")))

    nodes: dict[str, GraphNode] = {}
    starts = []
    for node_id, element in elements.items():
        name = namespace_and_name(element)[1]
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
    cycle = find_waitless_cycle(graph_successors(graph), waiting_nodes(graph, lambda _: True))
    if cycle is not None:
        raise PackError(loop_message(cycle), file, nodes[cycle[0]].line)
    return ProcessEntry(file, graph, conditions, locations)


def _compile(source: str, file: str, line: int | None, what: str) -> None:
    try:
        expression = compile_expression(source)
    except ExpressionError as exc:
        raise PackError(f"{what} '{source}' is not allowed: {exc.message}", file, line) from None
    problem = record_read_problem(expression.paths)
    if problem is not None:
        raise PackError(f"{what} '{source}' reads {problem}", file, line)


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


def graph_successors(graph: ProcessGraph) -> dict[str, list[str]]:
    return {node_id: [e.target for e in node.outgoing] for node_id, node in graph.nodes.items()}


def waiting_nodes(graph: ProcessGraph, call_waits: Callable[[str], bool]) -> set[str]:
    """Nodes where a run stops until a person or the clock moves it on."""
    waiting = set()
    for node_id, node in graph.nodes.items():
        calls_and_waits = node.called is not None and call_waits(node.called)
        if node.kind in ("task", "timer") or (node.kind == "call" and calls_and_waits):
            waiting.add(node_id)
    return waiting


def loop_message(cycle: list[str]) -> str:
    path = " -> ".join([*cycle, cycle[0]])
    return (f"this loop never waits for a task or timer, so it would run for ever: {path}; put "
            "a user task or timer on it")
