"""The actions (``actions:`` in pack.yaml) a path of the walk (:mod:`.walker`) may take.

An action starts its process while other work runs: :class:`ActionWalk` works out where one is
offered, which may be taken there (each at most once on a path, at most ``max_actions`` in
all), and how the work it interrupts waits (:class:`~.walk_state._Resume`).
"""

from __future__ import annotations

from carepath.engine.check.paths import Step
from carepath.engine.check.record_state import RecordState
from carepath.engine.check.walk_graph import GraphBuilder
from carepath.engine.check.walk_state import MAX_RUNS, Move, _Resume, _State


class ActionWalk(GraphBuilder):
    """Taking actions on a path (see the module's docstring)."""

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
                st.runs.get(p, 0) <= 1 for p in running & self.facts.care_processes))):
            return []
        moves: list[Move] = []
        for action in self.facts.actions:
            target = action.start
            assert target is not None
            if action.name in st.taken or target in running or \
                    st.runs.get(target, 0) >= MAX_RUNS or \
                    (extra and action.name not in self.facts.care_actions):
                continue
            holds = self.facts.holds(action.available.source, st.env)
            if holds is False or (extra and holds is not True):
                continue
            graph = self.facts.graphs[target]
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
