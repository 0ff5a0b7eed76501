"""The safe expression language of packs, and the Spiff script environment that uses it.

Pack authors are not trusted to run code, so expressions are never handed to Python's
``eval``/``exec``: :func:`compile_expression` parses the source with :mod:`ast`, refuses anything
outside a small allow-list before a single node runs, and :class:`Expression` interprets the
tree itself. The language is described in ``docs/pack-authoring.md`` ("Expressions").

This module is where the rest of carepath imports the language from; the parts live in
:mod:`carepath.engine.expression_language` (what is allowed, and the checks),
:mod:`carepath.engine.expression_eval` (compiling and the interpreter),
:mod:`carepath.engine.expression_builtins` (``len``, ``min``…) and
:mod:`carepath.engine.script_environment` (SpiffWorkflow).
"""

from __future__ import annotations

from carepath.engine.expression_eval import Expression, compile_expression, evaluate, names_in
from carepath.engine.expression_language import (
    BUILTIN_FUNCTIONS,
    DATE_FUNCTIONS,
    DEFAULT_FUNCTIONS,
    MAX_CONCAT,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_NODES,
    MAX_POWER_BITS,
    MAX_REPEAT,
    MAX_ROUND_DIGITS,
    MAX_SOURCE_LENGTH,
)
from carepath.engine.script_environment import (
    SafeScriptEngine,
    SafeScriptEnvironment,
    safe_script_engine,
)

__all__ = [
    "BUILTIN_FUNCTIONS",
    "DATE_FUNCTIONS",
    "DEFAULT_FUNCTIONS",
    "MAX_CONCAT",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_NODES",
    "MAX_POWER_BITS",
    "MAX_REPEAT",
    "MAX_ROUND_DIGITS",
    "MAX_SOURCE_LENGTH",
    "Expression",
    "SafeScriptEngine",
    "SafeScriptEnvironment",
    "compile_expression",
    "evaluate",
    "names_in",
    "safe_script_engine",
]
