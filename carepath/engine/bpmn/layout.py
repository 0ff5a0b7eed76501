"""The flow graph a process compiles to, laid out on a grid for the BPMN diagram.

:class:`FlowGraphBuilder` turns a checked :class:`ProcessModel` into flow nodes (events, tasks,
gateways) and sequence flows, each placed in a column and row; :func:`shape_bounds` and
:func:`edge_waypoints` turn those places into diagram coordinates.

Decisions worth knowing when reading the output:

* A step list that does not end in ``end`` or ``goto`` falls through: after the last top-level
  step the compiler adds an implicit end event ``process-end`` titled "End".
* Ids the compiler invents all contain ``-`` (``process-start``, ``flow-3``, ``review-merge``),
  which step ids cannot, so they never collide with a step.
* Spiff orders the conditional flows of a gateway by the diagram y of their targets and takes the
  first that holds. Branches are therefore stacked top to bottom in file order, and a conditional
  branch that is empty or starts with ``goto`` gets a pass-through gateway on its own row, so
  "first matching branch in file order" is what runs.
* A step that a ``goto`` targets is entered through an exclusive merge gateway (``<id>-loop``):
  loops that enter a task directly make Spiff recurse (spiffworkflow-notes, finding 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from carepath.engine.process_language.model import (
    Branch,
    CallStep,
    DecisionStep,
    EndStep,
    GotoStep,
    ParallelStep,
    ProcessModel,
    Step,
    TaskStep,
    TimerStep,
)

IMPLICIT_END = "process-end"
START_EVENT = "process-start"

COL_W = 160
ROW_H = 130
X0 = 60
Y0 = 80
SIZES = {
    "start": (36, 36),
    "end": (36, 36),
    "timer": (36, 36),
    "task": (100, 80),
    "call": (100, 80),
    "exclusive": (50, 50),
    "parallel": (50, 50),
}


@dataclass
class FlowNode:
    id: str
    kind: str  # start, end, task, call, timer, exclusive, parallel
    name: str | None
    col: int
    row: int
    line: int
    properties: dict[str, str] = field(default_factory=dict)
    called: str | None = None
    timer: tuple[str, str] | None = None  # (timeDuration | timeDate, expression text)
    default_flow: str | None = None
    incoming: list[str] = field(default_factory=list)
    outgoing: list[str] = field(default_factory=list)


@dataclass
class SequenceFlow:
    id: str
    source: str
    target: str
    name: str | None
    condition: str | None
    line: int
    via_row: int | None = None  # route through this row (empty branches)
    back: bool = False  # a goto


@dataclass(frozen=True)
class _Pending:
    """An outgoing flow whose target is not known yet."""

    source: str
    condition: str | None = None
    name: str | None = None
    default: bool = False
    via_row: int | None = None


@dataclass
class FlowGraph:
    nodes: list[FlowNode]
    flows: list[SequenceFlow]


class FlowGraphBuilder:
    def __init__(self, model: ProcessModel) -> None:
        self.model = model
        self.nodes: dict[str, FlowNode] = {}
        self.flows: list[SequenceFlow] = []
        self.targets = {s.target for s in model.walk() if isinstance(s, GotoStep)}
        self.titles = {s.id: s.title for s in model.walk() if not isinstance(s, GotoStep)}

    def build(self) -> FlowGraph:
        self.add(FlowNode(START_EVENT, "start", None, 0, 0, self.model.line))
        outs, width, _ = self.steps(self.model.steps, [_Pending(START_EVENT)], 1, 0)
        if outs:
            self.add(FlowNode(IMPLICIT_END, "end", "End", 1 + width, 0, self.model.line))
            for pending in outs:
                self.connect(pending, IMPLICIT_END, self.model.line)
        return FlowGraph(list(self.nodes.values()), self.flows)

    def add(self, node: FlowNode) -> FlowNode:
        self.nodes[node.id] = node
        return node

    def connect(self, pending: _Pending, target: str, line: int, back: bool = False,
                name: str | None = None) -> None:
        flow = SequenceFlow(f"flow-{len(self.flows) + 1}", pending.source, target,
                     name if name is not None else pending.name, pending.condition, line,
                     pending.via_row, back)
        self.flows.append(flow)
        self.nodes[pending.source].outgoing.append(flow.id)
        self.nodes[target].incoming.append(flow.id)
        if pending.default:
            self.nodes[pending.source].default_flow = flow.id

    def steps(
        self, steps: tuple[Step, ...], pendings: list[_Pending], col: int, row: int
    ) -> tuple[list[_Pending], int, int]:
        """Lay out ``steps`` from (col, row); returns the open ends, width and height used."""
        width, height = 0, 1
        for step in steps:
            outs, w, h = self.step(step, pendings, col + width, row)
            pendings = outs
            width += w
            height = max(height, h)
        return pendings, width, height

    def step(
        self, step: Step, pendings: list[_Pending], col: int, row: int
    ) -> tuple[list[_Pending], int, int]:
        if isinstance(step, GotoStep):
            name = step.title or f"Back to {self.titles.get(step.target, step.target)}"
            for pending in pendings:
                self.connect(pending, f"{step.target}-loop", step.line, back=True, name=name)
            return [], 0, 1

        width = 0
        if step.id in self.targets:
            self.add(FlowNode(f"{step.id}-loop", "exclusive", None, col, row, step.line))
            for pending in pendings:
                self.connect(pending, f"{step.id}-loop", step.line)
            pendings = [_Pending(f"{step.id}-loop")]
            width = 1
            col += 1

        if isinstance(step, DecisionStep | ParallelStep):
            outs, w, h = self.split(step, pendings, col, row)
            return outs, width + w, h

        node = FlowNode(step.id, "task", step.title, col, row, step.line)
        if isinstance(step, TaskStep):
            node.properties = {"form": step.form, "role": step.role}
            if step.due:
                node.properties["due"] = step.due
        elif isinstance(step, CallStep):
            node.kind, node.called = "call", step.process
        elif isinstance(step, TimerStep):
            node.kind = "timer"
            if step.duration is not None:
                node.timer = ("timeDuration", f'"{step.duration}"')
            else:
                node.timer = ("timeDate", f"timer_date({step.until})")
        else:  # EndStep
            node.kind = "end"
            if step.start:
                node.properties = {"start": step.start}
        self.add(node)
        for pending in pendings:
            self.connect(pending, step.id, step.line)
        if isinstance(step, EndStep):
            return [], width + 1, 1
        return [_Pending(step.id)], width + 1, 1

    def split(
        self, step: DecisionStep | ParallelStep, pendings: list[_Pending], col: int, row: int
    ) -> tuple[list[_Pending], int, int]:
        kind = "exclusive" if isinstance(step, DecisionStep) else "parallel"
        self.add(FlowNode(step.id, kind, step.title, col, row, step.line))
        for pending in pendings:
            self.connect(pending, step.id, step.line)

        branches: list[tuple[Branch, bool]] = []
        if isinstance(step, DecisionStep):
            branches = [(b, False) for b in step.branches] + [(step.default, True)]
        else:
            branches = [(b, False) for b in step.branches]

        outs: list[_Pending] = []
        widest, branch_row = 0, row
        for index, (branch, is_default) in enumerate(branches, start=1):
            if isinstance(step, DecisionStep) and not is_default:
                pending = _Pending(step.id, condition=branch.when, name=branch.title or branch.when)
            elif is_default:
                pending = _Pending(step.id, name=branch.title or "Otherwise", default=True)
            else:
                pending = _Pending(step.id, name=branch.title)
            width = 0
            if not branch.steps:
                # An empty branch goes straight to the merge, routed along its own row.
                pending = _Pending(pending.source, pending.condition, pending.name,
                                   pending.default, via_row=branch_row)
            if pending.condition is not None and (
                not branch.steps or isinstance(branch.steps[0], GotoStep)
            ):
                # Keep conditions in file order: Spiff sorts them by the y of their target.
                passing = f"{step.id}-branch-{index}"
                self.add(FlowNode(passing, "exclusive", None, col + 1, branch_row, branch.line))
                self.connect(pending, passing, branch.line)
                pending, width = _Pending(passing), 1
            branch_outs, w, h = self.steps(branch.steps, [pending], col + 1 + width, branch_row)
            outs.extend(branch_outs)
            widest = max(widest, width + w)
            branch_row += h
        height = branch_row - row
        if not outs:
            return [], 1 + widest, height
        merge_id = f"{step.id}-merge" if kind == "exclusive" else f"{step.id}-join"
        self.add(FlowNode(merge_id, kind, None, col + 1 + widest, row, step.line))
        for pending in outs:
            self.connect(pending, merge_id, step.line)
        return [_Pending(merge_id)], 2 + widest, height


def _centre(node: FlowNode) -> tuple[int, int]:
    return X0 + node.col * COL_W + 50, Y0 + node.row * ROW_H + 40


def shape_bounds(node: FlowNode) -> tuple[int, int, int, int]:
    cx, cy = _centre(node)
    width, height = SIZES[node.kind]
    return cx - width // 2, cy - height // 2, width, height


def edge_waypoints(flow: SequenceFlow, nodes: Mapping[str, FlowNode], bottom: int) -> list[tuple[int, int]]:
    source, target = nodes[flow.source], nodes[flow.target]
    (sx, sy), (tx, ty) = _centre(source), _centre(target)
    s_w, s_h = SIZES[source.kind]
    t_w, t_h = SIZES[target.kind]
    if flow.back:
        # Gotos run along a lane under the whole diagram, back to the loop gateway.
        return [(sx, sy + s_h // 2), (sx, bottom), (tx, bottom), (tx, ty + t_h // 2)]
    if flow.via_row is not None and flow.via_row > max(source.row, target.row):
        # An empty branch: down from the split, along its own row, up into the merge.
        lane = Y0 + flow.via_row * ROW_H + 40
        return [(sx, sy + s_h // 2), (sx, lane), (tx, lane), (tx, ty + t_h // 2)]
    if sy == ty:
        return [(sx + s_w // 2, sy), (tx - t_w // 2, ty)]
    if ty > sy:  # down into a branch: leave from the bottom of the gateway
        return [(sx, sy + s_h // 2), (sx, ty), (tx - t_w // 2, ty)]
    # up into a merge or join: arrive at its bottom
    return [(sx + s_w // 2, sy), (tx, sy), (tx, ty + t_h // 2)]
