"""The settings of pack.yaml beyond the pack's name and processes, each checked against the pack:
``actions:`` (work a worker may start at any point, :class:`Action`), ``accept_undecided:``,
``migrations:`` (where the steps of an earlier version went) and ``retired:`` (processes kept
only for instances already running). Each parser adds what is wrong to ``problems`` (with the
line) and returns what it could read. No I/O."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from carepath.core.errors import ExpressionError, PackError
from carepath.core.expressions.evaluator import Expression, compile_expression
from carepath.core.record_items import RECORD_ITEMS
from carepath.core.yamlsource import SourceDict
from carepath.engine.bpmn.specs import ProcessLibrary
from carepath.engine.record.context import record_names
from carepath.forms.schema import Form

NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")  # pack, action and process names
ACTION_KEYS = {"title", "available", "role", "start", "change"}
REQUIRED_ACTION_KEYS = ("available", "role", "title")
# Changes to a case the engine makes itself, which an action may offer instead of a process.
ACTION_CHANGES = {"worker": "the allocated worker"}


@dataclass(frozen=True)
class Action:
    """Work a worker may start on a case whatever stage it is at (``actions:`` in pack.yaml):
    while ``available`` is true over the record, someone holding ``role`` may start the process
    ``start`` as its own instance on the current episode, or make the engine's own change
    ``change`` (``worker``: the allocated worker) to the case."""

    name: str
    title: str
    available: Expression
    role: str
    start: str | None
    line: int = 0
    change: str | None = None


def parse_retired(data: Any, manifest: SourceDict, library: ProcessLibrary,
                   actions: dict[str, Action], start: Any,
                   problems: list[PackError]) -> frozenset[str]:
    """``retired:``: process ids kept only so that instances started before a change of the
    pack can restore and finish. Nothing may start them: not the pack's start, not an action
    (a process's own end steps are checked by ``pack check``, which reports any path to one)."""
    if data is None:
        return frozenset()
    line = manifest.line_of("retired")
    if not isinstance(data, list) or not all(isinstance(p, str) for p in data):
        problems.append(PackError("'retired' must be a list of process ids", "pack.yaml",
                                  line))
        return frozenset()
    known = set(library.process_ids())
    for process_id in data:
        if process_id not in known:
            problems.append(PackError(f"retired: there is no process '{process_id}' in this "
                                      "pack", "pack.yaml", line))
        elif process_id == start:
            problems.append(PackError(f"retired: '{process_id}' is the pack's start process",
                                      "pack.yaml", line))
        for name, action in actions.items():
            if action.start == process_id:
                problems.append(PackError(f"retired: '{process_id}' is started by the action "
                                          f"'{name}'", "pack.yaml", line))
    return frozenset(data)


def parse_migrations(data: Any, manifest: SourceDict, library: ProcessLibrary,
                      problems: list[PackError]) -> dict[str, dict[str, str]]:
    """``migrations:``: for a process, where each step of an earlier version went in this one
    (``process: {old step id: new step id}``), for moving running cases onto this version."""
    if data is None:
        return {}
    line = manifest.line_of("migrations")
    if not isinstance(data, dict):
        problems.append(PackError("'migrations' must map a process id to {old step id: new "
                                  "step id}", "pack.yaml", line))
        return {}
    known = set(library.process_ids())
    result: dict[str, dict[str, str]] = {}
    for process_id, steps in data.items():
        where = data.line_of(process_id) if isinstance(data, SourceDict) else line
        if process_id not in known:
            problems.append(PackError(f"migrations: there is no process '{process_id}' in this "
                                      "pack", "pack.yaml", where))
            continue
        if not isinstance(steps, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in steps.items()):
            problems.append(PackError(f"migrations: '{process_id}' must map old step ids to "
                                      "new step ids (text)", "pack.yaml", where))
            continue
        spec = library.specs(process_id).spec
        for old_id, new_id in steps.items():
            if new_id not in spec.task_specs:
                problems.append(PackError(
                    f"migrations: '{process_id}' maps '{old_id}' to '{new_id}', which is no "
                    f"step of process '{process_id}'", "pack.yaml", where))
            elif old_id == new_id:
                problems.append(PackError(f"migrations: '{process_id}' maps '{old_id}' to "
                                          "itself", "pack.yaml", where))
        result[str(process_id)] = {str(k): str(v) for k, v in steps.items()}
    return result


def parse_accepted(data: Any, manifest: SourceDict, forms: Mapping[str, Form],
                    problems: list[PackError]) -> frozenset[str]:
    """``accept_undecided:``: record items (``assessment.authorised``) or form fields
    (``close_case.closure_date``) whose ``show_if`` `pack check` may leave undecided."""
    if data is None:
        return frozenset()
    line = manifest.line_of("accept_undecided")
    if not isinstance(data, list) or not all(isinstance(x, str) for x in data):
        problems.append(PackError("'accept_undecided' must be a list of record items or "
                                  "form.field names", "pack.yaml", line))
        return frozenset()
    for entry in data:
        form_id, _, name = entry.partition(".")
        form = forms.get(form_id)
        if entry in RECORD_ITEMS or (form is not None and name in form.names()):
            continue
        problems.append(PackError(f"accept_undecided: '{entry}' is neither a record item nor "
                                  "a field of a form of this pack (form.field)", "pack.yaml",
                                  line))
    return frozenset(data)


def parse_actions(data: Any, manifest: SourceDict, process_ids: Iterable[str],
                   file: str, problems: list[PackError]) -> dict[str, Action]:
    """``actions:``: name -> title, available (an expression over the record), role, start."""
    if data is None:
        return {}
    if not isinstance(data, SourceDict):
        problems.append(PackError("'actions' must be a mapping of action name to its settings",
                                  file, manifest.line_of("actions")))
        return {}
    roles = manifest.get("roles")
    role_ids = set(roles) if isinstance(roles, Mapping) else set()
    processes = set(process_ids)
    names = record_names()
    actions: dict[str, Action] = {}
    for name, spec in data.items():
        line = data.line_of(name)
        where = f"action '{name}'"
        if not isinstance(name, str) or not NAME_RE.match(name):
            problems.append(PackError(f"{where}: the name must be lower case letters, digits, "
                                      "'-' or '_'", file, line))
            continue
        if not isinstance(spec, SourceDict):
            problems.append(PackError(f"{where} needs title, available, role and start (or "
                                      "change)", file, line))
            continue
        found = len(problems)
        for key in spec:
            if key not in ACTION_KEYS:
                problems.append(PackError(f"unknown setting '{key}' on {where} (allowed: "
                                          f"{', '.join(sorted(ACTION_KEYS))})", file,
                                          spec.line_of(key)))
        for key in REQUIRED_ACTION_KEYS:
            value = spec.get(key)
            if not isinstance(value, str) or not value.strip():
                problems.append(PackError(f"{where}: '{key}' is required and must be text",
                                          file, spec.line_of(key) or line))
        if ("start" in spec) == ("change" in spec):
            problems.append(PackError(f"{where} needs exactly one of 'start' (a process) and "
                                      f"'change' ({', '.join(sorted(ACTION_CHANGES))})", file,
                                      line))
        elif "change" in spec and spec.get("change") not in ACTION_CHANGES:
            problems.append(PackError(f"{where}: 'change' must be one of "
                                      f"{', '.join(sorted(ACTION_CHANGES))}", file,
                                      spec.line_of("change")))
        elif "start" in spec and not (isinstance(spec.get("start"), str)
                                      and str(spec["start"]).strip()):
            problems.append(PackError(f"{where}: 'start' must be the id of a process", file,
                                      spec.line_of("start")))
        if len(problems) > found:
            continue
        role = str(spec["role"])
        start = str(spec["start"]) if "start" in spec else None
        change = str(spec["change"]) if "change" in spec else None
        if role not in role_ids:
            problems.append(PackError(f"{where} has role '{role}', which pack.yaml does not "
                                      "list under roles", file, spec.line_of("role")))
        if start is not None and start not in processes:
            problems.append(PackError(f"{where} starts '{start}', which is not a process of "
                                      f"this pack (found: {', '.join(sorted(processes)) or 'none'})",
                                      file, spec.line_of("start")))
        source = str(spec["available"])
        try:
            expression = compile_expression(source)
        except ExpressionError as exc:
            problems.append(PackError(f"{where}: the expression '{source}' is refused: "
                                      f"{exc.message}", file, spec.line_of("available")))
            continue
        unknown = sorted((expression.names | expression.paths) - names)
        if unknown:
            problems.append(PackError(
                f"{where}: '{source}' reads '{unknown[0]}', which is not a record name "
                "(for example episode.open, assessment.open, s47.open, cin_plan.open, "
                "cp_plan.open)", file, spec.line_of("available")))
            continue
        if len(problems) == found:
            actions[name] = Action(name, str(spec["title"]).strip(), expression, role, start,
                                   line or 0, change)
    return actions
