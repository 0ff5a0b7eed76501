"""The budget of one evaluation: small expressions that would exhaust CPU or memory are stopped.

Each form of the corpus runs in a child process (killed after 10 s) through every place a pack
expression runs -- plain evaluation, a gateway condition and a timer in a running workflow, a form's
``show_if`` and a timescale -- and must raise the budget's error (at load or while evaluating)
within 100 MB of traced memory. Time is reported generously (under 5 s; in practice milliseconds)
so that a loaded CI machine cannot make the test flake.
"""

from __future__ import annotations

import ast
import json
import multiprocessing
import textwrap
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from carepath.core.errors import CarepathError, ExpressionError, PackError, UnsafeExpression
from carepath.core.expressions import budget
from carepath.core.expressions.evaluator import Expression, compile_expression, evaluate
from carepath.core.expressions.language import (
    MAX_INT_BITS,
    MAX_ITEMS,
    MAX_REPEAT,
    MAX_STEPS,
    MAX_VALUE_DEPTH,
)
from carepath.core.yamlsource import load_yaml
from carepath.engine.bpmn.specs import ProcessLibrary
from carepath.engine.process_language.compiler import compile_to_bpmn, parse_process
from carepath.engine.runtime import timer_date
from carepath.engine.time.timescales import parse_timescales
from carepath.engine.workflow import WorkflowInstance
from carepath.forms.loader import parse_form
from carepath.forms.validation import ValidationContext, validate

# --------------------------------------------------------------------------- the corpus

# Names the corpus reads. A form can give the first five as answers (numbers and a text).
SMALL: dict[str, Any] = {"n": 10_000, "h": 100, "k": 9, "x": 0, "t": "a"}
DATA_ROWS = 70_000  # task data as large as no real case has: 'd'
DEEP_LEVELS = MAX_VALUE_DEPTH + 20  # task data nested deeper than the budget goes: 'deep'


READ = {*SMALL, "d", "deep"}


def _names() -> dict[str, Any]:
    deep: list[Any] = []
    for _ in range(DEEP_LEVELS):
        deep = [deep]
    return {**SMALL, "d": [0] * DATA_ROWS, "deep": deep}


def _chain(part: str, times: int, joiner: str = " + ") -> str:
    return joiner.join([part] * times)


@dataclass(frozen=True)
class Case:
    source: str
    stage: str  # "compile": refused when the pack loads; "run": while evaluating


def _compile(source: str) -> Case:
    return Case(source, "compile")


def _run(source: str) -> Case:
    return Case(source, "run")


CORPUS: list[Case] = [
    # Too large on its face: refused when the pack loads.
    _compile("len(str([[0] * 10**4] * 10**4))"),
    _compile("[[[0]*10000]*10000]*10000 == [[[0]*10000]*10000]*10000"),
    _compile("len(str([[[['a'*100]*100]*100]*100]*100)) > 0"),
    _compile("str([[0] * 1000] * 1000)"),
    _compile(_chain("[0] * 9000", 11)),
    _compile("f'{[[0] * 1000] * 1000}'"),
    _compile("sorted([[0] * 8] * 10000)"),
    _compile("[[0] * 10000] * 10000 if x else 0"),
    _compile("2 ** 10 ** 10"),
    _compile("10 ** 100000"),
    _compile("9 ** 9 ** 9"),
    _compile("2000 ** 100"),
    _compile(_chain("10 ** 100", 13, " * ")),
    _compile("'a' * 10 ** 9"),
    _compile("'ab' * 5001 == t"),
    # Sizes only the data reveals: stopped while evaluating.
    _run("len(str([[x] * n] * n))"),
    _run("[[[x]*n]*n]*n == [[[x]*n]*n]*n"),
    _run("len(str([[[[t*h]*h]*h]*h]*h)) > 0"),
    _run("[[[[[[x] * k] * k] * k] * k] * k] * k"),
    _run("[[x] * n] * h"),
    _run("[t * n] * n"),
    _run("str([[x] * k] * n)"),
    _run("f'{[[x] * k] * n}'"),
    _run("[[x] * k] * n == [[x] * k] * n"),
    _run("[[x] * k] * n < [[x] * k] * n"),
    _run("[[x] * n] * k in [[[x] * n] * k] * k"),
    _run("sorted([[x] * k] * n)"),
    _run("sorted(str([[x] * k] * n))"),
    _run("max([[x] * k] * n) == max([[x] * k] * n)"),
    _run("min([[x] * k] * n, [[x] * k] * n)"),
    _run("len([[x] * k] * n) + len([[x] * k] * n)"),
    _run("any([[x] * k] * n) and all([[x] * k] * n)"),
    _run("([[x] * k] * n)[::1] == ([[x] * k] * n)[::-1]"),
    _run("{((x,) * k,) * n} == {((x,) * k,) * n}"),
    _run("str({t * k: [x] * n, t: [[x] * k] * n})"),
    _run(_chain("[x] * n", 10)),
    _run(_chain("t * n", 10)),
    _run("f'" + "{t * n}" * 11 + "'"),
    _run(_chain("str(t * n)", 11)),
    _run("t * n * n"),
    _run(_chain("h ** h", 7, " * ")),
    _run("n ** 75"),
    _run("n ** n"),
    _run("int(str(n) * 700)"),
    # Task data larger or deeper than anything real: each use of it is charged in full.
    _run(_chain("d == d", 8, " and ")),
    _run(_chain("x in d", 15, " and ")),
    _run("str(d)"),
    _run("f'{d}'"),
    _run("sorted(d)"),
    _run(_chain("max(d)", 8)),
    _run("d + d"),
    _run("d[:] + d[:]"),
    _run("deep == deep"),
    _run("len(d) > 0 and str(deep)"),
]

# What the budget's errors say (one of these ends every message).
BUDGET_DETAILS = (
    budget.ITEMS, budget.STEPS, budget.TEXT, budget.NUMBER, budget.REPEAT, budget.CONCAT,
    budget.POWER_BITS, budget.DEEP, budget.power_detail(""),
)


def _is_budget_message(message: str) -> bool:
    return any(detail.split("(")[0] in message for detail in BUDGET_DETAILS)


def _reads(source: str) -> set[str]:
    tree = ast.parse(source, mode="eval")
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called}


# --------------------------------------------------------------------------- the places


def _plain(source: str, names: dict[str, Any]) -> str:
    compile_expression(source).evaluate(names)
    return "no error"


def _process(text: str) -> ProcessLibrary:
    library = ProcessLibrary()
    model = parse_process(load_yaml(textwrap.dedent(text), "p.yaml"), "p.yaml")
    library.add(compile_to_bpmn(model), "p.yaml")
    return library


def _gateway(source: str, names: dict[str, Any]) -> str:
    library = _process(f"""
        id: decide
        title: Decide
        steps:
          - decision: choose
            title: Choose
            branches:
              - when: {json.dumps(source)}
                steps:
                  - end: chosen
                    title: Chosen
            default:
              steps: []
          - end: done
            title: Done
        """)
    WorkflowInstance.start(library.specs("decide"), names, {"timer_date": timer_date})
    return "no error"


def _timer(source: str, names: dict[str, Any]) -> str:
    library = _process(f"""
        id: wait
        title: Wait
        steps:
          - timer: until_then
            title: Until then
            until: {json.dumps(source)}
          - end: done
            title: Done
        """)
    WorkflowInstance.start(library.specs("wait"), names, {"timer_date": timer_date})
    return "no error"


def _show_if(source: str, names: dict[str, Any]) -> str:
    fields = "".join(
        f"  - {{name: {name}, type: {'text' if name == 't' else 'number'}, label: {name.upper()}}}\n"
        for name in SMALL
    )
    text = (
        "id: budget\ntitle: Budget\nfields:\n" + fields
        + f"  - {{name: q, type: text, label: Q, show_if: {json.dumps(source)}}}\n"
    )
    form = parse_form(load_yaml(text, "forms/budget.yaml"), "forms/budget.yaml", {})
    validate(form, {name: names[name] for name in SMALL}, ValidationContext(today=date(2025, 3, 3)))
    return "no error"


class _OnChild(ast.NodeTransformer):
    """Timescales read record namespaces only: the corpus's names become ``child.<name>``."""

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id not in READ:
            return node  # a function
        return ast.Attribute(ast.Name("child", ast.Load()), node.id, ast.Load())


def _timescale(source: str, names: dict[str, Any]) -> str:
    # The corpus's names (x, n...) are not record names, which pack loading refuses on its own;
    # this child process lets them through so the budget is what is tested on this path.
    import carepath.engine.time.timescales as timescales_module

    checked = timescales_module.record_read_problem
    timescales_module.record_read_problem = lambda paths: None  # type: ignore[assignment]
    try:
        on_child = ast.unparse(_OnChild().visit(ast.parse(source, mode="eval")))
        text = (f"timescales:\n  budget:\n    title: Budget\n"
                f"    expression: {json.dumps(on_child)}\n")
        timescales = parse_timescales(load_yaml(text, "timescales.yaml"), "timescales.yaml")
        timescales.due("budget", {"child": names})
    finally:
        timescales_module.record_read_problem = checked
    return "no error"


PLACES: dict[str, Callable[[str, dict[str, Any]], str]] = {
    "evaluate": _plain,
    "gateway": _gateway,
    "timer": _timer,
    "show_if": _show_if,
    "timescale": _timescale,
}
# Where each place says the expression is written, when it fails while evaluating.
ORIGINS = {
    "gateway": "p.yaml:", "timer": "p.yaml:", "show_if": "forms/budget.yaml:",
    "timescale": "timescales.yaml:",
}


# --------------------------------------------------------------------------- the child process


@dataclass(frozen=True)
class Outcome:
    error: str  # the class of what was raised ("" if nothing was)
    message: str
    stage: str  # "compile" or "run"
    seconds: float
    peak_bytes: int


def _child(place: str, source: str, conn: Any) -> None:
    # Made before measuring (the data is not the expression's doing); only what the case reads,
    # as a workflow copies all of its data when it starts.
    names = {k: v for k, v in _names().items() if k in SMALL or k in _reads(source)}
    tracemalloc.start()
    started = time.perf_counter()
    error, message, stage = "", "", "run"
    try:
        PLACES[place](source, names)
    except BaseException as exc:  # the parent judges whatever came out
        error, message = type(exc).__name__, str(exc)
        compiled = isinstance(exc, PackError) or (
            place == "evaluate" and _refused_by_compiling(source)
        )
        stage = "compile" if compiled else "run"
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    conn.send(Outcome(error, message, stage, seconds, peak))
    conn.close()


def _refused_by_compiling(source: str) -> bool:
    try:
        compile_expression(source)
    except ExpressionError:
        return True
    return False


def _in_child(place: str, source: str) -> Outcome:
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(place, source, send), daemon=True)
    process.start()
    send.close()
    try:
        if not receive.poll(10):
            pytest.fail(f"{place}: '{source}' did not stop within 10 s")
        outcome: Outcome = receive.recv()
    finally:
        process.join(1)
        if process.is_alive():
            process.kill()
            process.join()
        receive.close()
    return outcome


def _runs(case: Case) -> list[str]:
    places = list(PLACES)
    if not _reads(case.source) <= set(SMALL):
        places.remove("show_if")  # a form's answers are short numbers and texts
    return places


@pytest.mark.parametrize(
    ("place", "case"),
    [(place, case) for case in CORPUS for place in _runs(case)],
    ids=[f"{place}-{i}" for i, case in enumerate(CORPUS) for place in _runs(case)],
)
def test_each_form_is_stopped_everywhere_expressions_run(
    place: str, case: Case, record_property: Callable[[str, object], None]
) -> None:
    outcome = _in_child(place, case.source)
    record_property("seconds", round(outcome.seconds, 3))  # in the JUnit report, for the record
    record_property("peak_mib", round(outcome.peak_bytes / 2**20, 2))
    assert outcome.error in ("UnsafeExpression", "PackError"), outcome
    assert _is_budget_message(outcome.message), outcome
    assert outcome.stage == case.stage, outcome
    if outcome.stage == "run":
        # Named by its text (a timer's inside timer_date(), a timescale's names on 'child.').
        assert case.source[:30] in outcome.message or place == "timescale", outcome
        if place in ORIGINS:
            assert ORIGINS[place] in outcome.message, outcome
    assert outcome.peak_bytes < 100 * 2**20, outcome
    assert outcome.seconds < 5, outcome


def test_the_corpus_is_large_and_covers_every_place() -> None:
    assert len(CORPUS) >= 30 and len({c.source for c in CORPUS}) == len(CORPUS)
    assert sum(c.stage == "compile" for c in CORPUS) >= 10
    assert sum("show_if" in _runs(c) for c in CORPUS) >= 30


# Forms the language refuses outright, before any budget applies.
OUTSIDE_THE_LANGUAGE = [
    "','.join([t] * n)",
    "t.replace('a', t * n)",
    "'{:>1000000000}'.format(t)",
    "f'{t:>{10**9}}'",
    "[[x] * n for _ in [x] * n]",
    "[y for y in [[x] * n] * n]",
    "sum([[x] * n] * n, [])",
    "list(range(10 ** 9))",
    "1 << 10 ** 6",
    "x << n",
]


@pytest.mark.parametrize("source", OUTSIDE_THE_LANGUAGE)
def test_growth_functions_and_comprehensions_are_not_in_the_language(source: str) -> None:
    with pytest.raises(UnsafeExpression):
        compile_expression(source)


# --------------------------------------------------------------------------- the budget itself


def test_ordinary_expressions_are_far_inside_the_budget() -> None:
    names = {"outcome": "cin_plan", "factors": ["1A", "3B"], "n": 3, "x": 0}
    assert evaluate("outcome in ('cin_plan', 'cp_plan') and len(factors) > 1", names) is True
    assert evaluate("sorted(factors + ['2C'])", names) == ["1A", "2C", "3B"]
    assert evaluate("str([[x] * 3] * 2)", names) == "[[0, 0, 0], [0, 0, 0]]"
    assert evaluate("len([0] * 10000) + len('a' * 10000)", names) == 20_000
    assert evaluate("len([[x] * 8] * 10000)", names) == 10_000
    assert evaluate("10 ** 100 * 10 ** 100 > 0", names) is True
    assert evaluate("f'{factors}'", names) == "['1A', '3B']"


def test_nested_repetition_counts_in_full() -> None:
    # Every value made counts its full size, though Python shares the inner list: here
    # 2 + 8,001 + 8,002 + 80,011 items.
    assert len(evaluate("[[x] * 8000] * 10", {"x": 0})) == 10
    with pytest.raises(UnsafeExpression, match="builds more than 100,000 items"):
        evaluate("[[x] * n] * 12", {"x": 0, "n": 8000})
    # The same, known from the literals alone, is refused before anything runs.
    with pytest.raises(UnsafeExpression, match="^it builds more than 100,000 items"):
        compile_expression("[[x] * 8000] * 12")


def test_limits_are_documented_values() -> None:
    assert (MAX_ITEMS, MAX_STEPS, MAX_REPEAT, MAX_INT_BITS) == (100_000, 1_000_000, 10_000, 4_000)


def test_runtime_errors_name_the_expression_and_where_it_is_written() -> None:
    expression = compile_expression("[[x] * n] * n").at("forms/plan.yaml", 12)
    with pytest.raises(UnsafeExpression) as caught:
        expression.evaluate({"x": 0, "n": 10_000})
    assert str(caught.value) == (
        "forms/plan.yaml:12: the expression '[[x] * n] * n' builds more than 100,000 items "
        "(list items, mapping entries and characters of text, counted in full)"
    )
    # The place plays no part in equality: the same text compiles to one shared expression.
    assert expression == compile_expression("[[x] * n] * n")
    assert isinstance(expression, Expression) and expression.origin == "forms/plan.yaml:12"


def test_load_time_refusals_name_the_file_and_line() -> None:
    with pytest.raises(PackError, match=r"^forms/budget\.yaml:\d+: show_if .* it builds more"):
        _show_if("[[0] * 10000] * 10000 == t", SMALL)
    with pytest.raises(PackError, match=r"^timescales\.yaml:\d+: .* raises to a power"):
        _timescale("2 ** 10 ** 10", SMALL)
    with pytest.raises(PackError, match=r"^p\.yaml:\d+: .* makes a list or text too long"):
        _gateway("'a' * 10 ** 9 == t", SMALL)


def test_a_show_if_over_budget_is_reported_not_hidden() -> None:
    with pytest.raises(UnsafeExpression, match=r"forms/budget\.yaml:\d+: the expression"):
        _show_if("len([[x] * n] * n) > 0", SMALL)
    # A show_if that merely cannot be worked out still hides its field.
    assert _show_if("t > n", SMALL) == "no error"


def test_a_gateway_over_budget_names_the_gateway_and_the_line() -> None:
    with pytest.raises(UnsafeExpression) as caught:
        _gateway("len(str([[x] * n] * n)) > 0", _names())
    assert str(caught.value).startswith("Condition on 'Choose' failed: p.yaml:")
    assert isinstance(caught.value, CarepathError)
