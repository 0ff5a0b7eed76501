"""The safe expression language: what it evaluates, what it refuses, and that refusing runs
nothing; and its use as SpiffWorkflow's script environment."""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from carepath.core.errors import ExpressionError, UnsafeExpression
from carepath.core.expressions.evaluator import Expression, compile_expression, evaluate, names_in
from carepath.core.expressions.language import (
    BUILTIN_FUNCTIONS,
    DEFAULT_FUNCTIONS,
    MAX_SOURCE_LENGTH,
)
from carepath.engine.bpmn.script_environment import SafeScriptEnvironment, safe_script_engine

# --------------------------------------------------------------------------- legitimate use

RECORD = {
    "referral": {"date": date(2025, 3, 3)},
    "cp_plan": {"start": date(2025, 4, 1), "last_review": None},
    "outcome": "cin_plan",
    "score": 7,
    "factors": ["1A", "3B"],
    "answers": {"safe": True, "nested": {"deep": 3}},
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("outcome == 'cin_plan'", True),
        ("outcome != 'close' and score > 5", True),
        ("not (score > 5) or outcome == 'x'", False),
        ("outcome in ('cin_plan', 'cp_plan')", True),
        ("'1A' in factors and '9Z' not in factors", True),
        ("cp_plan.last_review is None", True),
        ("cp_plan.start is not None", True),
        ("cp_plan.last_review if cp_plan.last_review else cp_plan.start", date(2025, 4, 1)),
        ("referral.date < cp_plan.start", True),
        ("referral.date < cp_plan.start <= cp_plan.start", True),
        ("score * 2 + 1 - 3 / 2", 13.5),
        ("score // 2, score % 2, -score, +score", (3, 1, -7, 7)),
        ("2 ** 10", 1024),
        ("2 ** -1", 0.5),
        ("len(factors) + len(outcome)", 10),
        ("min(3, score, 9), max(factors)", (3, "3B")),
        ("abs(-2.5) + round(2.567, 2)", 5.07),
        ("int('42') + int(2.9) + float('1.5')", 45.5),
        ("str(score) + str(referral.date)", "72025-03-03"),
        ("bool(factors) and any([0, 1]) and not all([1, 0])", True),
        ("sorted(factors, )[-1]", "3B"),
        ("factors[0] + outcome[:3] + outcome[-4:]", "1Acinplan"),
        ("answers['nested']['deep']", 3),
        ("answers.nested.deep", 3),
        ("answers.safe", True),
        ("f'{outcome}: {score} on {referral.date}'", "cin_plan: 7 on 2025-03-03"),
        ("[1, 2] + [3]", [1, 2, 3]),
        ("{'a': score, 'b': [1]}", {"a": 7, "b": [1]}),
        ("{1, 2} == {2, 1}", True),
        ("'ab' * 3", "ababab"),
        ("None", None),
        ("3 if score > 10 else 4 if score > 5 else 5", 4),
    ],
)
def test_legitimate_expressions(source: str, expected: Any) -> None:
    assert evaluate(source, RECORD) == expected


def test_compiled_expression_reports_names_and_paths() -> None:
    expression = compile_expression(
        "months_after(cp_plan.last_review, 6) if cp_plan.last_review "
        "else months_after(cp_plan.start, 3) if outcome == 'x' else answers.nested.deep"
    )
    assert isinstance(expression, Expression)
    assert expression.names == {"cp_plan", "outcome", "answers"}
    assert expression.paths == {
        "cp_plan.last_review", "cp_plan.start", "outcome", "answers.nested.deep",
    }  # fmt: skip
    assert names_in("len(factors) > 1 and referral.date") == {"factors", "referral"}


def test_expressions_are_values() -> None:
    a, b = compile_expression("x + 1"), compile_expression("x + 1")
    assert a == b and hash(a) == hash(b)
    with pytest.raises(AttributeError):
        a.source = "y"  # type: ignore[misc]
    assert a.evaluate({"x": 1}) == 2 and a.evaluate({"x": 41}) == 42


def test_short_circuit_does_not_evaluate_the_other_side() -> None:
    assert evaluate("cp_plan.last_review and cp_plan.last_review > 3", RECORD) is None
    assert evaluate("score or undefined_name", RECORD) == 7
    assert evaluate("1 if score else undefined_name", RECORD) == 1


def test_calling_provided_functions() -> None:
    calls: list[tuple[Any, ...]] = []

    def add_days(d: date, n: int) -> date:
        calls.append((d, n))
        return date.fromordinal(d.toordinal() + n)

    functions = {"add_days": add_days}
    assert evaluate("add_days(referral.date, 2)", RECORD, functions) == date(2025, 3, 5)
    assert calls == [(date(2025, 3, 3), 2)]
    assert compile_expression("add_days(x, 1)", functions={"add_days"}).names == {"x"}
    with pytest.raises(UnsafeExpression, match="calling 'add_days' is not allowed"):
        compile_expression("add_days(x, 1)")


def test_default_date_functions_are_allowed_but_must_be_provided() -> None:
    date_functions = {"working_days_after", "months_after", "days_after", "timer_date", "today"}
    assert date_functions == DEFAULT_FUNCTIONS - BUILTIN_FUNCTIONS
    expression = compile_expression("working_days_after(referral.date, 5)")
    with pytest.raises(ExpressionError, match="'working_days_after' is not available here"):
        expression.evaluate(RECORD)
    assert expression.evaluate(RECORD, {"working_days_after": lambda d, n: n}) == 5


def test_errors_in_provided_functions_become_expression_errors() -> None:
    def broken(value: Any) -> Any:
        raise ValueError("no such day")

    with pytest.raises(ExpressionError, match=r"broken\(\) failed: no such day"):
        evaluate("broken(1)", {}, {"broken": broken})


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("missing == 1", "'missing' is not defined"),
        ("cp_plan.foo", "'cp_plan.foo' is not defined"),
        ("answers.nested.nothing", "'answers.nested.nothing' is not defined"),
        ("referral.date < 'tomorrow'", "cannot compare date with text using '<'"),
        ("score + 'a'", "cannot use '+' with number and text"),
        ("-outcome", "cannot use '-' with text"),
        ("1 / 0", "division by zero"),
        ("factors[5]", "position 5 is out of range"),
        ("answers['x']", "'x' is not in 'answers'"),
        ("len(score)", "len() needs a list, text or mapping, not number"),
        ("max([])", "max() of an empty list"),
        ("sorted([1, 'a'])", "sorted() cannot compare number with text"),
        ("int('seven')", "'seven' is not a whole number"),
        ("len()", "len() takes 1 value"),
        ("round(1.5, 1, 2)", "round() takes 1 or 2 values"),
        ("'%s' % outcome", "'%' works on numbers only"),
        ("(-8) ** 0.5", "complex number"),
        ("1 in score", "cannot use 'in' with number on the right"),
        ("{[1]: 2}", "cannot be set members or keys"),
        ("outcome[1:2:0]", "slice step cannot be zero"),
    ],
)
def test_runtime_errors_are_plain(source: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(message)) as caught:
        evaluate(source, RECORD)
    assert not isinstance(caught.value, UnsafeExpression)
    assert caught.value.__cause__ is None


def test_attributes_only_on_mappings() -> None:
    with pytest.raises(UnsafeExpression, match="'outcome.upper' is not allowed"):
        evaluate("outcome.upper", RECORD)
    with pytest.raises(UnsafeExpression, match="'referral.date.year' is not allowed"):
        evaluate("referral.date.year", RECORD)


def test_values_of_unknown_classes_are_refused() -> None:
    message = "'thing' has a value of type object, which expressions cannot use"
    with pytest.raises(ExpressionError, match=message):
        evaluate("thing == 1", {"thing": object()})
    with pytest.raises(ExpressionError, match="'f' has a value of type builtin_function"):
        evaluate("f", {"f": len})


def test_syntax_errors_are_expression_errors() -> None:
    with pytest.raises(ExpressionError, match="is not a valid expression") as caught:
        compile_expression("score >")
    assert not isinstance(caught.value, UnsafeExpression)
    with pytest.raises(ExpressionError, match="empty"):
        compile_expression("  ")
    with pytest.raises(ExpressionError):
        compile_expression("x = 1")
    with pytest.raises(ExpressionError, match="an expression must be text, not list"):
        compile_expression(["x"])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- escape corpus


class Trap:
    """A value whose attributes and methods record that they ran."""

    def __init__(self, log: list[str]) -> None:
        object.__setattr__(self, "log", log)

    def __getattr__(self, name: str) -> Any:
        self.log.append(f"getattr {name}")
        return lambda *a, **k: self.log.append(f"called {name}")

    def mro(self) -> None:
        self.log.append("mro")

    def system(self, *args: Any) -> None:
        self.log.append("system")

    def format(self, *args: Any) -> str:
        self.log.append("format")
        return ""

    def __call__(self, *args: Any) -> None:
        self.log.append("__call__")

    def __str__(self) -> str:
        self.log.append("__str__")
        return "trap"

    def __repr__(self) -> str:
        self.log.append("__repr__")
        return "trap"

    def __format__(self, spec: str) -> str:
        self.log.append("__format__")
        return "trap"

    def __getitem__(self, key: Any) -> Any:
        self.log.append("__getitem__")
        return self

    def __iter__(self) -> Iterator[Any]:
        self.log.append("__iter__")
        return iter(())

    def __mul__(self, other: Any) -> Any:
        self.log.append("__mul__")
        return self

    __rmul__ = __mul__
    __mod__ = __mul__
    __rmod__ = __mul__
    __add__ = __mul__
    __radd__ = __mul__


class TrapNames(dict[str, Any]):
    """Names for the corpus: a dict whose attributes and methods record that they ran."""

    def __init__(self, log: list[str], **values: Any) -> None:
        super().__init__(**values)
        self.log = log

    def __getattr__(self, name: str) -> Any:
        self.log.append(f"names.getattr {name}")
        raise AttributeError(name)

    def mro(self) -> None:
        self.log.append("names.mro")

    def system(self, *args: Any) -> None:
        self.log.append("names.system")


COMPILE_TIME_ESCAPES = [
    "__import__('os').system('id')",
    "().__class__.__base__.__subclasses__()",
    "''.__class__.__mro__[1].__subclasses__()",
    "'{0.__class__}'.format(1)",
    "'{.__globals__}'.format(f)",
    "getattr(x, '__class__')",
    "setattr(x, 'a', 1)",
    "eval('1')",
    "exec('1')",
    "open('/etc/passwd')",
    "print('hi')",
    "globals()",
    "locals()",
    "vars()",
    "dir()",
    "type(1)",
    "lambda: 1",
    "(lambda: 1)()",
    "[x for x in range(10)]",
    "{x: 1 for x in y}",
    "{x for x in y}",
    "(x for x in y)",
    "(x := 1)",
    "f'{x!r}'",
    "f'{x:>{10**9}}'",
    "f'{x.__class__}'",
    "x.__class__",
    "x[0].__globals__",
    "(1).__class__",
    "x.mro()",
    "x.system('id')",
    "s.format(x)",
    "','.join(y)",
    "str.upper('a')",
    "int.__subclasses__()",
    "breakpoint()",
    "compile('1','','eval')",
    "__builtins__",
    "__import__",
    "_x",
    "max(*x)",
    "[*y]",
    "dict(**x)",
    "{**d}",
    "sorted(x, key=len)",
    "x is not y",
    "1 << 100000",
    "x @ y",
    "~x",
    "b'abc'",
    "1j * 2",
    "...",
    "await x",
    "(yield)",
    "(yield from x)",
    "range(10 ** 9)",
    "chr(65) + ord('a')",
    "hasattr(x, 'y')",
    "next(iter(y))",
    "1 + " * (MAX_SOURCE_LENGTH // 4 + 1) + "1",
    "[" * 100 + "]" * 100,
    "(" * 500 + "1" + ")" * 500,
    "-" * 1500 + "1",
    "f(" * 30 + ")" * 30,
]

# Refused while evaluating (size caps, or something only the value reveals), before any harm.
RUN_TIME_ESCAPES = [
    "2 ** 10 ** 10",
    "10 ** 100000",
    "9 ** 9 ** 9",
    "'a' * 10 ** 9",
    "[1] * 10 ** 9",
    "10 ** 9 * (1,)",
    "'%s' % x * 10**9",
    "'%s' % s * 10**9",
    "'a' * 10000 + 'a' * 10000 + 'a' * 10000 + 'a' * 10000 + 'a' * 10000 + 'a' * 10000"
    " + 'a' * 10000 + 'a' * 10000 + 'a' * 10000 + 'a' * 10000 + 'a' * 10000",
    "round(1, -10 ** 8)",
    "int('9' * 5000)",
    "s.upper",
    "s.format",
    "x.system",
    "x",
    "x[0]",
    "f'{x}'",
]


@pytest.fixture
def guarded(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[list[str], Callable[[bool], None]]]:
    """Wraps builtins that running code would need (eval, exec, __import__, compile to code);
    while armed, any call is recorded."""
    log: list[str] = []
    armed = [False]

    def wrap(name: str, real: Callable[..., Any], allow: Callable[..., bool]) -> None:
        def recorder(*args: Any, **kwargs: Any) -> Any:
            if armed[0] and not allow(*args, **kwargs):
                log.append(f"builtins.{name}")
            return real(*args, **kwargs)

        monkeypatch.setattr(builtins, name, recorder)

    wrap("eval", builtins.eval, lambda *a, **k: False)
    wrap("exec", builtins.exec, lambda *a, **k: False)
    wrap("__import__", builtins.__import__, lambda *a, **k: False)

    # ast.parse is compile(..., flags=PyCF_ONLY_AST): parsing is fine, making code is not.
    def only_ast(*args: Any, **kwargs: Any) -> bool:
        flags = kwargs.get("flags", args[3] if len(args) > 3 else 0)
        return bool(flags & ast.PyCF_ONLY_AST)

    wrap("compile", builtins.compile, only_ast)

    def arm(on: bool) -> None:
        armed[0] = on

    yield log, arm


def _attempt(source: str, names: dict[str, Any]) -> Exception | None:
    try:
        evaluate(source, names)
    except Exception as exc:  # the test inspects whatever came out
        return exc
    return None


def test_the_guards_would_notice(guarded: tuple[list[str], Callable[[bool], None]]) -> None:
    ran, arm = guarded
    # eval and exec are never called, not even here: check they are the recording wrappers.
    assert builtins.eval.__name__ == builtins.exec.__name__ == "recorder"
    arm(True)
    try:
        builtins.compile("1", "<test>", "eval")
        builtins.compile("1", "<test>", "eval", ast.PyCF_ONLY_AST)
        __import__("os")
    finally:
        arm(False)
    assert ran == ["builtins.compile", "builtins.__import__"]
    trap_log: list[str] = []
    Trap(trap_log).mro()
    format(Trap(trap_log), "")
    TrapNames(trap_log).system()
    assert trap_log == ["mro", "__format__", "names.system"]


def test_the_corpus_is_large_enough() -> None:
    assert len(COMPILE_TIME_ESCAPES) + len(RUN_TIME_ESCAPES) >= 35
    assert len(set(COMPILE_TIME_ESCAPES)) == len(COMPILE_TIME_ESCAPES)


def test_escapes_are_refused_before_running(
    guarded: tuple[list[str], Callable[[bool], None]],
) -> None:
    ran, arm = guarded
    trap_log: list[str] = []
    names = TrapNames(
        trap_log, x=Trap(trap_log), f=Trap(trap_log), y=[1, 2], s="abc", d={"a": 1}
    )
    outcomes: dict[str, Exception | None] = {}
    arm(True)
    try:
        for source in COMPILE_TIME_ESCAPES:
            outcomes[source] = _attempt(source, names)
            # Compiling alone must refuse it too: nothing reaches evaluation.
            try:
                compile_expression(source)
            except UnsafeExpression:
                pass
            else:
                outcomes[source] = None
    finally:
        arm(False)
    not_refused = {
        s[:60]: repr(e) for s, e in outcomes.items() if not isinstance(e, UnsafeExpression)
    }
    assert not_refused == {}
    assert ran == []
    assert trap_log == []


def test_runtime_escapes_are_stopped(guarded: tuple[list[str], Callable[[bool], None]]) -> None:
    ran, arm = guarded
    trap_log: list[str] = []
    names = TrapNames(trap_log, x=Trap(trap_log), y=[1, 2], s="abc", d={"a": 1})
    outcomes: dict[str, Exception | None] = {}
    arm(True)
    try:
        for source in RUN_TIME_ESCAPES:
            outcomes[source] = _attempt(source, names)
    finally:
        arm(False)
    not_stopped = {
        s[:60]: repr(e) for s, e in outcomes.items() if not isinstance(e, ExpressionError)
    }
    assert not_stopped == {}
    assert ran == []
    assert trap_log == []


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("__class__", "'__class__' is not allowed: names starting with '_' are refused"),
        ("().__class__.__base__", "'__base__' is not allowed: names starting with '_' are refused"),
        ("__import__('os').system('id')", "'__import__' is not allowed"),
        ("open('/etc/passwd')", "calling 'open' is not allowed"),
        ("lambda: 1", "lambda expressions are not allowed"),
        ("[x for x in y]", "comprehensions are not allowed"),
        ("(x for x in y)", "generator expressions are not allowed"),
        ("(x := 1)", r"assignment expressions \(':='\) are not allowed"),
        ("x.mro()", "method calls are not allowed: 'x.mro"),
        ("f'{x!r}'", "conversions in f-strings"),
        ("f'{x:>10}'", "format specifications in f-strings are not allowed"),
        ("sorted(x, key=len)", r"keyword arguments are not allowed \('key='\)"),
        ("dict(**x)", "calling 'dict' is not allowed"),
        ("len(**x)", "'\\*\\*' unpacking is not allowed"),
        ("max(*x)", "'\\*' unpacking is not allowed"),
        ("x is y", "'is' may only compare with None"),
        ("x << 1", "the '<<' operator is not allowed"),
        ("a" * (MAX_SOURCE_LENGTH + 1), "the expression is too long"),
        ("[" * 60 + "]" * 60, "nested too deeply"),
        ("[" + "1, " * 450 + "]", "the expression is too large"),
    ],
)
def test_refusals_say_what_is_wrong(source: str, message: str) -> None:
    with pytest.raises(UnsafeExpression, match=message):
        compile_expression(source)


def test_pow_and_repetition_caps() -> None:
    assert evaluate("2 ** 100", {}) == 2**100
    assert evaluate("1000 ** 100", {}) == 10**300
    assert evaluate("'a' * 10000", {}) == "a" * 10000
    with pytest.raises(ExpressionError, match="too large"):
        evaluate("2 ** 101", {})
    with pytest.raises(ExpressionError, match="too large"):
        evaluate("2000 ** 100", {})
    with pytest.raises(ExpressionError, match="too long"):
        evaluate("'ab' * 5001", {})
    with pytest.raises(ExpressionError, match="too large"):
        evaluate("1e300 ** 2", {})


# --------------------------------------------------------------------------- SpiffWorkflow

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    id="defs" targetNamespace="http://example.org/carepath">
  <bpmn:process id="decide" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="gateway"/>
    <bpmn:exclusiveGateway id="gateway" name="After the referral" default="f2">
      <bpmn:incoming>f0</bpmn:incoming>
      <bpmn:outgoing>f1</bpmn:outgoing>
      <bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="f1" sourceRef="gateway" targetRef="strategy">
      <bpmn:conditionExpression>CONDITION</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f2" sourceRef="gateway" targetRef="closed"/>
    <bpmn:endEvent id="strategy"><bpmn:incoming>f1</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="closed"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


def _gateway_workflow(condition: str, data: dict[str, Any], engine: Any) -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    xml = BPMN.replace("CONDITION", condition.replace("&", "&amp;").replace("<", "&lt;"))
    parser.add_bpmn_str(xml.encode())
    workflow = BpmnWorkflow(parser.get_spec("decide"), {}, script_engine=engine)
    workflow.get_tasks(state=TaskState.READY)[0].data.update(data)
    return workflow


def _reached(workflow: BpmnWorkflow) -> set[str]:
    return {
        t.task_spec.bpmn_id
        for t in workflow.get_tasks(state=TaskState.COMPLETED)
        if t.task_spec.bpmn_id in ("strategy", "closed")
    }


def test_spiff_gateway_conditions_use_the_safe_environment() -> None:
    seen: list[str] = []

    class Recording(SafeScriptEnvironment):
        def evaluate(self, expression: str, context: Any, external_context: Any = None) -> Any:
            seen.append(expression)
            return super().evaluate(expression, context, external_context)

    engine = safe_script_engine({})
    engine.environment = Recording({})
    condition = "next_step == 'strategy' and len(concerns) > 0"
    workflow = _gateway_workflow(condition, {"next_step": "strategy", "concerns": ["a"]}, engine)
    workflow.do_engine_steps()
    assert workflow.is_completed() and _reached(workflow) == {"strategy"}
    assert seen == [condition]

    other = _gateway_workflow(condition, {"next_step": "nfa", "concerns": []}, safe_script_engine())
    other.do_engine_steps()
    assert _reached(other) == {"closed"}


def test_spiff_gateway_escape_fails_with_our_error_and_runs_nothing(
    guarded: tuple[list[str], Callable[[bool], None]],
) -> None:
    ran, arm = guarded
    trap_log: list[str] = []
    workflow = _gateway_workflow(
        "__import__('os').system('id') == 0", {"x": Trap(trap_log)}, safe_script_engine({})
    )
    arm(True)
    try:
        with pytest.raises(UnsafeExpression, match="'__import__' is not allowed") as caught:
            workflow.do_engine_steps()
    finally:
        arm(False)
    assert ran == [] and trap_log == []
    assert any("After the referral" in note for note in caught.value.__notes__)

    method = _gateway_workflow("x.system('id')", {"x": Trap(trap_log)}, safe_script_engine())
    with pytest.raises(UnsafeExpression, match="method calls are not allowed"):
        method.do_engine_steps()
    assert trap_log == []


def test_spiff_gateway_error_message_surfaces() -> None:
    workflow = _gateway_workflow(
        "next_stpe == 'strategy'", {"next_step": "x"}, safe_script_engine()
    )
    with pytest.raises(ExpressionError, match="'next_stpe' is not defined"):
        workflow.do_engine_steps()


def test_spiffs_own_engine_would_hide_our_message() -> None:
    # Why safe_script_engine() has its own engine class: Spiff's wraps the error and keeps only
    # its class name.
    engine = PythonScriptEngine(environment=SafeScriptEnvironment({}))
    workflow = _gateway_workflow("next_stpe == 'x'", {}, engine)
    with pytest.raises(WorkflowTaskException) as caught:
        workflow.do_engine_steps()
    assert "is not defined" not in str(caught.value)
    assert caught.value.error_type == "ExpressionError"


def test_spiff_timer_expressions_are_quoted_strings() -> None:
    environment = SafeScriptEnvironment({})
    assert environment.evaluate('"P7D"', {}) == "P7D"
    assert environment.evaluate("cooling_off", {"cooling_off": "PT1H"}) == "PT1H"


def test_environment_reads_task_data_over_external_context() -> None:
    environment = SafeScriptEnvironment({"double": lambda n: 2 * n})
    assert environment.evaluate("double(a) + b", {"a": 1}, {"a": 100, "b": 10}) == 12
    with pytest.raises(UnsafeExpression, match="calling 'months_after' is not allowed"):
        environment.evaluate("months_after(a, 1)", {"a": 1})


def test_scripts_and_services_are_refused() -> None:
    environment = SafeScriptEnvironment({})
    data: dict[str, Any] = {}
    with pytest.raises(UnsafeExpression, match="scripts are not allowed in carepath packs"):
        environment.execute("x = 1", data)
    assert data == {}
    with pytest.raises(UnsafeExpression):
        environment.call_service(data, operation_name="anything")
    engine = safe_script_engine()
    with pytest.raises(UnsafeExpression, match="scripts are not allowed"):
        engine.execute(object(), "import os")
    with pytest.raises(UnsafeExpression):
        engine.validate("__import__('os')")
    engine.validate("a > 1")
