"""A process's picture: the shapes and lines of its BPMN diagram (BPMN DI), and where an
instance has got to on it.

:func:`parse_diagram` reads one process of a BPMN document: each flow node's kind, name and
bounds (``bpmndi:BPMNShape``) and each sequence flow's waypoints (``bpmndi:BPMNEdge``). Every
process compiled from the YAML process language has a diagram (``engine/bpmn/writer.py``); a
hand-written document without one (or with shapes missing) is laid out here, left to right in
the order of the flow (``Diagram.layout`` is then ``"automatic"``).

:func:`element_states` says, for each element, whether an instance has ``completed`` it, is at it
now (``current``: a task waiting for someone, a timer waiting) or has ``not_reached`` it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree

from carepath.core.errors import PackError

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
DI_NS = "http://www.omg.org/spec/DD/20100524/DI"

COMPLETED = "completed"
CURRENT = "current"
NOT_REACHED = "not_reached"
STATES = (COMPLETED, CURRENT, NOT_REACHED)

_KINDS = {
    "startEvent": "start",
    "endEvent": "end",
    "userTask": "task",
    "manualTask": "task",
    "task": "task",
    "exclusiveGateway": "exclusive",
    "parallelGateway": "parallel",
    "inclusiveGateway": "exclusive",
    "callActivity": "call",
    "subProcess": "call",
    "intermediateCatchEvent": "timer",
    "intermediateThrowEvent": "event",
    "boundaryEvent": "boundary_timer",
}
# Kinds an instance can wait at: shown as "current" while they wait.
WAITING_KINDS = frozenset({"task", "call", "timer", "boundary_timer"})
_SIZES = {"start": (36, 36), "end": (36, 36), "timer": (36, 36), "event": (36, 36),
          "boundary_timer": (36, 36), "exclusive": (50, 50), "parallel": (50, 50),
          "task": (100, 80), "call": (100, 80)}
_COL_W, _ROW_H, _X0, _Y0 = 160, 130, 60, 80


@dataclass(frozen=True)
class Bounds:
    x: float
    y: float
    width: float
    height: float

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + self.width / 2, self.y + self.height / 2


@dataclass(frozen=True)
class DiagramNode:
    """A flow node: ``kind`` is start, end, task, call, timer, boundary_timer, exclusive,
    parallel or event."""

    id: str
    kind: str
    name: str | None
    bounds: Bounds
    attached_to: str | None = None  # a boundary event's task

    @property
    def label(self) -> str:
        return self.name or {"start": "Start", "end": "End"}.get(self.kind, "")


@dataclass(frozen=True)
class DiagramEdge:
    id: str
    source: str
    target: str
    name: str | None
    waypoints: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Diagram:
    """One process drawn: its nodes and flows in diagram coordinates. ``layout`` is
    ``"bpmn-di"`` (from the document) or ``"automatic"`` (the document had no diagram)."""

    process_id: str
    title: str
    nodes: tuple[DiagramNode, ...]
    edges: tuple[DiagramEdge, ...]
    layout: str = "bpmn-di"

    def node(self, node_id: str) -> DiagramNode | None:
        for node in self.nodes:
            if node.id == node_id:
                return node
        return None

    def box(self) -> tuple[float, float, float, float]:
        """(min x, min y, max x, max y) of everything drawn."""
        xs: list[float] = []
        ys: list[float] = []
        for node in self.nodes:
            xs += [node.bounds.x, node.bounds.x + node.bounds.width]
            ys += [node.bounds.y, node.bounds.y + node.bounds.height]
        for edge in self.edges:
            xs += [x for x, _ in edge.waypoints]
            ys += [y for _, y in edge.waypoints]
        if not xs:
            return 0.0, 0.0, 100.0, 100.0
        return min(xs), min(ys), max(xs), max(ys)


def _parser() -> Any:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           huge_tree=False, remove_comments=True)


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def parse_diagram(xml: bytes, process_id: str, file: str = "process.bpmn") -> Diagram:
    """The diagram of process ``process_id`` in the BPMN document ``xml``. Raises
    :class:`PackError` if the document cannot be read or has no such process."""
    try:
        root = etree.fromstring(xml, _parser())
    except etree.XMLSyntaxError as exc:
        raise PackError(f"the BPMN document cannot be read: {exc}", file) from None
    process = None
    for candidate in root.iter(_q(BPMN_NS, "process")):
        if candidate.get("id") == process_id:
            process = candidate
            break
    if process is None:
        raise PackError(f"the BPMN document has no process '{process_id}'", file)
    title = (process.get("name") or process_id).strip()

    kinds: dict[str, tuple[str, str | None, str | None]] = {}
    flows: list[tuple[str, str, str, str | None]] = []
    for element in process:
        if not isinstance(element.tag, str):
            continue
        qname = etree.QName(element)
        if qname.namespace != BPMN_NS:
            continue
        name = qname.localname
        element_id = element.get("id")
        if not element_id:
            continue
        if name == "sequenceFlow":
            source, target = element.get("sourceRef"), element.get("targetRef")
            if source and target:
                flows.append((element_id, source, target, element.get("name")))
            continue
        kind = _KINDS.get(name)
        if kind is None:
            continue
        if name == "intermediateCatchEvent" and \
                element.find(_q(BPMN_NS, "timerEventDefinition")) is None:
            kind = "event"
        label = element.get("name")
        kinds[element_id] = (kind, label.strip() if label else None,
                             element.get("attachedToRef"))

    shapes: dict[str, Bounds] = {}
    waypoints: dict[str, tuple[tuple[float, float], ...]] = {}
    for shape in root.iter(_q(BPMNDI_NS, "BPMNShape")):
        ref = shape.get("bpmnElement")
        bounds = shape.find(_q(DC_NS, "Bounds"))
        if ref is None or bounds is None:
            continue
        values = [_float(bounds.get(k)) for k in ("x", "y", "width", "height")]
        if all(v is not None for v in values):
            x, y, w, h = (float(v or 0) for v in values)
            shapes[ref] = Bounds(x, y, w, h)
    for edge in root.iter(_q(BPMNDI_NS, "BPMNEdge")):
        ref = edge.get("bpmnElement")
        points: list[tuple[float, float]] = []
        for point in edge.findall(_q(DI_NS, "waypoint")):
            px, py = _float(point.get("x")), _float(point.get("y"))
            if px is not None and py is not None:
                points.append((px, py))
        if ref is not None and len(points) >= 2:
            waypoints[ref] = tuple(points)

    layout = "bpmn-di"
    if not kinds or any(node_id not in shapes for node_id in kinds):
        shapes = _auto_layout(kinds, flows)
        waypoints = {}
        layout = "automatic"
    nodes = tuple(DiagramNode(node_id, kind, label, shapes[node_id], attached)
                  for node_id, (kind, label, attached) in kinds.items())
    edges = tuple(
        DiagramEdge(flow_id, source, target, name,
                    waypoints.get(flow_id) or _straight(shapes.get(source), shapes.get(target)))
        for flow_id, source, target, name in flows
        if source in shapes and target in shapes)
    return Diagram(process_id, title, nodes, edges, layout)


def _straight(source: Bounds | None, target: Bounds | None) -> tuple[tuple[float, float], ...]:
    if source is None or target is None:
        return ()
    sx, sy = source.centre
    tx, ty = target.centre
    if tx >= source.x + source.width:
        return ((source.x + source.width, sy), (target.x, ty))
    return ((sx, source.y + source.height), (tx, target.y + target.height))


def _auto_layout(kinds: Mapping[str, tuple[str, str | None, str | None]],
                 flows: Iterable[tuple[str, str, str, str | None]]) -> dict[str, Bounds]:
    """Columns by the longest path from a start (loops ignored), rows in order of discovery;
    a boundary event sits on the bottom edge of its task."""
    successors: dict[str, list[str]] = {node_id: [] for node_id in kinds}
    for _, source, target, _ in flows:
        if source in successors and target in kinds:
            successors[source].append(target)
    for node_id, (_, _, attached) in kinds.items():
        if attached in successors:
            successors[attached].append(node_id)
    starts = [n for n, (kind, _, _) in kinds.items() if kind == "start"] or list(kinds)[:1]
    # Depth-first order without back edges, then the longest path over what remains.
    order: list[str] = []
    state: dict[str, int] = {}
    back: set[tuple[str, str]] = set()
    for start in [*starts, *kinds]:
        if start in state:
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        state[start] = 1
        while stack:
            node_id, index = stack.pop()
            nexts = successors[node_id]
            if index < len(nexts):
                stack.append((node_id, index + 1))
                target = nexts[index]
                if state.get(target) == 1:
                    back.add((node_id, target))
                elif target not in state:
                    state[target] = 1
                    stack.append((target, 0))
            else:
                state[node_id] = 2
                order.append(node_id)
    order.reverse()
    column = dict.fromkeys(kinds, 0)
    for node_id in order:
        for target in successors[node_id]:
            if (node_id, target) not in back:
                # a boundary event stands on its task, in the task's column
                step = 0 if kinds[target][0] == "boundary_timer" else 1
                column[target] = max(column[target], column[node_id] + step)
    rows: dict[int, int] = {}
    shapes: dict[str, Bounds] = {}
    for node_id in order:
        kind, _, attached = kinds[node_id]
        if kind == "boundary_timer":
            continue
        col = column[node_id]
        row = rows.get(col, 0)
        rows[col] = row + 1
        width, height = _SIZES.get(kind, (36, 36))
        cx, cy = _X0 + col * _COL_W + 50, _Y0 + row * _ROW_H + 40
        shapes[node_id] = Bounds(cx - width / 2, cy - height / 2, width, height)
    for node_id, (_, _, attached) in kinds.items():
        if node_id in shapes:
            continue
        host = shapes.get(attached or "")
        if host is not None:
            shapes[node_id] = Bounds(host.x + host.width - 30, host.y + host.height - 18, 36, 36)
        else:
            shapes[node_id] = Bounds(_X0, _Y0 + (len(rows) + 1) * _ROW_H, 36, 36)
    return shapes


def element_states(diagram: Diagram,
                   task_states: Iterable[tuple[str, str, str]]) -> dict[str, str]:
    """Each node's and flow's state for an instance whose steps are ``task_states``: (process
    id, BPMN id, Spiff state name) as ``WorkflowInstance.task_states`` gives them. A step met
    more than once (a loop) is current if any pass is waiting, else completed if any pass
    completed."""
    seen: dict[str, set[str]] = {}
    for process_id, bpmn_id, state in task_states:
        if process_id == diagram.process_id:
            seen.setdefault(bpmn_id, set()).add(state.upper())
    states: dict[str, str] = {}
    for node in diagram.nodes:
        met = seen.get(node.id, set())
        if node.kind in WAITING_KINDS and met & {"READY", "WAITING", "STARTED"}:
            states[node.id] = CURRENT
        elif "COMPLETED" in met:
            states[node.id] = COMPLETED
        else:
            states[node.id] = NOT_REACHED
    for edge in diagram.edges:
        reached = states.get(edge.source) == COMPLETED and \
            states.get(edge.target) in (COMPLETED, CURRENT)
        states[edge.id] = COMPLETED if reached else NOT_REACHED
    return states
