"""The walk behind :mod:`.paths`: a pack's paths as a graph of states.

A state is where a path is (process, node, the calls it is inside, the processes waiting to
start) and what it knows (the answers gateway conditions read in the current run of a process,
which loops it has taken, whether the episode is closed, each observer's state). Two paths that
reach equal states carry on the same way, so each state is expanded once, breadth first: the
first path to reach a state is one of the shortest, and it is the one observers see. Parallel
blocks are walked branch by branch inside the expansion of the state where they fork; the state
after the join is a state like any other.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, Literal, NamedTuple

from carepath.core.record_items import LOOKED_AFTER_NAMESPACES, RECORD_NAMESPACES
from carepath.engine.bpmn.specs import GraphNode
from carepath.engine.check.paths import (
    NO_OUTCOME,
    Branch,
    EndKind,
    LimitHit,
    Limits,
    Notice,
    Observer,
    StateGraph,
    Step,
    StepKind,
    Trail,
    back_flows,
    compiled,
    condition_names,
    flow_names,
    timer_names,
)
from carepath.engine.check.record_state import RecordState, record_reads
from carepath.engine.check.symbolic import Outcome, evaluate, form_outcomes, truth
from carepath.engine.pack import Pack

MAX_RUNS = 2  # a process runs at most twice on a path: a loop through `start:` taken once
_MISSING: Any = object()

Move = tuple[str, str, "_State"]


class _State(NamedTuple):
    trail: Trail | None
    env: Mapping[str, Any]
    runs: Mapping[str, int]
    backs: frozenset[tuple[str, str]]
    frames: tuple[tuple[str, str], ...]
    pending: tuple[str, ...]
    branch: Branch
    floors: tuple[int, ...]
    joins: tuple[_Join, ...]
    closed: bool
    observed: tuple[Any, ...]
    suspended: tuple[_Resume, ...] = ()  # work an action interrupted, innermost last
    taken: frozenset[str] = frozenset()  # the actions taken on the path


class _Resume(NamedTuple):
    """Where the work an action interrupted waits: its task, its answers, its place."""

    pid: str
    node: str
    answers: frozenset[tuple[str, Any]]
    backs: frozenset[tuple[str, str]]
    frames: tuple[tuple[str, str], ...]
    pending: tuple[str, ...]


class _Join(NamedTuple):
    """A parallel block being walked: branch ``number`` is next; ``changes`` are what the
    branches before it changed; ``target`` is the join they reached."""

    block: int
    pid: str
    node: GraphNode
    fork: _State
    number: int
    changes: dict[str, Any]
    target: str | None


class _Walker:
    def __init__(self, pack: Pack, observers: Sequence[Observer], limits: Limits) -> None:
        self.pack = pack
        self.observers = tuple(observers)
        self.limits = limits
        self.max_states = limits.max_states
        self.graphs = {pid: pack.library.graph(pid) for pid in pack.library.process_ids()}
        self.backs = {pid: back_flows(g) for pid, g in self.graphs.items()}
        self.incoming: dict[tuple[str, str], int] = {}
        for pid, g in self.graphs.items():
            for node in g.nodes.values():
                for edge in node.outgoing:
                    key = (pid, edge.target)
                    self.incoming[key] = self.incoming.get(key, 0) + 1
        self.flow_names, timers = flow_names(pack)
        self.timer_reads = timer_names(timers)
        self.deciding = condition_names(pack).union(*self.timer_reads.values())
        # record names read by conditions, timers and show_if: followed along each path
        self.form_reads = {form.id: record_reads(p for f in form.fields if f.show_if
                                                 for p in f.show_if.paths)
                           for form in pack.forms.values()}
        # actions a path may take (``actions:`` in pack.yaml that start a process); a change
        # of worker leaves the record and the running work as they are: nothing to explore
        self.actions = [a for a in pack.actions.values()
                        if a.start is not None and a.start in self.graphs]
        # forms that close the case: while such a task waits, the closure comes first (an
        # action taken then would only be cancelled by it, or close the case itself)
        self.closing = frozenset(f.id for f in pack.forms.values()
                                 if any(x.record == "closure.date" and x.show_if is None
                                        for x in f.fields))
        action_reads = record_reads(p for a in self.actions for p in a.available.paths)
        # actions of the care stages (reading the looked-after record, as "Change of
        # placement" reads care.open): one may still be taken after the bound, where it surely
        # is available, so that what only a looked-after child can do is checked too
        self.care_actions = frozenset(
            a.name for a in self.actions
            if any(p.split(".")[0] in LOOKED_AFTER_NAMESPACES for p in a.available.paths))
        # ... and only at a task of the care stages (a process a care action starts, and what
        # that starts or calls) in its first run: the care work's own interleavings, not the
        # whole case's again
        self.care_processes = self.reached(
            {a.start for a in self.actions if a.name in self.care_actions and a.start})
        self.record = RecordState(record_reads(self.deciding).union(*self.form_reads.values(),
                                                                     action_reads))
        self.outcomes: dict[tuple[Any, ...], list[Outcome]] = {}
        self.dues: dict[tuple[str, str], str | None] = {}
        self.truths: dict[tuple[str, tuple[Any, ...]], Any] = {}
        self.graph = StateGraph()
        self.memo: dict[tuple[Any, ...], int] = {}
        self.queue: deque[tuple[str, str, _State, int]] = deque()
        self.inner: list[Move] = []
        self.current = 0
        self.blocks = 0

    # -- helpers ------------------------------------------------------------------------------

    def form_outcomes(self, form_id: str | None, env: Mapping[str, Any]) -> list[Outcome]:
        """The outcomes of a form given the record names its ``show_if`` read in ``env``."""
        reads = sorted(self.form_reads.get(form_id or "", ()))
        record = {n: env[n] for n in reads if n in env}
        try:
            key: tuple[Any, ...] = (form_id, *(record.get(n, _MISSING) for n in reads))
            found = self.outcomes.get(key)
        except TypeError:
            key, found = (), None
        if found is None:
            form = self.pack.forms.get(form_id or "")
            found = [NO_OUTCOME] if form is None else form_outcomes(
                form, self.deciding, self.pack.codelists, record, self.limits.max_outcomes)
            if len(found) > self.limits.max_outcomes:
                found = found[:self.limits.max_outcomes]
                self.graph.truncated = True
                self.graph.limits.setdefault("outcomes", LimitHit(
                    "outcomes of one form", self.limits.max_outcomes,
                    "--max-outcomes N (or CAREPATH_CHECK_MAX_OUTCOMES)",
                    f" (form '{form_id}' has more ways to be completed)"))
            if key:
                self.outcomes[key] = found
        return found

    def due(self, pid: str, node_id: str) -> str | None:
        key = (pid, node_id)
        if key not in self.dues:
            info = self.pack.library.specs(pid).tasks.get(node_id)
            self.dues[key] = info.due if info is not None else None
        return self.dues[key]

    def holds(self, source: str, env: Mapping[str, Any]) -> bool | None:
        """Whether condition ``source`` holds over ``env`` (None: it may or may not)."""
        expression = compiled(source)
        try:
            key = (source, tuple(env.get(n, _MISSING) for n in sorted(expression.paths)))
            found = self.truths.get(key, _MISSING)
        except TypeError:  # an unhashable value: work it out each time
            return truth(evaluate(expression, env))
        if found is _MISSING:
            found = self.truths[key] = truth(evaluate(expression, env))
        return found  # type: ignore[no-any-return]

    def add(self, st: _State, step: Step, **changes: Any) -> _State:
        """``st`` with ``step`` appended, as every observer sees it (and ``changes``)."""
        trail = Trail(step, st.trail)
        if step.kind != "task":
            return st._replace(trail=trail, **changes)
        observed = tuple(o.step(s, trail) for o, s in zip(self.observers, st.observed,
                                                          strict=True))
        return st._replace(trail=trail, observed=observed, **changes)

    def step(self, st: _State, pid: str, node: GraphNode, kind: StepKind,
             title: str | None = None, **extra: Any) -> Step:
        return Step(kind, title or node.title, pid, node.id, self.graphs[pid].file, node.line,
                    branch=st.branch, **extra)

    def notice(self, kind: Literal["undefined", "stuck", "unjoined"], st: _State, pid: str,
               node: GraphNode, names: tuple[str, ...] = ()) -> None:
        key = (kind, pid, node.id, names)
        found = self.graph.notices.get(key)
        length = st.trail.length if st.trail else 0
        if found is None or length < (found.trail.length if found.trail else 0):
            element = "gateway" if node.kind in ("exclusive", "parallel") else "timer"
            self.graph.notices[key] = Notice(kind, pid, node.id, node.title,
                                             self.graphs[pid].file, node.line, names, st.trail,
                                             element)

    def segment(self, st: _State) -> tuple[Step, ...]:
        assert st.trail is not None
        return st.trail.since(self.graph.states[self.current])

    def finish(self, st: _State, end: EndKind) -> None:
        assert st.trail is not None
        self.graph.ends[self.current].append((self.segment(st), end))
        for observer, state in zip(self.observers, st.observed, strict=True):
            observer.finish(state, st.trail, end)

    def go(self, moves: list[Move]) -> None:
        """Walk ``moves`` next: inside a parallel branch at once, otherwise as states."""
        for move in reversed(moves):
            if move[2].branch:
                self.inner.append(move)
        for pid, node_id, st in moves:
            if not st.branch:
                self.enqueue(pid, node_id, st)

    def enqueue(self, pid: str, node_id: str, st: _State) -> None:
        try:
            key: tuple[Any, ...] = (
                pid, node_id, frozenset(st.env.items()), frozenset(st.runs.items()), st.backs,
                st.frames, st.pending, st.closed, st.observed, st.suspended,
                # once no more actions may be taken, which were taken no longer matters
                st.taken if len(st.taken) < self.limits.max_actions else len(st.taken))
            known = self.memo.get(key)
        except TypeError:  # something unhashable: a state of its own
            key, known = (len(self.graph.states),), None
        graph = self.graph
        if known is None:
            if len(graph.states) >= self.max_states:
                graph.truncated = True
                graph.limits.setdefault("states", LimitHit(
                    "states", self.max_states, "--max-states N (or CAREPATH_CHECK_MAX_STATES)"))
                return
            known = self.memo[key] = len(graph.states)
            graph.states.append(st.trail)
            graph.succ.append([])
            graph.ends.append([])
            self.queue.append((pid, node_id, st, known))
        graph.succ[self.current].append((known, self.segment(st)))

    # -- the walk -----------------------------------------------------------------------------

    def run(self) -> StateGraph:
        start = self.pack.start
        if start not in self.graphs:
            return self.graph
        graph = self.graphs[start]
        first = Step("process", graph.title, start, graph.start[0], graph.file, 1)
        st = _State(None, self.record.initial(), {start: 1}, frozenset(), (), (), (), (), (), False,
                    tuple(o.begin() for o in self.observers))
        st = self.add(st, first)
        self.graph.states.append(st.trail)
        self.graph.succ.append([])
        self.graph.ends.append([])
        self.queue.append((start, graph.start[0], st, 0))
        while self.queue:
            pid, node_id, st, self.current = self.queue.popleft()
            self.visit(pid, node_id, st)
            while self.inner:
                self.visit(*self.inner.pop())
        return self.graph

    def visit(self, pid: str, node_id: str, st: _State) -> None:
        self.graph.reached.add((pid, node_id))
        node = self.graphs[pid].nodes[node_id]
        kind = node.kind
        if kind == "task":
            self.task(pid, node, st)
        elif kind == "exclusive":
            self.exclusive(pid, node, st)
        elif kind == "parallel":
            self.parallel(pid, node, st)
        elif kind == "call" and node.called in self.graphs:
            called = self.graphs[node.called]
            inner = self.add(st, self.step(st, pid, node, "call"),
                             frames=(*st.frames, (pid, node.id)))
            self.go([(node.called, called.start[0], inner)])
        elif kind == "end":
            self.end(pid, node, st)
        else:  # start, timer, boundary timer
            if kind in ("timer", "boundary_timer"):
                reads = sorted(n for n in self.timer_reads.get((pid, node.id), frozenset())
                               if "." not in n and n not in st.env)
                if reads:
                    self.notice("undefined", st, pid, node, tuple(reads))
                st = self.add(st, self.step(st, pid, node, "timer"))
            self.go(self.follow(pid, node, st))

    def follow(self, pid: str, node: GraphNode, st: _State, boundary: bool = False
               ) -> list[Move]:
        """The moves along each outgoing flow (boundary-timer flows only if ``boundary``)."""
        moves = []
        graph = self.graphs[pid]
        for edge in node.outgoing:
            if (graph.nodes[edge.target].kind == "boundary_timer") != boundary:
                continue
            if edge.flow_id in self.backs[pid]:
                if (pid, edge.flow_id) in st.backs:
                    continue
                moves.append((pid, edge.target,
                              st._replace(backs=st.backs | {(pid, edge.flow_id)})))
            else:
                moves.append((pid, edge.target, st))
        if not moves and not boundary:
            self.finish(st, "loop")
        return moves

    # -- actions ------------------------------------------------------------------------------

    def reached(self, starts: set[str]) -> frozenset[str]:
        """The processes in ``starts`` and every process they start or call."""
        found: set[str] = set()
        todo = [p for p in starts if p in self.graphs]
        while todo:
            pid = todo.pop()
            if pid in found:
                continue
            found.add(pid)
            for node in self.graphs[pid].nodes.values():
                for other in (node.starts, node.called):
                    if other and other in self.graphs and other not in found:
                        todo.append(other)
        return frozenset(found)

    def running(self, pid: str, st: _State) -> set[str]:
        """The processes with an instance running on the episode (a called process is part of
        its caller's instance)."""
        found = {st.frames[0][0] if st.frames else pid}
        found.update(r.frames[0][0] if r.frames else r.pid for r in st.suspended)
        return found

    def take_actions(self, st: _State, at: str, running: set[str],
                     resume: _Resume | None) -> list[Move]:
        """A move for each action that may be available on ``st``'s record: its process runs
        (with what it starts), then the work it interrupted (``resume``) carries on. Each action
        is taken at most once on a path, and at most ``max_actions`` in all."""
        bound = self.limits.max_actions
        extra = len(st.taken) >= bound
        if st.closed or len(st.taken) > bound or (extra and not (bound and any(
                st.runs.get(p, 0) <= 1 for p in running & self.care_processes))):
            return []
        moves: list[Move] = []
        for action in self.actions:
            target = action.start
            assert target is not None
            if action.name in st.taken or target in running or \
                    st.runs.get(target, 0) >= MAX_RUNS or \
                    (extra and action.name not in self.care_actions):
                continue
            holds = self.holds(action.available.source, st.env)
            if holds is False or (extra and holds is not True):
                continue
            graph = self.graphs[target]
            taken = self.add(st, Step("action", f"action {action.name} {at}", target,
                                      graph.start[0], graph.file, action.line or None))
            entered = self.add(taken, Step("process", graph.title, target, graph.start[0],
                                           graph.file, 1),
                               env=RecordState.carried(st.env), backs=frozenset(), frames=(),
                               pending=(), runs={**st.runs, target: st.runs.get(target, 0) + 1},
                               suspended=st.suspended if resume is None
                               else (*st.suspended, resume),
                               taken=st.taken | {action.name})
            moves.append((target, graph.start[0], entered))
        return moves

    @staticmethod
    def offers(pid: str, st: _State) -> bool:
        """Whether to take actions at a task (not at one that closes the case, see
        ``closing``): not when the record is as it was where they were
        last offered on this path — after a loop back in this run of the process, or when the
        task before it in this run recorded nothing (an action would find the same record;
        only where the interrupted work resumes would differ)."""
        if any(process == pid for process, _ in st.backs):
            return False
        link = st.trail
        while link is not None:
            step = link.step
            if step.kind in ("process", "action"):
                return True
            if step.kind == "task":
                return bool(step.outcome.filled())
            link = link.before
        return True

    def task(self, pid: str, node: GraphNode, st: _State) -> None:
        due = self.due(pid, node.id)
        moves = []
        if self.actions and not st.branch and self.offers(pid, st) and \
                node.form not in self.closing:
            answers = frozenset((k, v) for k, v in st.env.items() if "." not in k)
            moves += self.take_actions(st, f"at '{node.title}'", self.running(pid, st),
                                       _Resume(pid, node.id, answers, st.backs, st.frames,
                                               st.pending))
        for outcome in self.form_outcomes(node.form, st.env):
            step = self.step(st, pid, node, "task", form=node.form, outcome=outcome, due=due)
            values = {k: v for k, v in outcome.values.items() if k in self.deciding}
            if self.record:
                values.update(self.record.apply(st.env, outcome))
            after = self.add(st, step, env={**st.env, **values} if values else st.env,
                             closed=st.closed or "closure.date" in outcome.sure)
            moves += self.follow(pid, node, after)
        moves += self.follow(pid, node, st, boundary=True)
        self.go(moves)

    def exclusive(self, pid: str, node: GraphNode, st: _State) -> None:
        if len(node.outgoing) == 1 and node.outgoing[0].condition is None:
            self.go(self.follow(pid, node, st))
            return
        reads = sorted({n for e in node.outgoing if e.condition
                        for n in compiled(e.condition).names} - set(st.env) - RECORD_NAMESPACES)
        if reads:
            self.notice("undefined", st, pid, node, tuple(reads))
        taken = []
        decided = False
        for edge in node.outgoing:
            if edge.is_default or edge.condition is None:
                continue
            t = self.holds(edge.condition, st.env)
            if t is False:
                continue
            taken.append(edge)
            if t is True:
                decided = True
                break
        if not decided:
            taken += [e for e in node.outgoing if e.is_default]
        if not taken:
            self.notice("stuck", st, pid, node)
            self.finish(st, "stuck")
            return
        graph = self.graphs[pid]
        moves = []
        for edge in taken:
            if edge.flow_id in self.backs[pid] and (pid, edge.flow_id) in st.backs:
                continue
            label = self.flow_names.get((pid, edge.flow_id)) or graph.nodes[edge.target].title
            after = self.add(st, self.step(st, pid, node, "choice", f"{node.title}: {label}"))
            if edge.flow_id in self.backs[pid]:
                after = after._replace(backs=st.backs | {(pid, edge.flow_id)})
            moves.append((pid, edge.target, after))
        if not moves:
            self.finish(st, "loop")
        self.go(moves)

    def parallel(self, pid: str, node: GraphNode, st: _State) -> None:
        if self.incoming.get((pid, node.id), 0) > 1 and st.branch:
            self.arrived(st, node.id)
            return
        if len(node.outgoing) <= 1:
            self.go(self.follow(pid, node, st))
            return
        self.blocks += 1
        self.branch(_Join(self.blocks, pid, node, st, 0, {}, None), st)

    def branch(self, join: _Join, current: _State) -> None:
        """Walk branch ``join.number`` of a parallel block, or carry on after its join."""
        fork, edges = join.fork, join.node.outgoing
        if join.number == len(edges):
            assert join.target is not None
            merged = current._replace(env={**fork.env, **join.changes}, branch=fork.branch,
                                      floors=fork.floors, joins=fork.joins)
            self.go(self.follow(join.pid, self.graphs[join.pid].nodes[join.target], merged))
            return
        inner = current._replace(env=fork.env, branch=(*fork.branch, (join.block, join.number)),
                                 floors=(*fork.floors, len(fork.frames)),
                                 joins=(*fork.joins, join))
        self.go([(join.pid, edges[join.number].target, inner)])

    def arrived(self, reached: _State, where: str) -> None:
        """A branch reached join ``where``: walk the next branch from there."""
        join = reached.joins[-1]
        if join.target is not None and where != join.target:
            self.notice("unjoined", reached, join.pid, join.node)
            self.finish(reached, "stuck")
            return
        delta = {k: v for k, v in reached.env.items()
                 if k not in join.fork.env or join.fork.env[k] != v}
        self.branch(join._replace(number=join.number + 1, changes={**join.changes, **delta},
                                  target=where), reached)

    def end(self, pid: str, node: GraphNode, st: _State) -> None:
        if node.starts:
            st = st._replace(pending=(*st.pending, node.starts))
        floor = st.floors[-1] if st.floors else 0
        if len(st.frames) > floor:
            caller, call_id = st.frames[-1]
            back = st._replace(frames=st.frames[:-1])
            self.go(self.follow(caller, self.graphs[caller].nodes[call_id], back))
            return
        if st.branch:
            self.notice("unjoined", st, pid, node)
            self.finish(st, "stuck")
            return
        st = self.add(st, self.step(st, pid, node, "end"))
        if st.closed:
            self.finish(st, "end")  # a closure cancels any work still running
            return
        if not st.pending and st.suspended:
            # the work an action interrupted carries on, with the record as it is now
            waiting = st.suspended[-1]
            resumed = st._replace(env={**dict(waiting.answers), **RecordState.carried(st.env)},
                                  backs=waiting.backs, frames=waiting.frames,
                                  pending=waiting.pending, suspended=st.suspended[:-1])
            self.go([(waiting.pid, waiting.node, resumed)])
            return
        if not st.pending:
            self.finish(st, "end")
            if self.actions:  # nothing is running: an action may still be taken
                self.go(self.take_actions(st, f"after '{node.title}'", set(), None))
            return
        target, rest = st.pending[0], st.pending[1:]
        if target not in self.graphs or st.runs.get(target, 0) >= MAX_RUNS:
            self.finish(st, "loop")
            return
        graph = self.graphs[target]
        entered = self.add(st, Step("process", graph.title, target, graph.start[0], graph.file, 1),
                           env=RecordState.carried(st.env), runs={**st.runs, target: st.runs.get(target, 0) + 1},
                           backs=frozenset(), pending=rest)
        self.go([(target, graph.start[0], entered)])


def explore(pack: Pack, observers: Sequence[Observer] = (),
            limits: Limits | None = None) -> StateGraph:
    """Walk every path of ``pack`` once per state, showing each step to ``observers``."""
    return _Walker(pack, observers, limits or Limits()).run()
