"""What the walk (:mod:`.walker`) knows of a pack: worked out once, or looked up and kept.

:class:`WalkFacts` holds the pack's process graphs and what is read off them before the walk
(back flows, flows into each node, the names conditions, timers and ``show_if`` read, the
actions a path may take, the forms that close the case, the care stages), and the lookups the
walk repeats, memoized: a form's outcomes, a task's due date, a condition's truth.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from carepath.core.record_items import LOOKED_AFTER_NAMESPACES
from carepath.engine.check.paths import (
    NO_OUTCOME,
    LimitHit,
    Limits,
    StateGraph,
    back_flows,
    compiled,
    condition_names,
    flow_names,
    timer_names,
)
from carepath.engine.check.record_state import RecordState, record_reads
from carepath.engine.check.symbolic import Outcome, evaluate, form_outcomes, truth
from carepath.engine.pack import Pack

_MISSING: Any = object()


class WalkFacts:
    """What the walk knows of ``pack`` (see the module's docstring)."""

    def __init__(self, pack: Pack, limits: Limits) -> None:
        self.pack = pack
        self.limits = limits
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

    def form_outcomes(self, form_id: str | None, env: Mapping[str, Any], graph: StateGraph
                      ) -> list[Outcome]:
        """The outcomes of a form given the record names its ``show_if`` read in ``env`` (a
        limit reached is recorded on ``graph``)."""
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
                graph.truncated = True
                graph.limits.setdefault("outcomes", LimitHit(
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
