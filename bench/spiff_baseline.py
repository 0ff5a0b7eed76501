"""Figure 1 baseline: raw SpiffWorkflow 3.2 the SpiffArena way.

The same recurrence as carepath's ``cp_review`` process (a review conference; if the plan
continues, the next review) written as ONE BPMN process with a standard loop around the review
task, the way a plain SpiffWorkflow application models it. Every step is one request: read the
row holding the whole serialised workflow, deserialise it, complete the READY review, run the
engine, serialise the whole workflow again and write it back in one committed transaction, to the
same database and with the same settings as carepath.

Nothing here imports carepath's engine: this is what an application built directly on
SpiffWorkflow does. Standard loops are the cheaper of the two ways to loop in Spiff (a gateway
back-edge makes the task tree two levels deeper per round and is slower still), and the
workflow class iterates without Spiff's depth limit of 1000 so that nothing stalls at ~500
rounds (spiffworkflow-notes, finding 1).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any

from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser, BpmnValidator
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.config import DEFAULT_CONFIG
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskIterator, TaskState
from sqlalchemy import Engine, text

logging.getLogger("spiff").setLevel(logging.WARNING)

PROCESS_ID = "cp_reviews"
TABLE = "bench_spiff_workflow"
MAX_DEPTH = 10_000_000

BPMN = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  id="bench" targetNamespace="https://carepath.invalid/bench">
  <bpmn:process id="{PROCESS_ID}" name="Child protection reviews" isExecutable="true">
    <bpmn:startEvent id="plan_started">
      <bpmn:outgoing>to_review</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:sequenceFlow id="to_review" sourceRef="plan_started" targetRef="review_conference"/>
    <bpmn:userTask id="review_conference" name="Record the review conference">
      <bpmn:incoming>to_review</bpmn:incoming>
      <bpmn:outgoing>to_after</bpmn:outgoing>
      <bpmn:standardLoopCharacteristics>
        <bpmn:loopCondition>review_outcome == 'continue'</bpmn:loopCondition>
      </bpmn:standardLoopCharacteristics>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="to_after" sourceRef="review_conference" targetRef="after_review"/>
    <bpmn:exclusiveGateway id="after_review" name="After the review" default="to_close">
      <bpmn:incoming>to_after</bpmn:incoming>
      <bpmn:outgoing>to_step_down</bpmn:outgoing>
      <bpmn:outgoing>to_close</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="to_step_down" sourceRef="after_review" targetRef="stepped_down">
      <bpmn:conditionExpression>review_outcome == 'step_down'</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="to_close" sourceRef="after_review" targetRef="close_case"/>
    <bpmn:endEvent id="stepped_down">
      <bpmn:incoming>to_step_down</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:userTask id="close_case" name="Close the case">
      <bpmn:incoming>to_close</bpmn:incoming>
      <bpmn:outgoing>to_closed</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="to_closed" sourceRef="close_case" targetRef="closed"/>
    <bpmn:endEvent id="closed">
      <bpmn:incoming>to_closed</bpmn:incoming>
    </bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


class DeepWorkflow(BpmnWorkflow):  # type: ignore[misc]
    """A BpmnWorkflow whose task iterators have no practical depth limit (Spiff's default of
    1000 hides the READY task of a long-running loop and reports the workflow completed)."""

    def get_tasks_iterator(self, first_task: Any = None, **kwargs: Any) -> Any:
        kwargs.setdefault("max_depth", MAX_DEPTH)
        return BpmnTaskIterator(first_task or self.task_tree, **kwargs)

    completed: bool

    def is_completed(self) -> bool:
        if not self.completed:
            unfinished = TaskIterator(
                self.task_tree, state=TaskState.NOT_FINISHED_MASK, max_depth=MAX_DEPTH
            )
            if next(unfinished, None) is None:
                self.completed = True
        return bool(self.completed)


def _serializer() -> BpmnWorkflowSerializer:
    registry = BpmnWorkflowSerializer.configure(DEFAULT_CONFIG)
    # Stored under Spiff's own type name: any workflow read back is the deep-iterating class.
    BpmnWorkflowConverter(DeepWorkflow, registry, typename="BpmnWorkflow")
    return BpmnWorkflowSerializer(registry)


_SPEC: Any = None
_SERIALIZER: BpmnWorkflowSerializer | None = None


def spec() -> Any:
    global _SPEC
    if _SPEC is None:
        parser = BpmnParser(validator=BpmnValidator())
        parser.add_bpmn_str(BPMN.encode("utf-8"), filename="bench_cp_reviews.bpmn")
        _SPEC = parser.get_spec(PROCESS_ID)
    return _SPEC


def serializer() -> BpmnWorkflowSerializer:
    global _SERIALIZER
    if _SERIALIZER is None:
        _SERIALIZER = _serializer()
    return _SERIALIZER


class SpiffLoop:
    """One case as a single long-running Spiff workflow, held in memory while history is built."""

    def __init__(self) -> None:
        self.workflow = DeepWorkflow(spec())
        self.workflow.do_engine_steps()
        self.completed = 0
        self._ready: Any = None

    def complete_one(self, values: Mapping[str, Any]) -> None:
        """Complete the next review in memory. Building history is not what is measured, so
        this skips the scan for the READY task when it can: the newest task is the next review."""
        task = self._ready
        if task is None:
            complete_review(self.workflow, values)
        else:
            task.data.update(copy.deepcopy(dict(values)))
            task.run()
            self.workflow.do_engine_steps()
        newest = next(reversed(self.workflow.tasks.values()))
        ready = newest.state == TaskState.READY and newest.task_spec.bpmn_id == "review_conference"
        self._ready = newest if ready else None
        self.completed += 1

    def dump(self) -> str:
        return str(serializer().serialize_json(self.workflow))


def complete_review(workflow: Any, values: Mapping[str, Any]) -> None:
    ready = [t for t in workflow.get_tasks(state=TaskState.READY, manual=True)
             if t.task_spec.bpmn_id == "review_conference"]
    if len(ready) != 1:
        raise RuntimeError(f"expected one READY review task, found {len(ready)}")
    task = ready[0]
    task.data.update(copy.deepcopy(dict(values)))
    task.run()
    workflow.do_engine_steps()


# --- the database side: one row holds the whole workflow ----------------------------------------


def create_table(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {TABLE}"))
        conn.execute(text(f"CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY, "
                          "version INTEGER NOT NULL, bpmn_json TEXT NOT NULL)"))


def store(engine: Engine, state: str, row_id: int = 1) -> None:
    with engine.begin() as conn:
        conn.execute(text(f"DELETE FROM {TABLE} WHERE id = :id"), {"id": row_id})
        conn.execute(text(f"INSERT INTO {TABLE} (id, version, bpmn_json) VALUES (:id, 0, :s)"),
                     {"id": row_id, "s": state})


def request(engine: Engine, values: Mapping[str, Any], row_id: int = 1) -> int:
    """One stateless request: load, deserialise, complete the review, serialise, save, commit.
    Returns the size of the JSON written (bytes)."""
    ser = serializer()
    with engine.begin() as conn:
        row = conn.execute(text(f"SELECT version, bpmn_json FROM {TABLE} WHERE id = :id"),
                           {"id": row_id}).one()
        workflow = ser.deserialize_json(row.bpmn_json)
        complete_review(workflow, values)
        state = ser.serialize_json(workflow)
        result = conn.execute(
            text(f"UPDATE {TABLE} SET bpmn_json = :s, version = version + 1 "
                 "WHERE id = :id AND version = :v"),
            {"s": state, "id": row_id, "v": row.version})
        if result.rowcount != 1:  # the optimistic check SpiffArena-style apps also make
            raise RuntimeError("the workflow row changed underneath the benchmark")
        return len(state)
