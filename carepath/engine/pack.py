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
from carepath.core.errors import CarepathError, PackError
from carepath.core.yamlsource import SourceDict, load_yaml
from carepath.engine.bpmn.specs import ProcessLibrary, ProcessSpecs, TaskInfo
from carepath.engine.pack_settings import (
    NAME_RE,
    Action,
    parse_accepted,
    parse_actions,
    parse_migrations,
    parse_retired,
)
from carepath.engine.process_language.compiler import compile_to_bpmn, parse_process, source_lines
from carepath.engine.time.timescales import Timescales, parse_timescales
from carepath.forms.codelists import parse_codelist
from carepath.forms.loader import parse_form
from carepath.forms.schema import Form

SEMVER_RE = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$")
PACK_KEYS = {"name", "version", "title", "engine", "description", "licence", "start", "roles",
             "actions", "accept_undecided", "migrations", "retired"}
ROLE_KEYS = {"title", "assign"}


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
        actions = parse_actions(manifest.get("actions"), raw_manifest, library.process_ids(),
                                 "pack.yaml", problems)
        accepted = parse_accepted(manifest.get("accept_undecided"), raw_manifest, forms,
                                   problems)
        migrations = parse_migrations(manifest.get("migrations"), raw_manifest, library,
                                       problems)
        retired = parse_retired(manifest.get("retired"), raw_manifest, library, actions,
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
