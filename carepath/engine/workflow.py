"""A typed facade over one SpiffWorkflow process instance.

Everything else in carepath talks to :class:`WorkflowInstance`, never to Spiff. It guarantees:

* the safe script engine (``expressions.safe_script_engine``) is attached on start *and on every
  restore*: Spiff does not serialise the engine and would fall back to raw ``eval``;
* a task is completed only if it exists and is READY (Spiff's ``Task.run`` does not check);
* errors come out as carepath errors naming the step ("Condition on 'After assessment' failed:
  'outcome' is not defined"), never as Spiff exceptions;
* timers run on carepath's clock (``clock.install_spiff_clock``);
* the dumped state holds no spec: specs come from the pack (``ProcessSpecs``) on restore.

After an error from :meth:`WorkflowInstance.complete` or :meth:`WorkflowInstance.run_timers`
the instance is half-way through a step: discard it and restore from the last saved state.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer.migration.version_migration import MIGRATIONS
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.specs.mixins.exclusive_gateway import ExclusiveGateway
from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.util.task import TaskState

from carepath.core.errors import CarepathError, ExpressionError, TaskStateError, UnsafeExpression
from carepath.engine.bpmn.script_environment import safe_script_engine
from carepath.engine.bpmn.specs import ProcessSpecs
from carepath.engine.spiff_tree import ENCODER as _ENCODER
from carepath.engine.spiff_tree import SERIALIZER as _SERIALIZER
from carepath.engine.spiff_tree import VERSION_KEY as _VERSION_KEY
from carepath.engine.spiff_tree import Workflow as _Workflow
from carepath.engine.time.clock import install_spiff_clock

# Spiff logs every state change, and below INFO the records carry task data: personal data.
logging.getLogger("spiff").setLevel(logging.WARNING)
# Spiff's own loggers decide what to gather for a record by their own level, not the level they
# inherit: unset (0), they gather the task data and, for a workflow, every task id (a walk of
# the whole tree) on every state change, only for the record to be dropped.
for _name in ("spiff.task", "spiff.workflow", "spiff.data"):
    logging.getLogger(_name).setLevel(logging.WARNING)
install_spiff_clock()

Functions = Mapping[str, Callable[..., Any]]

# run_timers stops after this many rounds: a cycle timer due many times over cannot spin for ever.
MAX_TIMER_ROUNDS = 1_000
_TIMER_TYPES = {
    cls.__name__
    for cls in (TimeDateEventDefinition, DurationTimerEventDefinition, CycleTimerEventDefinition)
}




@dataclass(frozen=True)
class ReadyTask:
    """A user task waiting for someone. ``id`` is the Spiff task id (a UUID as text)."""

    id: str
    bpmn_id: str
    title: str
    form: str | None
    role: str | None
    due: str | None
    process_id: str


def _title(task_spec: Any) -> str:
    return str(getattr(task_spec, "bpmn_name", None) or getattr(task_spec, "bpmn_id", None)
               or task_spec.name)


def _described(task: Any, exc: CarepathError) -> CarepathError:
    """The same kind of error, saying which step it came from."""
    spec = getattr(task, "task_spec", None)
    title = _title(spec) if spec is not None else "a step"
    if isinstance(spec, ExclusiveGateway):
        message = f"Condition on '{title}' failed: {exc.message}"
    elif isinstance(getattr(spec, "event_definition", None), TimerEventDefinition):
        message = f"Timer '{title}' failed: {exc.message}"
    else:
        message = f"'{title}' failed: {exc.message}"
    kind = type(exc) if type(exc) in (ExpressionError, UnsafeExpression) else ExpressionError
    return kind(message)


class _ReportingEngine(PythonScriptEngine):  # type: ignore[misc]
    """Wraps the safe engine so that an expression error names its gateway or timer."""

    def __init__(self, inner: PythonScriptEngine) -> None:
        super().__init__(environment=inner.environment)
        self.inner = inner

    def validate(self, expression: str) -> None:
        self.inner.validate(expression)

    @property
    def record(self) -> Mapping[str, Any]:
        record: Mapping[str, Any] = self.inner.record
        return record

    @record.setter
    def record(self, names: Mapping[str, Any]) -> None:
        self.inner.record = names

    def evaluate(self, task: Any, expression: str, external_context: Any = None) -> Any:
        try:
            return self.inner.evaluate(task, expression, external_context)
        except CarepathError as exc:
            raise _described(task, exc) from None

    def execute(self, task: Any, script: str, external_context: Any = None) -> Any:
        return self.inner.execute(task, script, external_context)

    def call_service(self, task: Any, **kwargs: Any) -> Any:
        return self.inner.call_service(task, **kwargs)


def _engine(functions: Functions, specs: ProcessSpecs) -> PythonScriptEngine:
    return _ReportingEngine(safe_script_engine(functions, specs.locations))


class WorkflowInstance:
    """One running (or finished) process instance. Create with :meth:`start` or :meth:`restore`."""

    def __init__(self, workflow: Any, specs: ProcessSpecs, functions: Functions) -> None:
        self._wf = workflow
        self.specs = specs
        self._functions = functions
        self._running: Any = None  # the task Spiff is running, for error messages

    # -- creating -----------------------------------------------------------------------------

    @classmethod
    def start(
        cls, specs: ProcessSpecs, data: Mapping[str, Any], functions: Functions,
        record: Mapping[str, Any] | None = None,
    ) -> WorkflowInstance:
        """A new instance of ``specs`` with ``data`` as its starting task data, run up to the
        first tasks or timers; conditions and timers read ``record`` (see :meth:`set_record`)."""
        workflow = _Workflow(
            specs.spec, dict(specs.subprocess_specs), script_engine=_engine(functions, specs)
        )
        workflow.task_tree.data.update(copy.deepcopy(dict(data)))
        instance = cls(workflow, specs, functions)
        if record is not None:
            instance.set_record(record)
        with instance._guard():
            instance._engine_steps()
        return instance

    @classmethod
    def restore(cls, state: str, specs: ProcessSpecs, functions: Functions) -> WorkflowInstance:
        """An instance from :meth:`dump` output and the specs it was started from."""
        try:
            dct = json.loads(state)
        except ValueError:
            raise CarepathError("the stored workflow state is not valid JSON") from None
        if not isinstance(dct, dict) or _VERSION_KEY not in dct:
            raise CarepathError("the stored workflow state has no serializer version")
        version = dct[_VERSION_KEY]
        if version == _SERIALIZER.VERSION:
            del dct[_VERSION_KEY]
        elif version in MIGRATIONS:
            # Spiff's migrations rewrite specs as well as tasks, so they need the specs as
            # dicts; afterwards the live (cached) spec objects take their place again.
            dct["spec"] = _SERIALIZER.to_dict(specs.spec)
            dct["subprocess_specs"] = {
                name: _SERIALIZER.to_dict(spec) for name, spec in specs.subprocess_specs.items()
            }
            _SERIALIZER.migrate(dct)
        else:
            raise CarepathError(
                f"the stored workflow state has serializer version {version!r}, which this "
                f"version of carepath cannot read (it writes {_SERIALIZER.VERSION})"
            )
        # Live spec objects pass through the registry's restore untouched; sharing them between
        # instances is what BpmnWorkflow(spec) does anyway.
        dct["spec"] = specs.spec
        dct["subprocess_specs"] = dict(specs.subprocess_specs)
        try:
            workflow = _SERIALIZER.from_dict(dct)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CarepathError(
                f"the stored workflow state does not fit process '{specs.process_id}' "
                f"({type(exc).__name__}: {exc})"
            ) from exc
        # ALWAYS: the engine is not part of the state, and Spiff's default is raw eval.
        workflow.script_engine = _engine(functions, specs)
        return cls(workflow, specs, functions)

    def dump(self) -> str:
        """The state as JSON, without the specs (they come from the pack on restore)."""
        dct = _SERIALIZER.to_dict(self._wf)
        dct[_VERSION_KEY] = _SERIALIZER.VERSION
        return json.dumps(dct, cls=_ENCODER)

    def copy(self) -> WorkflowInstance:
        """An independent copy (for look-ahead: what would happen if...)."""
        twin = WorkflowInstance.restore(self.dump(), self.specs, self._functions)
        twin.set_record(self._wf.script_engine.record)
        return twin

    def set_record(self, record: Mapping[str, Any]) -> None:
        """The case record's namespaces (``record_context``) that gateway conditions and timer
        expressions read from now on, under the task data. They are not part of the state."""
        self._wf.script_engine.record = record

    # -- reading ------------------------------------------------------------------------------

    @property
    def process_id(self) -> str:
        return self.specs.process_id

    @property
    def data(self) -> dict[str, Any]:
        """The workflow's data (the data of its last end event once it has completed)."""
        data: dict[str, Any] = self._wf.data
        return data

    def ready_tasks(self) -> list[ReadyTask]:
        """READY user tasks, those inside called processes included, in tree order."""
        ready = []
        for task in self._wf.get_tasks(state=TaskState.READY, manual=True):
            spec = task.task_spec
            properties = (getattr(spec, "extensions", None) or {}).get("properties", {})
            ready.append(
                ReadyTask(
                    id=str(task.id),
                    bpmn_id=str(getattr(spec, "bpmn_id", None) or spec.name),
                    title=_title(spec),
                    form=properties.get("form") or None,
                    role=properties.get("role") or None,
                    due=properties.get("due") or None,
                    process_id=str(task.workflow.spec.name),
                )
            )
        return ready

    def task_data(self, task_id: str) -> dict[str, Any]:
        """The data a task sees (the values of the forms completed before it, and its own)."""
        data: dict[str, Any] = self._task(task_id).data
        return data

    def is_completed(self) -> bool:
        return bool(self._wf.is_completed())

    def ended_starts(self) -> list[str]:
        """The ``start`` property of every end event completed so far, in completion order
        (end events of called processes included)."""
        ended = []
        for position, task in enumerate(self._all_tasks()):
            if task.state != TaskState.COMPLETED:
                continue
            properties = (getattr(task.task_spec, "extensions", None) or {}).get("properties", {})
            start = properties.get("start")
            if start and isinstance(task.task_spec, EndEvent):
                ended.append((task.last_state_change, position, str(start)))
        return [start for _, _, start in sorted(ended)]

    def next_timer_at(self) -> datetime | None:
        """When the earliest waiting timer is due (UTC), or None if no timer is waiting."""
        due: list[datetime] = []
        for event in self._wf.waiting_events():
            if event.event_type not in _TIMER_TYPES:
                continue
            value = event.value
            if isinstance(value, dict):  # a cycle timer: {'cycles', 'next', 'duration'}
                value = value.get("next")
            if not isinstance(value, str):
                continue  # not evaluated yet
            try:
                moment = TimerEventDefinition.parse_time_or_duration(value)
            except (ValueError, AttributeError):
                continue
            if isinstance(moment, datetime):
                due.append(moment)
        return min(due, default=None)

    # -- changing -----------------------------------------------------------------------------

    def complete(self, task_id: str, values: Mapping[str, Any]) -> None:
        """Complete a READY user task with ``values`` (merged into its data) and run on."""
        task = self._task(task_id)
        if task.state != TaskState.READY or not task.task_spec.manual:
            raise TaskStateError(
                f"task '{_title(task.task_spec)}' cannot be completed now (it is "
                f"{TaskState.get_name(task.state).lower()})"
            )
        task.data.update(copy.deepcopy(dict(values)))
        with self._guard():
            self._running = task
            task.run()
            self._engine_steps()
            # A timer that fell due while the person worked fires now rather than on the next
            # scheduler tick (do_engine_steps only refreshes timers at its very end).
            self._wf.refresh_timers()
            self._engine_steps()

    def run_timers(self) -> bool:
        """Fire every timer that is due on the current clock and run on; True if any fired."""
        fired = False
        with self._guard():
            for _ in range(MAX_TIMER_ROUNDS):
                self._wf.refresh_timers()
                if self._engine_steps() == 0:
                    break
                fired = True
        return fired

    # -- inside -------------------------------------------------------------------------------

    def _task(self, task_id: str) -> Any:
        try:
            return self._wf.get_task_from_id(UUID(str(task_id)))
        except (ValueError, TaskNotFoundException):
            raise TaskStateError(f"there is no task {task_id!r} in this process") from None

    def task_states(self) -> list[tuple[str, str, str]]:
        """(process id, BPMN id, state name) of every step, called processes included: which
        parts of a process an instance has been through (flow coverage)."""
        return [(str(t.workflow.spec.name), str(t.task_spec.bpmn_id), TaskState.get_name(t.state))
                for t in self._all_tasks() if getattr(t.task_spec, "bpmn_id", None)]

    def _all_tasks(self) -> Iterator[Any]:
        # get_tasks(state=COMPLETED) misses tasks under unfinished parents (notes, section 9).
        yield from self._wf.tasks.values()
        for subprocess in self._wf.subprocesses.values():
            yield from subprocess.tasks.values()

    def _engine_steps(self) -> int:
        """do_engine_steps; returns how many tasks it ran."""
        ran = 0

        def before(task: Any) -> None:
            self._running = task

        def after(task: Any) -> None:
            nonlocal ran
            ran += 1

        self._wf.do_engine_steps(will_complete_task=before, did_complete_task=after)
        return ran

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Spiff's exceptions out as carepath errors that name the step."""
        self._running = None
        try:
            yield
        except CarepathError:
            raise
        except RecursionError as exc:
            raise CarepathError(
                f"process '{self.process_id}' has looped too often to continue"
            ) from exc
        except Exception as exc:
            spec = getattr(exc, "task_spec", None)
            if spec is None and self._running is not None:
                spec = self._running.task_spec
            title = _title(spec) if spec is not None else self.process_id
            detail = str(exc).split("\n")[0] or type(exc).__name__
            if isinstance(spec, ExclusiveGateway) and "No conditions satisfied" in detail:
                raise CarepathError(
                    f"No branch of '{title}' applies and it has no default"
                ) from exc
            raise CarepathError(f"'{title}' failed: {detail}") from exc


# -- moving an instance onto another version of its process ---------------------------------------

_LIVE_STATES = TaskState.READY | TaskState.WAITING | TaskState.STARTED
_DONE_STATES = TaskState.COMPLETED | TaskState.STARTED


@dataclass(frozen=True)
class InstanceMove:
    """What moving one instance onto a new version of its process gives: the new state (None
    when refused), or why it was refused. ``mapped`` lists (old id, new id) pairs the pack's
    ``migrations:`` supplied; ``removed`` the ids of predicted steps dropped; ``workflow`` the
    moved instance as restored from ``state`` (the proof that it restores)."""

    state: str | None
    refused: str | None
    mapped: tuple[tuple[str, str], ...] = ()
    removed: tuple[str, ...] = ()
    workflow: WorkflowInstance | None = field(default=None, compare=False, repr=False)


def _bpmn_id(task: Any) -> str:
    return str(getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name)


def _apply_mapping(diff: Any, spec: Any, mapping: Mapping[str, str],
                   mapped: list[tuple[str, str]]) -> None:
    """Align the tasks whose step the new version renamed or removed as the pack's
    ``migrations:`` says (``old id -> new id``), overriding Spiff's inferred alignment."""
    for task in [*diff.alignment, *(t for t in diff.removed if t not in diff.alignment)]:
        old_id = _bpmn_id(task)
        new_id = mapping.get(old_id)
        if new_id is None:
            continue
        target = spec.task_specs.get(new_id)
        if target is None:
            continue
        diff.alignment[task] = target
        if task in diff.removed:
            diff.removed.remove(task)
        if (old_id, new_id) not in mapped:
            mapped.append((old_id, new_id))


def _unsafe(diff: Any, where: str) -> str | None:
    """Why moving the tasks of ``diff`` is unsafe: a step done, started or waited on that the
    new version no longer has (Spiff cannot restore a finished task whose step is gone, and a
    waited-on task would vanish)."""
    for task in diff.removed:
        if task.state & (_DONE_STATES | TaskState.READY | TaskState.WAITING):
            state = TaskState.get_name(task.state).lower()
            return (f"the step '{_bpmn_id(task)}' ({_title(task.task_spec)}) of {where} is "
                    f"{state} in this case, and the new version has no such step (declare "
                    "where it went under 'migrations:' in the new version's pack.yaml)")
    return None


def move_instance(state: str, old: ProcessSpecs, new: ProcessSpecs, old_functions: Functions,
                  new_functions: Functions, record: Mapping[str, Any],
                  mapping: Mapping[str, str]) -> InstanceMove:
    """Move a stored instance of ``old`` onto ``new`` (SpiffWorkflow's ``diff_workflow`` and
    ``migrate_workflow``), keeping its place. Refused, with why, when a step the instance has
    done or is waiting on is gone and ``mapping`` (old step id -> new step id) does not say
    where it went, when a called process it is in is gone, or when the moved state cannot be
    restored against the new version. Nothing is changed in ``state``."""
    from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow

    instance = WorkflowInstance.restore(state, old, old_functions)
    wf = instance._wf
    try:
        top, subs = diff_workflow(_SERIALIZER.registry, wf, new.spec,
                                  dict(new.subprocess_specs))
    except Exception as exc:  # Spiff's diff of a shape it does not expect
        return InstanceMove(None, f"the two versions of '{old.process_id}' could not be "
                                  f"compared ({type(exc).__name__})")
    mapped: list[tuple[str, str]] = []
    _apply_mapping(top, new.spec, mapping, mapped)
    why = _unsafe(top, f"process '{old.process_id}'")
    if why is not None:
        return InstanceMove(None, why, tuple(mapped))
    for sp_id, sp_diff in subs.items():
        sub = wf.subprocesses[sp_id]
        if sp_diff is None:
            if sub.is_completed():
                continue
            return InstanceMove(None, f"the called process '{sub.spec.name}' is running in "
                                      "this case, and the new version has no such process")
        _apply_mapping(sp_diff, new.subprocess_specs[sub.spec.name], mapping, mapped)
        why = _unsafe(sp_diff, f"called process '{sub.spec.name}'")
        if why is not None:
            return InstanceMove(None, why, tuple(mapped))
        if not sub.is_completed() and (sp_diff.removed or sp_diff.changed):
            return InstanceMove(None, f"the called process '{sub.spec.name}' is running in "
                                      "this case and the new version changes it: move the "
                                      "case once it has finished")
    removed = tuple(sorted({_bpmn_id(t) for t in top.removed}))
    try:
        for sp_id, sp_diff in subs.items():
            if sp_diff is not None:
                sub = wf.subprocesses[sp_id]
                migrate_workflow(sp_diff, sub, new.subprocess_specs[sub.spec.name])
        migrate_workflow(top, wf, new.spec)
        wf.subprocess_specs = dict(new.subprocess_specs)
        moved = WorkflowInstance(wf, new, new_functions)
        wf.script_engine = _engine(new_functions, new)
        moved.set_record(record)
        with moved._guard():
            moved._engine_steps()
        dumped = moved.dump()
        # the trap: the moved state must restore
        restored = WorkflowInstance.restore(dumped, new, new_functions)
        restored.set_record(record)
    except CarepathError as exc:
        return InstanceMove(None, f"the move failed: {exc.message}", tuple(mapped))
    except Exception as exc:
        return InstanceMove(None, f"the move failed ({type(exc).__name__})", tuple(mapped))
    return InstanceMove(dumped, None, tuple(mapped), removed, restored)
