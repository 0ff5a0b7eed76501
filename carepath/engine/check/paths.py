"""Every path a case can take through a pack, from the referral to every end.

A path starts at the pack's start process and follows the flows: a user task is completed in each
way its form allows (see :func:`~carepath.engine.check.symbolic.form_outcomes`), an exclusive
gateway takes each flow its conditions allow given the answers so far (the first true condition
wins, as in the engine), a call activity runs the called process inline, and a parallel block runs
each branch and then carries on after the join with what every branch recorded. An end event that
starts another process (``start:``) continues into that process with fresh data, as the runtime
does, unless the episode was closed on the way. Loops are taken zero or one time: a back flow
inside a process at most once per run of the process, and a process reached again through
``start:`` (recurring reviews, a second enquiry) at most once more on a path.

A path is the ordered list of its steps (tasks with the answers that decided the way on, gateway
choices, processes started) and how it ended. The walk (:mod:`.walker`) builds the paths as a
graph of states in which paths that reach the same state share what follows: each state is
expanded once, with the shortest path that reaches it, so observers (the record contract, the
timescale lint) check every path while looking at each state once, and :func:`enumerate_paths`
lists the paths themselves (at most ``MAX_PATHS``, saying so if there are more).
"""

from __future__ import annotations

import gc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from lxml import etree

from carepath.core.errors import ExpressionError
from carepath.core.expressions.evaluator import Expression, compile_expression
from carepath.engine.bpmn.specs import BPMN_NS, ProcessGraph
from carepath.engine.check.symbolic import MAX_OUTCOMES, Outcome
from carepath.engine.pack import Pack

MAX_PATHS = 20_000
MAX_STATES = 200_000
# Actions (pack.yaml `actions:`) taken on one path, each at most once: a bound of the model,
# like loops taken zero or one time, not a limit that stops the proof. Past it, one action of the
# care stages (reading the looked-after record) may still be taken where it surely is available,
# so that "Change of placement" is checked after "Child becomes looked after".
MAX_ACTIONS = 1
# Functions timer expressions may call (see carepath.engine.runtime.pack_functions).
TIMER_FUNCTIONS = frozenset({"working_days_after", "months_after", "days_after", "timer_date",
                             "today"})
_EXPRESSIONS: dict[str, Expression] = {}

StepKind = Literal["task", "choice", "process", "call", "timer", "end", "action"]
EndKind = Literal["end", "loop", "stuck"]
Branch = tuple[tuple[int, int], ...]
NO_OUTCOME = Outcome({}, frozenset(), frozenset(), frozenset(), {}, "")


@dataclass(frozen=True)
class Step:
    """One step of a path. ``branch`` names the parallel branches the step runs in, outermost
    first, as (block, branch index): steps in different branches of one block run in any order."""

    kind: StepKind
    title: str
    process: str
    node: str
    file: str
    line: int | None
    form: str | None = None
    outcome: Outcome = NO_OUTCOME
    due: str | None = None
    branch: Branch = ()

    def text(self) -> str:
        if self.kind == "task" and self.outcome.label:
            return f"{self.title} ({self.outcome.label})"
        if self.kind == "process":
            return f"[{self.title}]"
        if self.kind == "timer":
            return f"wait: {self.title}"
        return self.title

    @property
    def names_work(self) -> bool:
        """A task completed, or an action taken: what a path's list of steps names."""
        return self.kind in ("task", "action")


def concurrent_branches(a: Branch, b: Branch) -> bool:
    """Whether steps in parallel branches ``a`` and ``b`` may run in either order."""
    for x, y in zip(a, b, strict=False):
        if x != y:
            return x[0] == y[0]
    return False


def concurrent(a: Step, b: Step) -> bool:
    """Whether two steps are in different branches of one parallel block."""
    return concurrent_branches(a.branch, b.branch)


class Trail:
    """The steps of a path so far, newest last, sharing its beginning with other paths."""

    __slots__ = ("step", "before", "length")

    def __init__(self, step: Step, before: Trail | None) -> None:
        self.step = step
        self.before = before
        self.length: int = 1 + (before.length if before is not None else 0)

    def steps(self) -> tuple[Step, ...]:
        found: list[Step] = []
        link: Trail | None = self
        while link is not None:
            found.append(link.step)
            link = link.before
        return tuple(reversed(found))

    def since(self, start: Trail | None) -> tuple[Step, ...]:
        """The steps added after ``start`` (an earlier trail of the same path)."""
        found: list[Step] = []
        link: Trail | None = self
        while link is not None and link is not start:
            found.append(link.step)
            link = link.before
        return tuple(reversed(found))


def task_titles(steps: Sequence[Step]) -> tuple[str, ...]:
    """The titles of the tasks among ``steps``, in order, with the actions taken between them
    (``action start_section47 at 'Complete the assessment'``)."""
    return tuple(s.title for s in steps if s.names_work)


def route(steps: Sequence[Step]) -> tuple[str, ...]:
    """Every step as people read it: tasks with their deciding answers, choices, processes."""
    return tuple(s.text() for s in steps if s.kind != "end")


@dataclass(frozen=True)
class Path:
    steps: tuple[Step, ...]
    end: EndKind

    def tasks(self) -> tuple[str, ...]:
        """The titles of the tasks, in order."""
        return task_titles(self.steps)

    def forms(self) -> tuple[str, ...]:
        """The forms completed, in order."""
        return tuple(s.form for s in self.steps if s.kind == "task" and s.form)

    def route(self) -> tuple[str, ...]:
        return route(self.steps)


class Observer(Protocol):
    """Follows every path as it is built: ``step`` is shown each task completed (the newest
    step of ``trail``) and ``finish`` each end. States are hashable values: ``step`` returns a
    new one (paths whose states are equal share what follows, so equal states must mean the
    same)."""

    def begin(self) -> Any: ...

    def step(self, state: Any, trail: Trail) -> Any: ...

    def finish(self, state: Any, trail: Trail, end: EndKind) -> None: ...


@dataclass(frozen=True)
class Notice:
    """Something a path runs into: a condition reading a name no form on the path has set
    (``undefined``), a gateway no flow can leave (``stuck``), a parallel branch that ends
    without reaching the join (``unjoined``). ``trail`` is the path up to it."""

    kind: Literal["undefined", "stuck", "unjoined"]
    process: str
    node: str
    title: str
    file: str
    line: int | None
    names: tuple[str, ...]
    trail: Trail | None
    element: str = "gateway"  # what reads the names: "gateway" or "timer"


@dataclass(frozen=True)
class Limits:
    """How far a walk may go. Reaching a limit stops the proof: the result says so, with the
    option that raises it (``carepath pack check --max-states N --max-outcomes N``, or the
    environment variables ``CAREPATH_CHECK_MAX_STATES`` and ``CAREPATH_CHECK_MAX_OUTCOMES``)."""

    max_states: int = MAX_STATES
    max_outcomes: int = MAX_OUTCOMES
    max_actions: int = MAX_ACTIONS

    @classmethod
    def from_env(cls, environ: Mapping[str, str], max_states: int | None = None,
                 max_outcomes: int | None = None) -> Limits:
        """The limits given, else those in the environment, else the defaults."""
        def pick(given: int | None, name: str, default: int) -> int:
            if given is not None:
                return given
            text = environ.get(name, "").strip()
            return int(text) if text.isdigit() and int(text) > 0 else default

        return cls(pick(max_states, "CAREPATH_CHECK_MAX_STATES", MAX_STATES),
                   pick(max_outcomes, "CAREPATH_CHECK_MAX_OUTCOMES", MAX_OUTCOMES))


@dataclass(frozen=True)
class LimitHit:
    """A limit the walk reached: which, at what value, and how to raise it."""

    what: str  # e.g. "states"
    value: int
    option: str  # e.g. "--max-states N (or CAREPATH_CHECK_MAX_STATES)"
    detail: str = ""

    def text(self) -> str:
        return (f"could not check everything: the walk reached its limit of {self.value:,} "
                f"{self.what}{self.detail} — raise it with {self.option}")


@dataclass
class PathSet:
    """The paths of a pack: ``count`` of them in all; ``paths`` lists them when asked for (at
    most the bound, ``truncated`` if there are more)."""

    paths: list[Path]
    count: int = 0
    truncated: bool = False
    notices: list[Notice] = field(default_factory=list)
    reached: set[tuple[str, str]] = field(default_factory=set)
    states: int = 0
    limits: list[LimitHit] = field(default_factory=list)


def compiled(source: str) -> Expression:
    """A condition, compiled once."""
    found = _EXPRESSIONS.get(source)
    if found is None:
        found = _EXPRESSIONS[source] = compile_expression(source)
    return found


def condition_names(pack: Pack) -> frozenset[str]:
    """Every name a gateway condition of the pack reads."""
    names: set[str] = set()
    for pid in pack.library.process_ids():
        for node in pack.library.graph(pid).nodes.values():
            for edge in node.outgoing:
                if edge.condition:
                    names |= compiled(edge.condition).paths
    return frozenset(names)


def back_flows(graph: ProcessGraph) -> frozenset[str]:
    """Flows that close a loop (back edges of a depth-first walk from the start)."""
    backs: set[str] = set()
    colour: dict[str, int] = {}
    for start in graph.start:
        stack = [(start, iter(graph.nodes[start].outgoing))]
        colour[start] = 1
        while stack:
            node_id, edges = stack[-1]
            edge = next(edges, None)
            if edge is None:
                colour[node_id] = 2
                stack.pop()
                continue
            state = colour.get(edge.target, 0)
            if state == 1:
                backs.add(edge.flow_id)
            elif state == 0:
                colour[edge.target] = 1
                stack.append((edge.target, iter(graph.nodes[edge.target].outgoing)))
    return frozenset(backs)


def flow_names(pack: Pack) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], str]]:
    """From the pack's BPMN: (process, flow id) -> the flow's name (a branch title), and
    (process, timer node id) -> the expression of its timer."""
    names: dict[tuple[str, str], str] = {}
    timers: dict[tuple[str, str], str] = {}
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    for pid, (_, xml) in pack.bpmn.items():
        root = etree.fromstring(xml, parser=parser)
        for process in root.iter(f"{{{BPMN_NS}}}process"):
            if process.get("id") != pid:
                continue
            for flow in process.iter(f"{{{BPMN_NS}}}sequenceFlow"):
                if flow.get("name"):
                    names[(pid, flow.get("id"))] = flow.get("name")
            for timer in process.iter(f"{{{BPMN_NS}}}timerEventDefinition"):
                parts = [p for p in timer if isinstance(p.tag, str) and (p.text or "").strip()]
                node = timer.getparent()
                if parts and node is not None and node.get("id"):
                    timers[(pid, node.get("id"))] = (parts[0].text or "").strip()
    return names, timers


def timer_names(timers: Mapping[tuple[str, str], str]) -> dict[tuple[str, str], frozenset[str]]:
    """The names each timer's expression reads (timers whose expression does not compile read
    none: the pack loader has already refused those)."""
    found: dict[tuple[str, str], frozenset[str]] = {}
    for key, source in timers.items():
        try:
            found[key] = compile_expression(source, TIMER_FUNCTIONS).paths
        except ExpressionError:
            found[key] = frozenset()
    return found


class StateGraph:
    """The states of a walk: for each, the first path that reached it (``states``), the states
    it leads to with the steps on the way (``succ``), and the paths that end there (``ends``)."""

    def __init__(self) -> None:
        self.states: list[Trail | None] = []
        self.succ: list[list[tuple[int, tuple[Step, ...]]]] = []
        self.ends: list[list[tuple[tuple[Step, ...], EndKind]]] = []
        self.truncated = False
        self.limits: dict[str, LimitHit] = {}
        self.notices: dict[tuple[str, str, str, tuple[str, ...]], Notice] = {}
        self.reached: set[tuple[str, str]] = set()

    def notice_list(self) -> list[Notice]:
        return list(self.notices.values())

    def count(self) -> int:
        """How many paths there are (each state's count worked out once)."""
        counts: list[int | None] = [None] * len(self.states)
        for root in range(len(self.states)):
            stack = [root]
            while stack:
                i = stack[-1]
                if counts[i] is not None:
                    stack.pop()
                    continue
                todo = [j for j, _ in self.succ[i] if counts[j] is None]
                if todo:
                    stack.extend(todo)
                    continue
                counts[i] = len(self.ends[i]) + sum(counts[j] or 0 for j, _ in self.succ[i])
                stack.pop()
        return counts[0] or 0 if counts else 0

    def expand(self, limit: int) -> tuple[list[Path], bool]:
        """The paths themselves, at most ``limit`` of them (True if there are more)."""
        paths: list[Path] = []
        if not self.states or self.states[0] is None:
            return paths, False
        more = False

        def visit(i: int, before: tuple[Step, ...]) -> None:
            nonlocal more
            for steps, end in self.ends[i]:
                if len(paths) >= limit:
                    more = True
                    return
                paths.append(Path(before + steps, end))
            for j, steps in self.succ[i]:
                if more:
                    return
                visit(j, before + steps)

        visit(0, self.states[0].steps())
        return paths, more


def enumerate_paths(pack: Pack, observers: Sequence[Observer] = (),
                    max_paths: int = MAX_PATHS, keep_paths: bool = True,
                    limits: Limits | None = None) -> PathSet:
    """Every path through ``pack`` from its start process. ``observers`` follow each path;
    ``keep_paths`` lists the paths (at most ``max_paths``; ``truncated`` says if there are
    more), otherwise only their number is counted. ``limits`` bound the walk; each one reached
    is in ``limits`` of the result (and ``truncated`` is set)."""
    from carepath.engine.check.walker import explore

    # The walk makes many small objects and keeps them until it is done: the cyclic garbage
    # collector would scan them again and again for nothing. They are freed (by reference
    # counting) before it runs again.
    enabled = gc.isenabled()
    gc.disable()
    try:
        graph = explore(pack, observers, limits or Limits())
        paths: list[Path] = []
        truncated = graph.truncated
        if keep_paths:
            paths, more = graph.expand(max_paths)
            truncated = truncated or more
        result = PathSet(paths, graph.count(), truncated, graph.notice_list(), graph.reached,
                         len(graph.states), list(graph.limits.values()))
        del graph
        return result
    finally:
        if enabled:
            gc.enable()
