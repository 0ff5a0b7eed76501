"""The Spiff script environment: every expression Spiff evaluates goes through our interpreter.

SpiffWorkflow's own environment hands expressions to Python's ``eval`` and scripts to ``exec``;
here expressions are compiled and evaluated by :mod:`carepath.core.expressions.evaluator`, and every
script and service task is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from SpiffWorkflow.bpmn.script_engine import (
    BasePythonScriptEngineEnvironment,
    PythonScriptEngine,
)

from carepath.core.errors import CarepathError, UnsafeExpression
from carepath.core.expressions.evaluator import compile_allowing
from carepath.core.expressions.language import BUILTIN_FUNCTIONS, Functions


class SafeScriptEnvironment(BasePythonScriptEngineEnvironment):  # type: ignore[misc]
    """Spiff's script environment with our evaluator in place of ``eval``/``exec``.

    Every expression Spiff evaluates (gateway conditions, timer definitions, loop and
    multi-instance conditions, data-object conditions) comes through :meth:`evaluate`.
    ``locations`` maps expression sources to where the pack writes them ("file:line"), for
    errors found while evaluating them (Spiff hands over only the text).
    """

    def __init__(
        self, functions: Functions | None = None, locations: Mapping[str, str] | None = None
    ) -> None:
        super().__init__({})
        self.functions: dict[str, Callable[..., Any]] = dict(functions or {})
        self.allowed = BUILTIN_FUNCTIONS | frozenset(self.functions)
        self.locations: Mapping[str, str] = locations or {}

    def evaluate(
        self,
        expression: str,
        context: Mapping[str, Any],
        external_context: Mapping[str, Any] | None = None,
    ) -> Any:
        names = _Overlay(context, external_context) if external_context else context
        return compile_allowing(expression, self.allowed).evaluate(
            names, self.functions, self.locations.get(expression)
        )

    def execute(
        self,
        script: str,
        context: Mapping[str, Any],
        external_context: Mapping[str, Any] | None = None,
    ) -> bool:
        raise UnsafeExpression("scripts are not allowed in carepath packs")

    def call_service(self, context: Mapping[str, Any], **kwargs: Any) -> Any:
        raise UnsafeExpression("service tasks are not allowed in carepath packs")


class _Overlay(Mapping[str, Any]):
    """Task data over external context (data objects), as in Spiff's own environment, and both
    over the case record, without copying any of them on every evaluation. Form field names
    cannot be record namespaces (the form loader refuses them), so the record is never hidden."""

    def __init__(self, top: Mapping[str, Any], below: Mapping[str, Any]) -> None:
        self.top = top
        self.below = below

    def __getitem__(self, key: str) -> Any:
        return self.top[key] if key in self.top else self.below[key]

    def __iter__(self) -> Iterator[str]:
        yield from self.top
        yield from (key for key in self.below if key not in self.top)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class SafeScriptEngine(PythonScriptEngine):  # type: ignore[misc]
    """Spiff's script engine over :class:`SafeScriptEnvironment`.

    Spiff's own engine wraps every error in ``WorkflowTaskException("Error evaluating expression
    …")`` and keeps only the class name of ours; here our errors pass through unchanged (with a
    note naming the task), so a user sees "'outcome' is not defined".
    """

    environment: SafeScriptEnvironment

    def __init__(
        self, functions: Functions | None = None, locations: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(environment=SafeScriptEnvironment(functions, locations))
        # The case record's namespaces (``cin_plan``, ``episode``…), set by the runtime before
        # each step: conditions and timers read them under the task data. Never stored in the
        # task data, so never serialised with the workflow.
        self.record: Mapping[str, Any] = {}

    def validate(self, expression: str) -> None:
        compile_allowing(expression, self.environment.allowed)

    def evaluate(
        self, task: Any, expression: str, external_context: Mapping[str, Any] | None = None
    ) -> Any:
        try:
            below = _Overlay(external_context, self.record) if external_context else self.record
            names = _Overlay(task.data, below) if below else task.data
            return self.environment.evaluate(expression, names)
        except CarepathError as exc:
            exc.add_note(f"while evaluating {expression!r} for {_task_name(task)}")
            raise

    def execute(
        self, task: Any, script: str, external_context: Mapping[str, Any] | None = None
    ) -> bool:
        raise UnsafeExpression(f"scripts are not allowed in carepath packs ({_task_name(task)})")

    def call_service(self, task: Any, **kwargs: Any) -> Any:
        raise UnsafeExpression(
            f"service tasks are not allowed in carepath packs ({_task_name(task)})"
        )


def _task_name(task: Any) -> str:
    spec = getattr(task, "task_spec", None)
    name = getattr(spec, "bpmn_name", None) or getattr(spec, "bpmn_id", None) or "a task"
    return f"'{name}'"


def safe_script_engine(
    functions: Functions | None = None, locations: Mapping[str, str] | None = None
) -> PythonScriptEngine:
    """A Spiff script engine that evaluates with our interpreter and refuses every script.
    Attach it to every workflow, including after each deserialisation (Spiff does not store it).
    ``locations``: where each expression is written, as :class:`SafeScriptEnvironment` takes."""
    return SafeScriptEngine(functions, locations)
