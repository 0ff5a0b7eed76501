"""carepath's SpiffWorkflow classes: workflows whose task-tree walks have no depth limit, and
the serializer of their state.

Spiff's task iterators stop at depth 1000, and each round of a loop adds two to four levels:
past 250-500 rounds the READY task becomes invisible and ``is_completed()`` turns True without
an error (spiffworkflow-notes, finding 1). Processes are meant to be small; this is insurance.
The walk for the engine's plain queries (a state mask, manual or not) is carepath's own: Spiff
rebuilds a list at every step of its iterator, and the engine walks the tree several times for
every task it runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.task_spec import ParallelGatewayConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnSubWorkflowConverter,
    BpmnWorkflowConverter,
    WorkflowConverter,
)
from SpiffWorkflow.bpmn.serializer.helpers.encoder import create_encoder
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from carepath.engine.bpmn.specs import ParallelJoin

MAX_DEPTH = 1_000_000  # what carepath gives Spiff's own iterators for their depth limit

PLAIN_FILTER = frozenset({"state", "manual"})


def tasks_in_tree_order(workflow: Any, first: Any, state: int, manual: bool | None,
                        into_called: bool = True) -> Iterator[Any]:
    """What ``BpmnTaskIterator(first, state=state, manual=manual)`` yields (depth first,
    called processes' tasks under the task that calls them), without its depth limit and with
    a stack instead of its list rebuilt at every step: the engine asks this several times
    for every task it runs (the profile of ``carepath simulate`` had it at a fifth).
    ``into_called`` False: this workflow's own tasks only (Spiff's plain ``TaskIterator``)."""
    if state & TaskState.PREDICTED_MASK:
        min_state = TaskState.MAYBE
    elif state & TaskState.DEFINITE_MASK:
        min_state = TaskState.FUTURE
    else:
        min_state = TaskState.COMPLETED
    subprocesses = workflow.top_workflow.subprocesses if into_called else None
    stack = [first]
    while stack:
        task = stack.pop()
        subprocess = subprocesses.get(task.id) if subprocesses else None
        if subprocess is not None or (task._children and task.state >= min_state):
            tasks = task.workflow.tasks
            below = [tasks.get(child) for child in task._children]  # Task.children, inlined
            # as Spiff: never into a finished called process to look for unfinished tasks
            if subprocess is not None and not (task.state >= TaskState.FINISHED_MASK
                                               and state <= TaskState.FINISHED_MASK):
                below = [subprocess.task_tree, *below]
            stack.extend(reversed(below))
        if task.state & state and (manual is None or task.task_spec.manual == manual):
            yield task


class DeepIteration:
    """Iterators and completion checks without Spiff's depth limit of 1000."""

    task_tree: Any
    completed: bool

    def get_tasks_iterator(self, first_task: Any = None, **kwargs: Any) -> Any:
        if kwargs.keys() <= PLAIN_FILTER:
            return tasks_in_tree_order(self, first_task or self.task_tree,
                                       kwargs.get("state", TaskState.ANY_MASK),
                                       kwargs.get("manual"))
        kwargs.setdefault("max_depth", MAX_DEPTH)
        return BpmnTaskIterator(first_task or self.task_tree, **kwargs)

    def update_waiting_tasks(self) -> None:
        """Spiff's, which runs after every task completed, with the walk above."""
        for task in tasks_in_tree_order(self, self.task_tree, TaskState.WAITING, None,
                                        into_called=False):
            task.task_spec._update(task)

    def is_completed(self) -> bool:
        if not self.completed:
            unfinished = tasks_in_tree_order(self, self.task_tree, TaskState.NOT_FINISHED_MASK,
                                             None, into_called=False)
            if next(unfinished, None) is None:
                self.completed = True
        return self.completed


class SubWorkflow(DeepIteration, BpmnSubWorkflow):  # type: ignore[misc]
    pass


class Workflow(DeepIteration, BpmnWorkflow):  # type: ignore[misc]
    def create_subprocess(self, my_task: Any, spec_name: str) -> Any:
        subprocess = SubWorkflow(
            self.subprocess_specs[spec_name], parent_task_id=my_task.id, top_workflow=self
        )
        self.subprocesses[my_task.id] = subprocess
        return subprocess


class _StateConverter(BpmnWorkflowConverter):  # type: ignore[misc]
    """Spiff's workflow converter without the specs: they come from the pack on restore, and
    converting them on every save would double its cost. (Mirrors Spiff 3.2's ``to_dict``.)"""

    def to_dict(self, workflow: Any) -> dict[str, Any]:
        dct: dict[str, Any] = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct


def _build_serializer() -> BpmnWorkflowSerializer:
    registry = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)
    # Our classes are stored under Spiff's own type names, so states stay plain Spiff states
    # and any stored BpmnWorkflow comes back as our deep-iterating subclass.
    _StateConverter(Workflow, registry, typename="BpmnWorkflow")
    BpmnSubWorkflowConverter(SubWorkflow, registry, typename="BpmnSubWorkflow")
    ParallelGatewayConverter(ParallelJoin, registry, typename="ParallelGateway")
    # Form values in task data: dates (and date-times, Decimals) must survive a round trip.
    registry.register(
        date, lambda v: {"value": v.isoformat()}, lambda d: date.fromisoformat(d["value"])
    )
    registry.register(
        datetime, lambda v: {"value": v.isoformat()}, lambda d: datetime.fromisoformat(d["value"])
    )
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda d: Decimal(d["value"]))
    return BpmnWorkflowSerializer(registry)


SERIALIZER = _build_serializer()
ENCODER = create_encoder(SERIALIZER.registry)
VERSION_KEY = BpmnWorkflowSerializer.VERSION_KEY

__all__ = ["ENCODER", "MAX_DEPTH", "PLAIN_FILTER", "SERIALIZER", "VERSION_KEY", "DeepIteration",
           "SubWorkflow", "Workflow", "tasks_in_tree_order"]
