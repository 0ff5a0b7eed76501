"""The YAML process language: parse and check it, then compile it to BPMN 2.0 XML with a diagram.

``parse_process`` turns what :func:`carepath.core.yamlsource.load_yaml` returned into a
:class:`ProcessModel`, refusing anything wrong with a :class:`PackError` that names the file and
line. ``compile_to_bpmn`` (:mod:`carepath.engine.bpmn.writer`) turns a model into one BPMN
document that SpiffWorkflow runs and bpmn.io or Camunda Modeler open (every node has a shape, every
flow an edge); the flow graph it writes, and the decisions worth knowing when reading its output,
are in :mod:`carepath.engine.bpmn.layout`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from carepath.core.errors import ExpressionError, PackError
from carepath.core.expressions.evaluator import compile_expression
from carepath.core.record_items import record_read_problem
from carepath.core.yamlsource import SourceDict, SourceList
from carepath.engine.bpmn.graph import find_waitless_cycle
from carepath.engine.bpmn.layout import COL_W as COL_W
from carepath.engine.bpmn.layout import IMPLICIT_END as IMPLICIT_END
from carepath.engine.bpmn.layout import ROW_H as ROW_H
from carepath.engine.bpmn.layout import SIZES as SIZES
from carepath.engine.bpmn.layout import START_EVENT as START_EVENT
from carepath.engine.bpmn.layout import X0 as X0
from carepath.engine.bpmn.layout import Y0 as Y0
from carepath.engine.bpmn.layout import FlowGraphBuilder
from carepath.engine.bpmn.writer import BPMN_NS as BPMN_NS
from carepath.engine.bpmn.writer import BPMNDI_NS as BPMNDI_NS
from carepath.engine.bpmn.writer import DC_NS as DC_NS
from carepath.engine.bpmn.writer import DI_NS as DI_NS
from carepath.engine.bpmn.writer import NSMAP as NSMAP
from carepath.engine.bpmn.writer import SPIFF_NS as SPIFF_NS
from carepath.engine.bpmn.writer import XSI_NS as XSI_NS
from carepath.engine.bpmn.writer import compile_to_bpmn, source_lines
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

__all__ = ["ProcessModel", "compile_to_bpmn", "parse_process", "source_lines"]
# The constants imported above as themselves were defined here before the layout and the
# writer moved out; they stay importable from here for code written against that.

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
            expression = compile_expression(source)
        except ExpressionError as exc:
            raise self.error(f"'{key}' of {what} is not an allowed expression: {exc.message}",
                             _key_line(data, key)) from None
        problem = record_read_problem(expression.paths)
        if problem is not None:
            raise self.error(f"'{key}' of {what} reads {problem}", _key_line(data, key))
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
    graph = FlowGraphBuilder(model).build()
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
