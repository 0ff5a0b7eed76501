"""The state graph the walk (:mod:`.walker`) builds, and the bookkeeping of building it.

:class:`GraphBuilder` adds each new state to the graph once (the states, their successors, the
paths that end in each, the notices of undefined names, stuck gateways and unjoined branches),
queues it to be expanded, and shows each step to the observers; the walk itself and the actions
it takes build on it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any, Literal

from carepath.engine.bpmn.specs import GraphNode
from carepath.engine.check.paths import (
    EndKind,
    LimitHit,
    Limits,
    Notice,
    Observer,
    StateGraph,
    Step,
    StepKind,
    Trail,
)
from carepath.engine.check.walk_facts import WalkFacts
from carepath.engine.check.walk_state import Move, _State
from carepath.engine.pack import Pack


class GraphBuilder:
    """The state graph of a walk of ``pack`` and the queue of its states to expand."""

    def __init__(self, pack: Pack, observers: Sequence[Observer], limits: Limits) -> None:
        self.pack = pack
        self.observers = tuple(observers)
        self.limits = limits
        self.max_states = limits.max_states
        self.facts = WalkFacts(pack, limits)
        self.graph = StateGraph()
        self.memo: dict[tuple[Any, ...], int] = {}
        self.queue: deque[tuple[str, str, _State, int]] = deque()
        self.inner: list[Move] = []
        self.current = 0

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
        return Step(kind, title or node.title, pid, node.id, self.facts.graphs[pid].file,
                    node.line, branch=st.branch, **extra)

    def notice(self, kind: Literal["undefined", "stuck", "unjoined"], st: _State, pid: str,
               node: GraphNode, names: tuple[str, ...] = ()) -> None:
        key = (kind, pid, node.id, names)
        found = self.graph.notices.get(key)
        length = st.trail.length if st.trail else 0
        if found is None or length < (found.trail.length if found.trail else 0):
            element = "gateway" if node.kind in ("exclusive", "parallel") else "timer"
            self.graph.notices[key] = Notice(kind, pid, node.id, node.title,
                                             self.facts.graphs[pid].file, node.line, names,
                                             st.trail, element)

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
