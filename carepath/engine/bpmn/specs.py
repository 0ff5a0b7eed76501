"""BPMN documents of a pack -> SpiffWorkflow specs, with everything that could run code refused.

:class:`ProcessLibrary` holds the BPMN of one pack (files written by hand and files compiled from
the YAML process language alike). ``add`` checks a document before Spiff sees it: well-formed,
valid against the BPMN and spiffworkflow schemas, only the elements carepath supports (no
scripts, services, messages or data objects; :mod:`carepath.engine.bpmn.checks`), every condition
and timer expression in the safe language, no loop that could spin without waiting for a person or
a timer (:mod:`carepath.engine.bpmn.graph`). ``specs`` parses a process and the processes it
calls once and caches the result.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.task_parsers import GatewayParser
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.defaults import ParallelGateway
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from carepath.core.errors import PackError
from carepath.engine.bpmn.checks import (
    ALLOWED_PARTS,
    ALLOWED_TOP,
    BPMN_NS,
    BPMNDI_NS,
    DC_NS,
    NODE_KINDS,
    REFUSED,
    SPIFF_ALLOWED,
    SPIFF_NS,
    SPIFF_REFUSED,
    DocumentSource,
    check_document,
    element_line,
)
from carepath.engine.bpmn.graph import (
    ConditionInfo,
    GraphEdge,
    GraphNode,
    ProcessEntry,
    ProcessGraph,
    find_waitless_cycle,
    graph_successors,
    loop_message,
    read_process,
    waiting_nodes,
)

__all__ = [
    "ALLOWED_PARTS",
    "ALLOWED_TOP",
    "BPMNDI_NS",
    "BPMN_NS",
    "DC_NS",
    "NODE_KINDS",
    "REFUSED",
    "SPIFF_ALLOWED",
    "SPIFF_NS",
    "SPIFF_REFUSED",
    "ConditionInfo",
    "GraphEdge",
    "GraphNode",
    "ParallelJoin",
    "ProcessGraph",
    "ProcessLibrary",
    "ProcessSpecs",
    "TaskInfo",
    "find_waitless_cycle",
]

# Spiff logs every state change, and below INFO the records carry task data: personal data.
logging.getLogger("spiff").setLevel(logging.WARNING)

@dataclass(frozen=True)
class TaskInfo:
    """What the engine needs to know about one user task of a process."""

    bpmn_id: str
    title: str
    form: str | None
    role: str | None
    due: str | None


@dataclass(frozen=True)
class ProcessSpecs:
    """A parsed process with the processes it calls, ready to start workflows from.

    ``tasks`` and ``end_starts`` cover the process and, transitively, the processes it calls;
    where a called process uses the same id as the caller, the caller's entry is kept.
    ``spec`` and ``subprocess_specs`` are SpiffWorkflow objects (untyped; treat as opaque).
    ``locations`` maps the source of each condition and timer expression to where it is written
    ("file:line"), so that an error found while evaluating one can say where it is.
    """

    process_id: str
    title: str
    spec: Any
    subprocess_specs: dict[str, Any]
    tasks: dict[str, TaskInfo]
    end_starts: dict[str, str]
    conditions: list[ConditionInfo]
    locations: dict[str, str] = field(default_factory=dict)


class ParallelJoin(ParallelGateway):  # type: ignore[misc]
    """A parallel gateway whose join keeps what each branch *changed*.

    Spiff's join deep-merges the whole data of every branch in the order they finished, so a
    branch that did not touch a value still carries the value it had at the fork and, finishing
    last, puts the old value back; lists are merged as unions (a multichoice answer changed in
    one branch comes out as old and new codes together). Here each branch contributes only the
    values that differ from the data at the fork, replaced whole; if two branches change the
    same value, the one that finished last wins.
    """

    def _run_hook(self, my_task: Any) -> bool:
        # In a loop, the branches of earlier rounds hang off the join that fired last time;
        # only this round's branches (under that join, if any) take part.
        previous = my_task.parent
        while previous is not None and previous.task_spec != self:
            previous = previous.parent
        arrived = sorted(
            (
                t for t in my_task.workflow.tasks.values()
                if t.task_spec == self and t.has_state(TaskState.FINISHED_MASK)
                and not my_task.is_descendant_of(t)
                and (previous is None or t.is_descendant_of(previous))
            ),
            key=lambda t: t.last_state_change,
        )
        branch_ends = [t.parent for t in arrived] + [my_task.parent]
        base = _common_ancestor(branch_ends).data
        merged = copy.deepcopy(base)
        for end in branch_ends:
            for key, value in end.data.items():
                if key not in base or base[key] != value:
                    merged[key] = copy.deepcopy(value)
        for task in arrived:
            # As Spiff's own join: drop the branches that arrived earlier (they are done).
            if task.has_state(TaskState.COMPLETED):
                task._drop_children(force=True)
        my_task.data = merged
        return True


def _common_ancestor(tasks: list[Any]) -> Any:
    """The nearest task every one of ``tasks`` is (or descends from): the fork."""
    first, others = tasks[0], tasks[1:]
    candidate = first
    while candidate is not None:
        if all(t is candidate or t.is_descendant_of(candidate) for t in others):
            return candidate
        candidate = candidate.parent
    return first.workflow.task_tree


class _SpecParser(SpiffBpmnParser):  # type: ignore[misc]
    """Spiff's parser with carepath's parallel join."""

    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("parallelGateway"): (GatewayParser, ParallelJoin),
    }


class ProcessLibrary:
    """The BPMN processes of one pack."""

    def __init__(self) -> None:
        self._parser = _SpecParser(validator=VALIDATOR)
        self._entries: dict[str, ProcessEntry] = {}
        self._specs: dict[str, ProcessSpecs] = {}
        self._passes: dict[str, bool] = {}

    def process_ids(self) -> list[str]:
        return list(self._entries)

    def file_of(self, process_id: str) -> str:
        return self._entries[process_id].file

    def graph(self, process_id: str) -> ProcessGraph:
        return self._entries[process_id].graph

    def add(self, xml: bytes, file: str, lines: Mapping[str, int] | None = None) -> list[str]:
        """Check one BPMN document and add its processes; returns their ids.

        ``lines`` (element id -> line, see ``compiler.source_lines``) makes errors found after
        the XML checks name lines of ``file`` when the document was compiled from it.
        """
        source = DocumentSource(file, lines)
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
        try:
            root = etree.fromstring(xml, parser=parser)
        except etree.XMLSyntaxError as exc:
            raise PackError(f"not well-formed XML: {exc.msg}", file, exc.lineno or None) from None
        if etree.QName(root).text != f"{{{BPMN_NS}}}definitions":
            raise PackError("not a BPMN 2.0 document (the root must be bpmn:definitions)", file,
                            element_line(root))
        try:
            VALIDATOR.validate(root, file)
        except ValidationException as exc:
            line = exc.line_number if isinstance(exc.line_number, int) else None
            raise PackError(f"not valid BPMN: {exc}", file, line) from None

        processes = check_document(root, source)
        entries: dict[str, ProcessEntry] = {}
        for process in processes:
            process_id = process.get("id")
            if process_id in self._entries or process_id in entries:
                other = self._entries[process_id].file if process_id in self._entries else file
                raise source.error(f"process id '{process_id}' is already used in {other}",
                                   process)
            entries[process_id] = read_process(process, root, source)

        try:
            self._parser.add_bpmn_xml(root, filename=file)
            for process_id in entries:
                self._parser.get_spec(process_id)
        except ValidationException as exc:
            raise PackError(f"not a process carepath can run: {exc}", file,
                            _validation_line(exc, root, source)) from None
        except SpiffWorkflowException as exc:
            raise PackError(f"not a process carepath can run: {exc}", file) from None
        self._entries.update(entries)
        return list(entries)

    def specs(self, process_id: str) -> ProcessSpecs:
        """The parsed specs of a process and every process it calls (cached)."""
        cached = self._specs.get(process_id)
        if cached is not None:
            return cached
        if process_id not in self._entries:
            raise PackError(f"there is no process '{process_id}' in this pack")
        order = self._called_closure(process_id)
        self._check_calls_wait(process_id)
        try:
            spec = self._parser.get_spec(process_id)
            subprocess_specs = {pid: self._parser.get_spec(pid) for pid in order[1:]}
        except ValidationException as exc:
            raise PackError(f"not a process carepath can run: {exc}", self.file_of(process_id),
                            None) from None
        tasks: dict[str, TaskInfo] = {}
        end_starts: dict[str, str] = {}
        for each in [spec, *subprocess_specs.values()]:
            for task_spec in each.task_specs.values():
                properties = (getattr(task_spec, "extensions", None) or {}).get("properties", {})
                bpmn_id = getattr(task_spec, "bpmn_id", None)
                if bpmn_id is None:
                    continue
                if isinstance(task_spec, UserTask) and bpmn_id not in tasks:
                    tasks[bpmn_id] = TaskInfo(
                        bpmn_id=bpmn_id,
                        title=task_spec.bpmn_name or bpmn_id,
                        form=properties.get("form") or None,
                        role=properties.get("role") or None,
                        due=properties.get("due") or None,
                    )
                elif isinstance(task_spec, EndEvent) and properties.get("start"):
                    end_starts.setdefault(bpmn_id, properties["start"])
        entry = self._entries[process_id]
        locations: dict[str, str] = {}
        for pid in reversed(order):  # the caller's place wins for the same text
            locations.update(self._entries[pid].locations)
        specs = ProcessSpecs(
            process_id=process_id,
            title=entry.graph.title,
            spec=spec,
            subprocess_specs=subprocess_specs,
            tasks=tasks,
            end_starts=end_starts,
            conditions=list(entry.conditions),
            locations=locations,
        )
        self._specs[process_id] = specs
        return specs

    # -- checks -------------------------------------------------------------------------------

    def _called_closure(self, process_id: str) -> list[str]:
        """The process and every process it calls, transitively (caller first). Refuses calls to
        processes not in the library and processes that call themselves."""
        order: list[str] = []

        def visit(pid: str, chain: list[str]) -> None:
            if pid in chain:
                loop = " -> ".join([*chain[chain.index(pid):], pid])
                raise PackError(f"processes call each other in a circle ({loop})",
                                self.file_of(chain[-1]))
            if pid in order:
                return
            order.append(pid)
            for node in self._entries[pid].graph.nodes.values():
                if node.called is None:
                    continue
                if node.called not in self._entries:
                    known = ", ".join(sorted(self._entries)) or "none"
                    raise PackError(f"call activity '{node.id}' calls process '{node.called}', "
                                    f"which is not in this pack (found: {known})",
                                    self.file_of(pid), node.line)
                visit(node.called, [*chain, pid])

        visit(process_id, [])
        return order

    def _passes_without_waiting(self, process_id: str) -> bool:
        """Whether a run of the process can reach an end without waiting for anyone."""
        known = self._passes.get(process_id)
        if known is not None:
            return known
        graph = self._entries[process_id].graph
        waiting = waiting_nodes(graph, lambda pid: not self._passes_without_waiting(pid))
        seen = set(graph.start)
        todo = list(graph.start)
        while todo:
            node = graph.nodes[todo.pop()]
            if node.kind == "end":
                self._passes[process_id] = True
                return True
            for edge in node.outgoing:
                if edge.target not in seen and edge.target not in waiting:
                    seen.add(edge.target)
                    todo.append(edge.target)
        self._passes[process_id] = False
        return False

    def _check_calls_wait(self, process_id: str) -> None:
        for pid in self._called_closure(process_id):
            graph = self._entries[pid].graph
            waiting = waiting_nodes(graph, lambda called: not self._passes_without_waiting(called))
            cycle = find_waitless_cycle(graph_successors(graph), waiting)
            if cycle is not None:
                raise PackError(loop_message(cycle), graph.file, graph.nodes[cycle[0]].line)


def _validation_line(
    exc: ValidationException, root: Any, source: DocumentSource
) -> int | None:
    """Spiff's exceptions name the element id but not its line (lxml calls it sourceline)."""
    line = getattr(exc, "line_number", None)
    if isinstance(line, int) and line > 0:
        return line
    element_id = getattr(exc, "id", None)
    if element_id:
        for element in root.iter():
            if isinstance(element.tag, str) and element.get("id") == element_id:
                return source.line(element)
    return None
