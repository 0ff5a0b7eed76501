"""A process pack: processes, forms, code lists and timescales, checked and compiled as one.

``build_pack`` takes the pack's files as text (the adapters read them from a directory or an
installed distribution) and returns a :class:`Pack` or raises :class:`PackErrors` listing every
problem with its file and line. A pack is accepted whole or not at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import PurePosixPath
from typing import Any

from carepath import __version__
from carepath.core.codes import STATUTORY_CODELISTS, Codelist
from carepath.core.errors import CarepathError, ExpressionError, PackError
from carepath.core.expressions.evaluator import Expression, compile_expression
from carepath.core.record_items import RECORD_ITEMS
from carepath.core.yamlsource import SourceDict, load_yaml
from carepath.engine.bpmn.specs import ProcessLibrary, ProcessSpecs, TaskInfo
from carepath.engine.process_language.compiler import compile_to_bpmn, parse_process, source_lines
from carepath.engine.record.context import record_names
from carepath.engine.time.timescales import Timescales, parse_timescales
from carepath.forms.codelists import parse_codelist
from carepath.forms.loader import parse_form
from carepath.forms.schema import Form

NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
SEMVER_RE = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$")
PACK_KEYS = {"name", "version", "title", "engine", "description", "licence", "start", "roles",
             "actions", "accept_undecided", "migrations", "retired"}
ROLE_KEYS = {"title", "assign"}
ACTION_KEYS = {"title", "available", "role", "start", "change"}
REQUIRED_ACTION_KEYS = ("available", "role", "title")
# Changes to a case the engine makes itself, which an action may offer instead of a process.
ACTION_CHANGES = {"worker": "the allocated worker"}


class PackErrors(CarepathError):
    """Every problem found in a pack; the pack is refused whole."""

    def __init__(self, source: str, problems: list[PackError]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        count = f"{len(problems)} problem" + ("s" if len(problems) != 1 else "")
        super().__init__(f"The pack at {source} was refused ({count}):\n{lines}")


@dataclass(frozen=True)
class Role:
    id: str
    title: str
    assign: str | None = None  # "case_worker": tasks go to the case's allocated worker


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


@dataclass
class Pack:
    name: str
    version: str
    title: str
    engine: str
    description: str
    licence: str
    start: str
    roles: dict[str, Role]
    forms: dict[str, Form]
    codelists: dict[str, Codelist]
    timescales: Timescales
    library: ProcessLibrary
    source: str
    # process id -> (file name, BPMN XML) for every process, compiled or as written
    bpmn: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    process_models: dict[str, Any] = field(default_factory=dict)
    actions: dict[str, Action] = field(default_factory=dict)
    # record items or form.field names whose undecidable show_if `pack check` accepts
    accept_undecided: frozenset[str] = frozenset()
    # ``migrations:``: process id -> {step id of an earlier version -> step id in this one}
    migrations: dict[str, dict[str, str]] = field(default_factory=dict)
    # ``retired:``: processes kept only so that instances already running can finish
    retired: frozenset[str] = frozenset()

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    def specs(self, process_id: str) -> ProcessSpecs:
        return self.library.specs(process_id)

    def form(self, form_id: str) -> Form:
        return self.forms[form_id]

    def task_info(self, process_id: str, bpmn_id: str) -> TaskInfo | None:
        return self.specs(process_id).tasks.get(bpmn_id)


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


def engine_range_allows(spec: str, version: str = __version__) -> bool:
    """True if ``version`` satisfies a range like ">=0.1,<1" (comparisons joined by commas)."""
    have = _version_tuple(version)
    for part in spec.split(","):
        part = part.strip()
        match = re.fullmatch(r"(>=|<=|==|!=|>|<)\s*([0-9][0-9.]*)", part)
        if not match:
            raise ValueError(part)
        op, ver = match.groups()
        want = _version_tuple(ver)
        width = max(len(have), len(want))
        a = have + (0,) * (width - len(have))
        b = want + (0,) * (width - len(want))
        ok = {
            ">=": a >= b,
            "<=": a <= b,
            "==": a == b,
            "!=": a != b,
            ">": a > b,
            "<": a < b,
        }[op]
        if not ok:
            return False
    return True


def _parse_manifest(data: Any, file: str, problems: list[PackError]) -> dict[str, Any] | None:
    if not isinstance(data, SourceDict):
        problems.append(PackError("pack.yaml must be a mapping of settings", file, 1))
        return None
    for key in data:
        if key not in PACK_KEYS:
            problems.append(
                PackError(f"unknown setting '{key}' (allowed: {', '.join(sorted(PACK_KEYS))})",
                          file, data.line_of(key))
            )
    for key in ("name", "version", "title", "engine", "start"):
        if not isinstance(data.get(key), str) or not data.get(key):
            problems.append(PackError(f"'{key}' is required and must be text", file, data.line))
    name, version, engine = data.get("name"), data.get("version"), data.get("engine")
    if isinstance(name, str) and not NAME_RE.match(name):
        problems.append(
            PackError(f"name '{name}' must be lower case letters, digits, '-' or '_'", file,
                      data.line_of("name"))
        )
    if isinstance(version, str) and not SEMVER_RE.match(version):
        problems.append(
            PackError(f"version '{version}' is not a semantic version like 1.2.0", file,
                      data.line_of("version"))
        )
    if isinstance(engine, str):
        try:
            if not engine_range_allows(engine):
                problems.append(
                    PackError(f"this pack needs carepath {engine}; this is carepath {__version__}",
                              file, data.line_of("engine"))
                )
        except ValueError as exc:
            problems.append(
                PackError(f"engine range '{engine}' is not understood at '{exc}' "
                          "(write it like \">=0.1,<1\")", file, data.line_of("engine"))
            )
    roles = data.get("roles")
    if not isinstance(roles, SourceDict) or not roles:
        problems.append(PackError("'roles' is required: a mapping of role id to title", file,
                                  data.line_of("roles")))
    else:
        for role_id, role in roles.items():
            if not isinstance(role, SourceDict) or not isinstance(role.get("title"), str):
                problems.append(PackError(f"role '{role_id}' needs a title", file,
                                          roles.line_of(role_id)))
                continue
            for key in role:
                if key not in ROLE_KEYS:
                    problems.append(PackError(f"unknown setting '{key}' on role '{role_id}'",
                                              file, role.line_of(key)))
            if role.get("assign") not in (None, "case_worker"):
                problems.append(PackError(f"role '{role_id}': assign must be 'case_worker'",
                                          file, role.line_of("assign")))
    return dict(data)


def build_pack(files: Mapping[str, str], source: str,
               closure_days: Iterable[date] = ()) -> Pack:
    """Check and compile a pack from its files (relative POSIX path -> text).

    ``closure_days`` are the council's own closure days from configuration, added to any the
    pack's timescales.yaml lists."""
    problems: list[PackError] = []

    def load(path: str) -> Any:
        try:
            return load_yaml(files[path], path)
        except PackError as exc:
            problems.append(exc)
            return None

    if "pack.yaml" not in files:
        raise PackErrors(source, [PackError("pack.yaml is missing", "pack.yaml")])
    raw_manifest = load("pack.yaml")
    manifest = _parse_manifest(raw_manifest, "pack.yaml", problems)

    codelists: dict[str, Codelist] = dict(STATUTORY_CODELISTS)
    forms: dict[str, Form] = {}
    timescales: Timescales | None = None
    library = ProcessLibrary()
    bpmn: dict[str, tuple[str, bytes]] = {}
    models: dict[str, Any] = {}

    def under(folder: str, *suffixes: str) -> list[str]:
        return sorted(p for p in files if p.startswith(folder + "/") and p.endswith(suffixes))

    for path in under("codelists", ".yaml", ".yml"):
        data = load(path)
        if data is None:
            continue
        try:
            codelist = parse_codelist(data, path, reserved=set(STATUTORY_CODELISTS))
        except PackError as exc:
            problems.append(exc)
            continue
        if codelist.id in codelists:
            problems.append(PackError(f"code list '{codelist.id}' is defined twice", path, 1))
        codelists[codelist.id] = codelist

    broken_forms: set[str] = set()  # reported already: don't also call them missing
    for path in under("forms", ".yaml", ".yml"):
        broken_forms.add(PurePosixPath(path).stem)
        data = load(path)
        if data is None:
            continue
        try:
            form = parse_form(data, path, codelists, expected_id=PurePosixPath(path).stem)
        except PackError as exc:
            problems.append(exc)
            continue
        broken_forms.discard(form.id)
        forms[form.id] = form

    if "timescales.yaml" in files:
        data = load("timescales.yaml")
        try:
            timescales = parse_timescales(data, "timescales.yaml", closure_days)
        except PackError as exc:
            problems.append(exc)
    else:
        timescales = parse_timescales(None, "timescales.yaml", closure_days)

    for path in under("processes", ".yaml", ".yml", ".bpmn"):
        try:
            lines: dict[str, int] | None = None
            if path.endswith(".bpmn"):
                xml = files[path].encode("utf-8")
            else:
                data = load(path)
                if data is None:
                    continue
                model = parse_process(data, path)
                xml = compile_to_bpmn(model)
                lines = source_lines(model)
                models[model.id] = model
            for process_id in library.add(xml, path, lines=lines):
                bpmn[process_id] = (path, xml)
        except PackError as exc:
            problems.append(exc)

    actions: dict[str, Action] = {}
    accepted: frozenset[str] = frozenset()
    migrations: dict[str, dict[str, str]] = {}
    retired: frozenset[str] = frozenset()
    if manifest is not None:
        _cross_check(manifest, forms, broken_forms, timescales, library, problems)
        actions = _parse_actions(manifest.get("actions"), raw_manifest, library.process_ids(),
                                 "pack.yaml", problems)
        accepted = _parse_accepted(manifest.get("accept_undecided"), raw_manifest, forms,
                                   problems)
        migrations = _parse_migrations(manifest.get("migrations"), raw_manifest, library,
                                       problems)
        retired = _parse_retired(manifest.get("retired"), raw_manifest, library, actions,
                                 manifest.get("start"), problems)
    if problems or manifest is None or timescales is None:
        raise PackErrors(source, problems)

    roles = {
        role_id: Role(role_id, str(role["title"]), role.get("assign"))
        for role_id, role in manifest["roles"].items()
    }
    return Pack(
        name=manifest["name"],
        version=manifest["version"],
        title=manifest["title"],
        engine=manifest["engine"],
        description=str(manifest.get("description") or ""),
        licence=str(manifest.get("licence") or ""),
        start=manifest["start"],
        roles=roles,
        forms=forms,
        codelists=codelists,
        timescales=timescales,
        library=library,
        source=source,
        bpmn=bpmn,
        process_models=models,
        actions=actions,
        accept_undecided=accepted,
        migrations=migrations,
        retired=retired,
    )


def _parse_retired(data: Any, manifest: SourceDict, library: ProcessLibrary,
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


def _parse_migrations(data: Any, manifest: SourceDict, library: ProcessLibrary,
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


def _parse_accepted(data: Any, manifest: SourceDict, forms: Mapping[str, Form],
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


def _parse_actions(data: Any, manifest: SourceDict, process_ids: Iterable[str],
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


def _cross_check(
    manifest: Mapping[str, Any],
    forms: Mapping[str, Form],
    broken_forms: set[str],
    timescales: Timescales | None,
    library: ProcessLibrary,
    problems: list[PackError],
) -> None:
    """References between files: forms, roles, timescales and processes named by processes."""
    roles = manifest.get("roles") or {}
    if not isinstance(roles, Mapping):
        roles = {}
    ids = library.process_ids()
    if manifest.get("start") not in ids:
        problems.append(
            PackError(f"start process '{manifest.get('start')}' is not in processes/ "
                      f"(found: {', '.join(sorted(ids)) or 'none'})", "pack.yaml")
        )
    for process_id in sorted(ids):
        try:
            specs = library.specs(process_id)
        except PackError as exc:
            problems.append(exc)
            continue
        file = library.file_of(process_id)
        for task in specs.tasks.values():
            where = f"task '{task.bpmn_id}' ({task.title}) in process '{process_id}'"
            if not task.form:
                problems.append(PackError(f"{where} has no form", file))
            elif task.form not in forms and task.form not in broken_forms:
                problems.append(PackError(f"{where} uses form '{task.form}', which is not in "
                                          "forms/", file))
            if not task.role:
                problems.append(PackError(f"{where} has no role", file))
            elif task.role not in roles:
                problems.append(PackError(f"{where} has role '{task.role}', which pack.yaml "
                                          "does not list under roles", file))
            if task.due and timescales is not None and task.due not in timescales.items:
                problems.append(PackError(f"{where} is due by '{task.due}', which is not in "
                                          "timescales.yaml", file))
        for end_id, target in specs.end_starts.items():
            if target not in ids:
                problems.append(PackError(f"end '{end_id}' in process '{process_id}' starts "
                                          f"'{target}', which is not a process of this pack",
                                          file))
