"""The YAML process language: parse and check it, then compile it to BPMN 2.0 XML with a diagram.

``parse_process`` turns what :func:`carepath.engine.yamlsource.load_yaml` returned into a
:class:`ProcessModel`, refusing anything wrong with a :class:`PackError` that names the file and
line. ``compile_to_bpmn`` turns a model into one BPMN document that SpiffWorkflow runs and bpmn.io
or Camunda Modeler open (every node has a shape, every flow an edge).

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

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from carepath.engine.bpmn import find_waitless_cycle
from carepath.engine.errors import ExpressionError, PackError
from carepath.engine.expressions import compile_expression
from carepath.engine.process_model import (
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
from carepath.engine.yamlsource import SourceDict, SourceList

__all__ = ["ProcessModel", "compile_to_bpmn", "parse_process", "source_lines"]

ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
REF_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
# ISO 8601 durations as Spiff's timer parser accepts them (weeks stand alone).
DURATION_RE = re.compile(
    r"^P(?:\d+W|(?=\d|T\d)(?:\d+Y)?(?:\d+M)?(?:\d+D)?"
    r"(?:T(?=\d)(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d+)?S)?)?)$"
)
# Spiff names two task specs of every process "Start" and "End"; a step with that id would clash.
RESERVED_IDS = {"Start", "End"}

PROCESS_KEYS = ("id", "title", "description", "steps")
KINDS = ("task", "decision", "parallel", "call", "timer", "goto", "end")
STEP_KEYS: dict[str, tuple[str, ...]] = {
    "task": ("task", "title", "form", "role", "due"),
    "decision": ("decision", "title", "branches", "default"),
    "parallel": ("parallel", "title", "branches"),
    "call": ("call", "id", "title"),
    "timer": ("timer", "title", "duration", "until"),
    "goto": ("goto", "title"),
    "end": ("end", "title", "start"),
}
DECISION_BRANCH_KEYS = ("when", "title", "steps")
DEFAULT_BRANCH_KEYS = ("title", "steps")
PARALLEL_BRANCH_KEYS = ("title", "steps")

IMPLICIT_END = "process-end"
START_EVENT = "process-start"

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
DI_NS = "http://www.omg.org/spec/DD/20100524/DI"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NSMAP = {
    "bpmn": BPMN_NS,
    "bpmndi": BPMNDI_NS,
    "dc": DC_NS,
    "di": DI_NS,
    "xsi": XSI_NS,
    "spiffworkflow": SPIFF_NS,
}


# ---------------------------------------------------------------------------------------------
# Parsing and checking


def parse_process(data: Any, file: str) -> ProcessModel:
    """Check one process file (as loaded by ``load_yaml``) and return its model."""
    if not isinstance(data, dict):
        raise PackError("a process file must be a mapping with id, title and steps", file,
                        _line(data) or 1)
    parser = _Parser(file)
    return parser.process(data)


def _line(value: Any) -> int:
    return int(getattr(value, "line", 0) or 0)


def _key_line(data: Any, key: str) -> int:
    if isinstance(data, SourceDict):
        return data.line_of(key)
    return _line(data)


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


@dataclass
class _Scope:
    """Steps a goto at the current point may go back to: earlier steps of this list and of every
    enclosing list (the enclosing steps themselves included)."""

    visible: dict[str, int] = field(default_factory=dict)
    in_parallel: bool = False


class _Parser:
    def __init__(self, file: str) -> None:
        self.file = file
        self.ids: dict[str, int] = {}  # every step id seen so far -> its line
        self.later_gotos: list[tuple[str, int]] = []  # gotos whose target was not seen yet
        self.process_id = ""

    def error(self, message: str, line: int) -> PackError:
        return PackError(message, self.file, line or None)

    def check_keys(self, data: Mapping[str, Any], allowed: tuple[str, ...], what: str) -> None:
        for key in data:
            if key not in allowed:
                raise self.error(
                    f"unknown key '{key}' in {what}{_suggest(str(key), allowed)}; "
                    f"allowed: {', '.join(allowed)}",
                    _key_line(data, key),
                )

    def optional_text(self, data: Mapping[str, Any], key: str, what: str) -> str | None:
        if data.get(key) is None:
            return None
        value = data[key]
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"'{key}' of {what} must be text", _key_line(data, key))
        return value.strip()

    def text(self, data: Mapping[str, Any], key: str, what: str) -> str:
        value = self.optional_text(data, key, what)
        if value is None:
            raise self.error(f"{what} needs a '{key}'", _line(data))
        return value

    def identifier(self, data: Mapping[str, Any], key: str, what: str) -> str:
        value = data.get(key)
        if not isinstance(value, str) or not ID_RE.match(value):
            raise self.error(
                f"'{key}' of {what} must be an id: letters, digits and '_', starting with a "
                f"letter (got {value!r})",
                _key_line(data, key),
            )
        return value

    def reference(self, data: Mapping[str, Any], key: str, what: str) -> str | None:
        """A name of something else in the pack (form, role, timescale), if given."""
        if data.get(key) is None:
            return None
        value = data[key]
        if not isinstance(value, str) or not REF_RE.match(value):
            raise self.error(f"'{key}' of {what} must be a name without spaces (got {value!r})",
                             _key_line(data, key))
        return value

    def required_reference(self, data: Mapping[str, Any], key: str, what: str) -> str:
        value = self.reference(data, key, what)
        if value is None:
            raise self.error(f"{what} needs a '{key}'", _line(data))
        return value

    def expression(self, data: Mapping[str, Any], key: str, what: str) -> str:
        source = self.text(data, key, what)
        try:
            compile_expression(source)
        except ExpressionError as exc:
            raise self.error(f"'{key}' of {what} is not an allowed expression: {exc.message}",
                             _key_line(data, key)) from None
        return source

    # -- the process ------------------------------------------------------------------------

    def process(self, data: Mapping[str, Any]) -> ProcessModel:
        self.check_keys(data, PROCESS_KEYS, "the process")
        process_id = self.identifier(data, "id", "the process")
        self.process_id = process_id
        title = self.text(data, "title", "the process")
        description = self.optional_text(data, "description", "the process")
        steps_data = data.get("steps")
        if steps_data is None or (isinstance(steps_data, list) and not steps_data):
            raise self.error("the process has no steps", _key_line(data, "steps") or _line(data))
        steps = self.steps(steps_data, _Scope(), "the process")
        for target, line in self.later_gotos:
            if target in self.ids:
                raise self.error(
                    f"goto '{target}' goes forward (that step is on line {self.ids[target]}); "
                    "goto can only go back to an earlier step",
                    line,
                )
            raise self.error(f"goto '{target}': there is no step '{target}' in this process"
                             f"{_suggest(target, self.ids)}", line)
        model = ProcessModel(process_id, title, description, steps, self.file, _line(data) or 1)
        if not any(isinstance(s, EndStep) for s in model.walk()) and not _falls_through(steps):
            raise self.error("the process can never end: add an 'end' step", _line(data) or 1)
        _check_loops(model)
        return model

    def steps(self, data: Any, scope: _Scope, where: str) -> tuple[Step, ...]:
        if not isinstance(data, list):
            raise self.error(f"'steps' of {where} must be a list", _line(data))
        scope = _Scope(dict(scope.visible), scope.in_parallel)
        steps: list[Step] = []
        ended_by: Step | None = None
        for item in data:
            if ended_by is not None:
                raise self.error(
                    "this step can never be reached: the step before it "
                    + ("ends the process" if isinstance(ended_by, EndStep)
                       else "goes back to an earlier step" if isinstance(ended_by, GotoStep)
                       else f"('{_step_id(ended_by)}') ends in end or goto on every branch"),
                    _line(item) or _line(data),
                )
            step = self.step(item, scope)
            steps.append(step)
            if not _falls_through((step,)):
                ended_by = step
        return tuple(steps)

    def step(self, data: Any, scope: _Scope) -> Step:
        if not isinstance(data, dict):
            raise self.error("a step must be a mapping such as 'task: some_id'", _line(data))
        kinds = [k for k in KINDS if k in data]
        if not kinds:
            words = ", ".join(KINDS)
            hints = "".join(_suggest(str(k), KINDS) for k in data)
            raise self.error(f"a step must say what it is: one of {words}{hints}", _line(data))
        if len(kinds) > 1:
            raise self.error(f"a step can be only one of {', '.join(kinds)}",
                             _key_line(data, kinds[1]))
        kind = kinds[0]
        self.check_keys(data, STEP_KEYS[kind], f"a {kind} step")
        line = _key_line(data, kind)
        if kind == "goto":
            return self.goto(data, scope, line)

        if kind == "call":
            called = self.identifier(data, "call", "a call step")
            step_id = self.identifier(data, "id", "a call step") if "id" in data else called
        else:
            step_id = self.identifier(data, kind, f"a {kind} step")
        what = f"{kind} '{step_id}'"
        if step_id in RESERVED_IDS:
            raise self.error(f"'{step_id}' cannot be used as a step id (SpiffWorkflow reserves "
                             "it); choose another", line)
        if step_id == self.process_id:
            raise self.error(f"step id '{step_id}' is the id of the process; choose another", line)
        if step_id in self.ids:
            hint = " (give the call an 'id:')" if kind == "call" and "id" not in data else ""
            raise self.error(f"step id '{step_id}' is used twice (first on line "
                             f"{self.ids[step_id]}){hint}", line)
        self.ids[step_id] = line
        scope.visible[step_id] = line
        title = self.text(data, "title", what)

        if kind == "task":
            form = self.required_reference(data, "form", what)
            role = self.required_reference(data, "role", what)
            due = self.reference(data, "due", what)
            return TaskStep(step_id, title, form, role, due, line)
        if kind == "call":
            return CallStep(step_id, title, called, line)
        if kind == "end":
            if scope.in_parallel:
                raise self.error(f"{what} is inside a parallel branch; parallel branches cannot "
                                 "end the process", line)
            start = self.identifier(data, "start", what) if data.get("start") is not None else None
            return EndStep(step_id, title, start, line)
        if kind == "timer":
            return self.timer(data, step_id, title, line)
        if kind == "decision":
            return self.decision(data, step_id, title, line, scope)
        return self.parallel(data, step_id, title, line, scope)

    def goto(self, data: Mapping[str, Any], scope: _Scope, line: int) -> GotoStep:
        target = data.get("goto")
        if not isinstance(target, str) or not ID_RE.match(target):
            raise self.error(f"goto must name an earlier step (got {target!r})", line)
        if scope.in_parallel:
            raise self.error("goto is not allowed inside a parallel branch", line)
        title = self.optional_text(data, "title", f"goto '{target}'")
        if target not in scope.visible:
            if target in self.ids:
                raise self.error(
                    f"goto '{target}' jumps into a branch (that step is on line "
                    f"{self.ids[target]}); goto can only go back to an earlier step of this "
                    "list or of a list that encloses it",
                    line,
                )
            self.later_gotos.append((target, line))
        return GotoStep(target, title, line)

    def timer(self, data: Mapping[str, Any], step_id: str, title: str, line: int) -> TimerStep:
        what = f"timer '{step_id}'"
        has_duration = data.get("duration") is not None
        has_until = data.get("until") is not None
        if has_duration and has_until:
            raise self.error(f"{what} has both 'duration' and 'until'; give one, not both", line)
        if not has_duration and not has_until:
            raise self.error(f"{what} needs either 'duration' (such as \"P7D\") or 'until' "
                             "(an expression giving a date)", line)
        if has_duration:
            duration = data["duration"]
            if not isinstance(duration, str) or not DURATION_RE.match(duration.strip()):
                raise self.error(f"'duration' of {what} must be an ISO 8601 duration such as "
                                 f"\"P7D\" or \"PT12H\" (got {duration!r})",
                                 _key_line(data, "duration"))
            return TimerStep(step_id, title, duration.strip(), None, line)
        return TimerStep(step_id, title, None, self.expression(data, "until", what), line)

    def decision(
        self, data: Mapping[str, Any], step_id: str, title: str, line: int, scope: _Scope
    ) -> DecisionStep:
        what = f"decision '{step_id}'"
        branches_data = data.get("branches")
        if not isinstance(branches_data, list) or not branches_data:
            raise self.error(f"{what} needs 'branches': a list of {{when, steps}}",
                             _key_line(data, "branches"))
        if data.get("default") is None:
            raise self.error(f"{what} needs a 'default' branch (what happens when no 'when' "
                             "matches); use 'default: {steps: []}' to just continue", line)
        branches = []
        for item in branches_data:
            if not isinstance(item, dict):
                raise self.error(f"a branch of {what} must be a mapping with 'when' and 'steps'",
                                 _line(item) or _line(branches_data))
            self.check_keys(item, DECISION_BRANCH_KEYS, f"a branch of {what}")
            when = self.expression(item, "when", f"a branch of {what}")
            branches.append(self.branch(item, when, what, scope))
        default_data = data["default"]
        if not isinstance(default_data, dict):
            raise self.error(f"'default' of {what} must be a mapping with 'steps'",
                             _key_line(data, "default"))
        self.check_keys(default_data, DEFAULT_BRANCH_KEYS, f"the default of {what}")
        default = self.branch(default_data, None, what, scope)
        return DecisionStep(step_id, title, tuple(branches), default, line)

    def parallel(
        self, data: Mapping[str, Any], step_id: str, title: str, line: int, scope: _Scope
    ) -> ParallelStep:
        what = f"parallel '{step_id}'"
        branches_data = data.get("branches")
        if not isinstance(branches_data, list) or len(branches_data) < 2:
            raise self.error(f"{what} needs 'branches': a list of at least two {{steps}}",
                             _key_line(data, "branches"))
        inner = _Scope(dict(scope.visible), in_parallel=True)
        branches = []
        for item in branches_data:
            if not isinstance(item, dict):
                raise self.error(f"a branch of {what} must be a mapping with 'steps'",
                                 _line(item) or _line(branches_data))
            self.check_keys(item, PARALLEL_BRANCH_KEYS, f"a branch of {what}")
            branches.append(self.branch(item, None, what, inner))
        return ParallelStep(step_id, title, tuple(branches), line)

    def branch(self, data: Mapping[str, Any], when: str | None, what: str, scope: _Scope) -> Branch:
        title = self.optional_text(data, "title", f"a branch of {what}")
        if "steps" not in data:
            raise self.error(f"a branch of {what} needs 'steps' (use 'steps: []' for none)",
                             _line(data))
        steps = self.steps(data["steps"] if data["steps"] is not None else SourceList(),
                           scope, f"a branch of {what}")
        return Branch(when, title, steps, _line(data))


def _step_id(step: Step) -> str:
    return step.target if isinstance(step, GotoStep) else step.id


def _falls_through(steps: tuple[Step, ...]) -> bool:
    """Whether a path through these steps can carry on after the last one."""
    for step in steps:
        if isinstance(step, EndStep | GotoStep):
            return False
        if isinstance(step, DecisionStep) and not any(
            _falls_through(b.steps) for b in (*step.branches, step.default)
        ):
            return False
    return True


def _check_loops(model: ProcessModel) -> None:
    """Refuse a goto whose loop never waits for anyone: it would spin for ever on one request."""
    graph = _Builder(model).build()
    waits = {n.id for n in graph.nodes if n.kind in ("task", "timer", "call")}
    successors: dict[str, list[str]] = {n.id: [] for n in graph.nodes}
    for flow in graph.flows:
        successors[flow.source].append(flow.target)
    cycle = find_waitless_cycle(successors, waits)
    if cycle is None:
        return
    on_cycle = set(cycle)
    lines = [f.line for f in graph.flows
             if f.back and f.source in on_cycle and f.target in on_cycle]
    raise PackError(
        "this goto loops without any task or timer on the way, so it would never stop; "
        "put a task or timer between the step it goes back to and here",
        model.file,
        min(lines) if lines else model.line,
    )


# ---------------------------------------------------------------------------------------------
# Building the flow graph with its layout

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
class _Node:
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
class _Flow:
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
class _Graph:
    nodes: list[_Node]
    flows: list[_Flow]


class _Builder:
    def __init__(self, model: ProcessModel) -> None:
        self.model = model
        self.nodes: dict[str, _Node] = {}
        self.flows: list[_Flow] = []
        self.targets = {s.target for s in model.walk() if isinstance(s, GotoStep)}
        self.titles = {s.id: s.title for s in model.walk() if not isinstance(s, GotoStep)}

    def build(self) -> _Graph:
        self.add(_Node(START_EVENT, "start", None, 0, 0, self.model.line))
        outs, width, _ = self.steps(self.model.steps, [_Pending(START_EVENT)], 1, 0)
        if outs:
            self.add(_Node(IMPLICIT_END, "end", "End", 1 + width, 0, self.model.line))
            for pending in outs:
                self.connect(pending, IMPLICIT_END, self.model.line)
        return _Graph(list(self.nodes.values()), self.flows)

    def add(self, node: _Node) -> _Node:
        self.nodes[node.id] = node
        return node

    def connect(self, pending: _Pending, target: str, line: int, back: bool = False,
                name: str | None = None) -> None:
        flow = _Flow(f"flow-{len(self.flows) + 1}", pending.source, target,
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
            self.add(_Node(f"{step.id}-loop", "exclusive", None, col, row, step.line))
            for pending in pendings:
                self.connect(pending, f"{step.id}-loop", step.line)
            pendings = [_Pending(f"{step.id}-loop")]
            width = 1
            col += 1

        if isinstance(step, DecisionStep | ParallelStep):
            outs, w, h = self.split(step, pendings, col, row)
            return outs, width + w, h

        node = _Node(step.id, "task", step.title, col, row, step.line)
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
        self.add(_Node(step.id, kind, step.title, col, row, step.line))
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
                self.add(_Node(passing, "exclusive", None, col + 1, branch_row, branch.line))
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
        self.add(_Node(merge_id, kind, None, col + 1 + widest, row, step.line))
        for pending in outs:
            self.connect(pending, merge_id, step.line)
        return [_Pending(merge_id)], 2 + widest, height


# ---------------------------------------------------------------------------------------------
# BPMN XML


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def compile_to_bpmn(model: ProcessModel) -> bytes:
    """The BPMN 2.0 document (UTF-8 XML with a diagram) for a checked process."""
    graph = _Builder(model).build()
    nodes = {n.id: n for n in graph.nodes}
    flows = {f.id: f for f in graph.flows}

    root = etree.Element(_q(BPMN_NS, "definitions"), nsmap=NSMAP)
    root.set("id", f"{model.id}-definitions")
    root.set("targetNamespace", "http://carepath.example/bpmn")
    root.set("exporter", "carepath")
    root.set("exporterVersion", "1")
    process = etree.SubElement(root, _q(BPMN_NS, "process"), id=model.id, name=model.title,
                               isExecutable="true")
    if model.description:
        etree.SubElement(process, _q(BPMN_NS, "documentation")).text = model.description

    tags = {
        "start": "startEvent",
        "end": "endEvent",
        "task": "userTask",
        "call": "callActivity",
        "timer": "intermediateCatchEvent",
        "exclusive": "exclusiveGateway",
        "parallel": "parallelGateway",
    }
    for node in graph.nodes:
        element = etree.SubElement(process, _q(BPMN_NS, tags[node.kind]), id=node.id)
        if node.name:
            element.set("name", node.name)
        if node.called:
            element.set("calledElement", node.called)
        if node.default_flow:
            element.set("default", node.default_flow)
        if node.properties:
            extensions = etree.SubElement(element, _q(BPMN_NS, "extensionElements"))
            properties = etree.SubElement(extensions, _q(SPIFF_NS, "properties"))
            for key, value in node.properties.items():
                etree.SubElement(properties, _q(SPIFF_NS, "property"), name=key, value=value)
        for flow_id in node.incoming:
            etree.SubElement(element, _q(BPMN_NS, "incoming")).text = flow_id
        for flow_id in node.outgoing:
            etree.SubElement(element, _q(BPMN_NS, "outgoing")).text = flow_id
        if node.timer:
            definition = etree.SubElement(element, _q(BPMN_NS, "timerEventDefinition"),
                                          id=f"{node.id}-timer")
            expression = etree.SubElement(definition, _q(BPMN_NS, node.timer[0]))
            expression.set(_q(XSI_NS, "type"), "bpmn:tFormalExpression")
            expression.text = node.timer[1]

    for flow in graph.flows:
        element = etree.SubElement(process, _q(BPMN_NS, "sequenceFlow"), id=flow.id,
                                   sourceRef=flow.source, targetRef=flow.target)
        if flow.name:
            element.set("name", flow.name)
        if flow.condition is not None:
            condition = etree.SubElement(element, _q(BPMN_NS, "conditionExpression"))
            condition.set(_q(XSI_NS, "type"), "bpmn:tFormalExpression")
            condition.text = flow.condition

    _diagram(root, model.id, nodes, flows)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def source_lines(model: ProcessModel) -> dict[str, int]:
    """Line in the YAML file of every element of the compiled document (step ids, and the
    ids the compiler made up: gateways, flows), for ``ProcessLibrary.add(..., lines=...)``."""
    graph = _Builder(model).build()
    lines = {node.id: node.line for node in graph.nodes}
    lines.update({flow.id: flow.line for flow in graph.flows})
    lines[model.id] = model.line
    return lines


def _centre(node: _Node) -> tuple[int, int]:
    return X0 + node.col * COL_W + 50, Y0 + node.row * ROW_H + 40


def _bounds(node: _Node) -> tuple[int, int, int, int]:
    cx, cy = _centre(node)
    width, height = SIZES[node.kind]
    return cx - width // 2, cy - height // 2, width, height


def _waypoints(flow: _Flow, nodes: Mapping[str, _Node], bottom: int) -> list[tuple[int, int]]:
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


def _diagram(root: Any, process_id: str, nodes: Mapping[str, _Node],
             flows: Mapping[str, _Flow]) -> None:
    diagram = etree.SubElement(root, _q(BPMNDI_NS, "BPMNDiagram"), id=f"{process_id}-diagram")
    plane = etree.SubElement(diagram, _q(BPMNDI_NS, "BPMNPlane"), id=f"{process_id}-plane",
                             bpmnElement=process_id)
    for node in nodes.values():
        shape = etree.SubElement(plane, _q(BPMNDI_NS, "BPMNShape"), id=f"{node.id}-di",
                                 bpmnElement=node.id)
        if node.kind == "exclusive":
            shape.set("isMarkerVisible", "true")
        x, y, width, height = _bounds(node)
        etree.SubElement(shape, _q(DC_NS, "Bounds"), x=str(x), y=str(y), width=str(width),
                         height=str(height))
    lowest = max([node.row for node in nodes.values()]
                 + [flow.via_row for flow in flows.values() if flow.via_row is not None])
    bottom = Y0 + lowest * ROW_H + 40 + ROW_H // 2
    back_lane = 0
    for flow in flows.values():
        edge = etree.SubElement(plane, _q(BPMNDI_NS, "BPMNEdge"), id=f"{flow.id}-di",
                                bpmnElement=flow.id)
        lane = bottom
        if flow.back:
            lane = bottom + 20 * back_lane
            back_lane += 1
        for x, y in _waypoints(flow, nodes, lane):
            etree.SubElement(edge, _q(DI_NS, "waypoint"), x=str(x), y=str(y))
