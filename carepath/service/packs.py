"""Pack information, checks and tests: what the CLI's ``pack`` commands and the web app's
administrators' pages show."""

from __future__ import annotations

from dataclasses import dataclass

from carepath.core.errors import NotFoundError
from carepath.engine.bpmn.diagram import parse_diagram
from carepath.engine.check import Limits, check_pack
from carepath.engine.check.report import Report
from carepath.engine.pack import Pack
from carepath.service.pack_test import PackTestReport, Progress, ScratchDatabases, run_pack_tests
from carepath.service.ports import PackCatalogue
from carepath.service.types import JsonObject, ProcessMap


@dataclass(frozen=True)
class PackInfo:
    name: str
    version: str
    title: str
    source: str
    processes: list[str]

    def as_json(self) -> JsonObject:
        return {"name": self.name, "version": self.version, "title": self.title,
                "source": self.source, "processes": list(self.processes)}


@dataclass(frozen=True)
class BrokenPack:
    """A pack that was found but refused, with why."""

    name: str
    source: str
    problem: str

    def as_json(self) -> JsonObject:
        return {"name": self.name, "source": self.source, "problem": self.problem}


@dataclass(frozen=True)
class TaskInfo:
    id: str
    title: str
    form: str | None
    role: str | None
    due: str | None

    def as_json(self) -> JsonObject:
        return {"id": self.id, "title": self.title, "form": self.form, "role": self.role,
                "due": self.due}


@dataclass(frozen=True)
class ProcessInfo:
    id: str
    title: str
    file: str
    tasks: list[TaskInfo]

    def as_json(self) -> JsonObject:
        return {"id": self.id, "title": self.title, "file": self.file,
                "tasks": [t.as_json() for t in self.tasks]}


@dataclass(frozen=True)
class PackDetail:
    name: str
    version: str
    key: str
    title: str
    description: str
    licence: str
    start: str
    roles: dict[str, str]
    processes: list[ProcessInfo]
    forms: list[str]
    timescales: dict[str, str]

    def as_json(self) -> JsonObject:
        return {"name": self.name, "version": self.version, "title": self.title,
                "description": self.description, "licence": self.licence,
                "start": self.start, "roles": dict(self.roles),
                "processes": [p.as_json() for p in self.processes], "forms": list(self.forms),
                "timescales": dict(self.timescales)}


class PackService:
    def __init__(self, packs: PackCatalogue) -> None:
        self.packs = packs

    def get(self, name_or_path: str) -> Pack:
        return self.packs.get(name_or_path)

    def installed(self) -> list[PackInfo]:
        infos = []
        for name in self.packs.names():
            p = self.packs.get(name)
            infos.append(PackInfo(p.name, p.version, p.title, self.packs.origin(name),
                                  sorted(p.bpmn)))
        return infos

    def broken(self) -> list[BrokenPack]:
        """Packs found but refused (a broken directory on the pack path, a duplicate)."""
        listing = getattr(self.packs, "broken", None)
        if listing is None:
            return []
        return [BrokenPack(str(b.name_or_path), str(b.origin), str(b.message)) for b in listing()]

    def detail(self, name_or_path: str) -> PackDetail:
        p = self.packs.get(name_or_path)
        processes = []
        for pid in sorted(p.bpmn):
            specs = p.specs(pid)
            processes.append(ProcessInfo(pid, specs.title, p.bpmn[pid][0], [
                TaskInfo(t.bpmn_id, t.title, t.form, t.role, t.due)
                for t in specs.tasks.values()]))
        return PackDetail(p.name, p.version, p.key, p.title, p.description, p.licence, p.start,
                          {r.id: r.title for r in p.roles.values()}, processes, sorted(p.forms),
                          {n: t.title for n, t in p.timescales.items.items()})

    def bpmn_documents(self, name_or_path: str) -> list[tuple[str, bytes]]:
        """Each process of the pack as a BPMN 2.0 document: (process id, XML)."""
        p = self.packs.get(name_or_path)
        return [(pid, xml) for pid, (_, xml) in sorted(p.bpmn.items())]

    def process_map(self, name_or_path: str, process_id: str) -> ProcessMap:
        """A process of the pack drawn as its BPMN diagram, nothing reached (for people
        reading the pack rather than a case)."""
        p = self.packs.get(name_or_path)
        if process_id not in p.bpmn:
            raise NotFoundError(f"The pack {p.key} has no process '{process_id}'")
        file, xml = p.bpmn[process_id]
        diagram = parse_diagram(xml, process_id, file)
        return ProcessMap(0, process_id, diagram.title, 0, "pack", diagram, {})

    def check(self, pack: Pack | str, limits: Limits | None = None) -> Report:
        """Lint the pack and prove, path by path, that it collects what the returns need."""
        return check_pack(pack if isinstance(pack, Pack) else self.packs.get(pack), limits)

    def test(self, name_or_path: str, databases: ScratchDatabases,
             progress: Progress | None = None) -> PackTestReport:
        """Run the pack's own scenarios, each on a fresh database, with flow coverage."""
        return run_pack_tests(self.packs.get(name_or_path), self.packs, databases, progress)
