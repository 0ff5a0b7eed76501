"""The walk behind :mod:`.paths`: a pack's paths as a graph of states.

A state is where a path is (process, node, the calls it is inside, the processes waiting to
start) and what it knows (the answers gateway conditions read in the current run of a process,
which loops it has taken, whether the episode is closed, each observer's state). Two paths that
reach equal states carry on the same way, so each state is expanded once, breadth first: the
first path to reach a state is one of the shortest, and it is the one observers see. Parallel
blocks are walked branch by branch inside the expansion of the state where they fork; the state
after the join is a state like any other.

This module holds the walk itself (:func:`explore`, and how each kind of node expands a state);
the states are in :mod:`.walk_state`, what the walk knows of the pack in :mod:`.walk_facts`, the
building of the state graph in :mod:`.walk_graph` and the actions a path may take in
:mod:`.walk_actions`.
"""

from __future__ import annotations

from collections.abc import Sequence

from carepath.core.record_items import RECORD_NAMESPACES
from carepath.engine.bpmn.specs import GraphNode
from carepath.engine.check.paths import Limits, Observer, StateGraph, Step, compiled
from carepath.engine.check.record_state import RecordState
from carepath.engine.check.walk_actions import ActionWalk
from carepath.engine.check.walk_state import MAX_RUNS, Move, _Join, _Resume, _State
from carepath.engine.pack import Pack


class _Walker(ActionWalk):
    def __init__(self, pack: Pack, observers: Sequence[Observer], limits: Limits) -> None:
        super().__init__(pack, observers, limits)
        self.blocks = 0

    # -- the walk -----------------------------------------------------------------------------

    def run(self) -> StateGraph:
        start = self.pack.start
        if start not in self.facts.graphs:
            return self.graph
        graph = self.facts.graphs[start]
        first = Step("process", graph.title, start, graph.start[0], graph.file, 1)
        st = _State(None, self.facts.record.initial(), {start: 1}, frozenset(), (), (), (), (),
                    (), False, tuple(o.begin() for o in self.observers))
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
        node = self.facts.graphs[pid].nodes[node_id]
        kind = node.kind
        if kind == "task":
            self.task(pid, node, st)
        elif kind == "exclusive":
            self.exclusive(pid, node, st)
        elif kind == "parallel":
            self.parallel(pid, node, st)
        elif kind == "call" and node.called in self.facts.graphs:
            called = self.facts.graphs[node.called]
            inner = self.add(st, self.step(st, pid, node, "call"),
                             frames=(*st.frames, (pid, node.id)))
            self.go([(node.called, called.start[0], inner)])
        elif kind == "end":
            self.end(pid, node, st)
        else:  # start, timer, boundary timer
            if kind in ("timer", "boundary_timer"):
                reads = sorted(n for n in self.facts.timer_reads.get((pid, node.id), frozenset())
                               if "." not in n and n not in st.env)
                if reads:
                    self.notice("undefined", st, pid, node, tuple(reads))
                st = self.add(st, self.step(st, pid, node, "timer"))
            self.go(self.follow(pid, node, st))

    def follow(self, pid: str, node: GraphNode, st: _State, boundary: bool = False
               ) -> list[Move]:
        """The moves along each outgoing flow (boundary-timer flows only if ``boundary``)."""
        moves = []
        graph = self.facts.graphs[pid]
        for edge in node.outgoing:
            if (graph.nodes[edge.target].kind == "boundary_timer") != boundary:
                continue
            if edge.flow_id in self.facts.backs[pid]:
                if (pid, edge.flow_id) in st.backs:
                    continue
                moves.append((pid, edge.target,
                              st._replace(backs=st.backs | {(pid, edge.flow_id)})))
            else:
                moves.append((pid, edge.target, st))
        if not moves and not boundary:
            self.finish(st, "loop")
        return moves

    def task(self, pid: str, node: GraphNode, st: _State) -> None:
        due = self.facts.due(pid, node.id)
        moves = []
        if self.facts.actions and not st.branch and self.offers(pid, st) and \
                node.form not in self.facts.closing:
            answers = frozenset((k, v) for k, v in st.env.items() if "." not in k)
            moves += self.take_actions(st, f"at '{node.title}'", self.running(pid, st),
                                       _Resume(pid, node.id, answers, st.backs, st.frames,
                                               st.pending))
        for outcome in self.facts.form_outcomes(node.form, st.env, self.graph):
            step = self.step(st, pid, node, "task", form=node.form, outcome=outcome, due=due)
            values = {k: v for k, v in outcome.values.items() if k in self.facts.deciding}
            if self.facts.record:
                values.update(self.facts.record.apply(st.env, outcome))
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
            t = self.facts.holds(edge.condition, st.env)
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
        graph = self.facts.graphs[pid]
        moves = []
        for edge in taken:
            if edge.flow_id in self.facts.backs[pid] and (pid, edge.flow_id) in st.backs:
                continue
            label = self.facts.flow_names.get((pid, edge.flow_id)) or graph.nodes[edge.target].title
            after = self.add(st, self.step(st, pid, node, "choice", f"{node.title}: {label}"))
            if edge.flow_id in self.facts.backs[pid]:
                after = after._replace(backs=st.backs | {(pid, edge.flow_id)})
            moves.append((pid, edge.target, after))
        if not moves:
            self.finish(st, "loop")
        self.go(moves)

    def parallel(self, pid: str, node: GraphNode, st: _State) -> None:
        if self.facts.incoming.get((pid, node.id), 0) > 1 and st.branch:
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
            self.go(self.follow(join.pid, self.facts.graphs[join.pid].nodes[join.target], merged))
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
            self.go(self.follow(caller, self.facts.graphs[caller].nodes[call_id], back))
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
            if self.facts.actions:  # nothing is running: an action may still be taken
                self.go(self.take_actions(st, f"after '{node.title}'", set(), None))
            return
        target, rest = st.pending[0], st.pending[1:]
        if target not in self.facts.graphs or st.runs.get(target, 0) >= MAX_RUNS:
            self.finish(st, "loop")
            return
        graph = self.facts.graphs[target]
        entered = self.add(st, Step("process", graph.title, target, graph.start[0], graph.file, 1),
                           env=RecordState.carried(st.env), runs={**st.runs, target: st.runs.get(target, 0) + 1},
                           backs=frozenset(), pending=rest)
        self.go([(target, graph.start[0], entered)])


def explore(pack: Pack, observers: Sequence[Observer] = (),
            limits: Limits | None = None) -> StateGraph:
    """Walk every path of ``pack`` once per state, showing each step to ``observers``."""
    return _Walker(pack, observers, limits or Limits()).run()
