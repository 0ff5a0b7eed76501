"""Changing the process under live cases: pack versions side by side, and moving running cases
onto another version of their pack or onto another pack (``carepath migrate``).

Two strategies, chosen per case:

* ``instance`` (a new version of the case's own pack): each running process instance is moved
  onto the new version's process with SpiffWorkflow's ``diff_workflow`` / ``migrate_workflow``
  (:func:`carepath.engine.workflow.move_instance`), keeping its place. A case is refused, with
  why, when a step it has done or waits on is gone and the new version's ``migrations:`` does
  not say where it went, or when the move is otherwise unsafe. Ready tasks that are still ready
  keep their row (id, assignee, drafts) with the new version's title, form and due date.
* ``replay`` (another pack, e.g. ``ics2010`` → ``wt2023``): the canonical record is not
  touched; the case's running instances are closed as moved, and the new pack's work is rebuilt
  from the record by the story runner (:class:`carepath.service.stories.StoryRunner`) on a
  scratch database: the record is told to the new pack as a story, and the tasks it leaves open,
  with their due dates, are what the case gets. A record item the new pack could not record is
  reported, and the case is refused (its work would not match its record).

Every case moves in its own transaction behind the case's version check, with its state before
kept for :meth:`MigrationService.undo`, and a ``case.migrated`` event in its audit trail.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from typing import Any

from carepath.core.errors import CarepathError, NotFoundError
from carepath.engine.pack import Pack
from carepath.engine.record.case_record import CaseRecord, record_to_story
from carepath.engine.record.context import record_context
from carepath.engine.runtime import pack_functions
from carepath.engine.stories.story import parse_story
from carepath.engine.workflow import ReadyTask, WorkflowInstance, move_instance
from carepath.service.migration_types import (
    CasePlan,
    CaseReport,
    CaseWork,
    InstanceUpdate,
    MigrationReport,
    MigrationRun,
    MigrationStore,
    NewInstance,
    NewTaskRow,
    OpenTask,
    PackVersionInfo,
    RunSpec,
    ScratchCases,
    TaskLine,
    TaskUpdate,
    UndoResult,
    parse_key,
)
from carepath.service.pack_diff import DiffLine as DiffLine  # re-exported: it lived here
from carepath.service.pack_diff import pack_diff as pack_diff
from carepath.service.ports import PackCatalogue

MOVED = "moved"
PAGE = 500  # case ids read at a time when a run selects cases by pack (or all)


# -- the service -------------------------------------------------------------------------------


class MigrationService:
    def __init__(self, store: MigrationStore | None, packs: PackCatalogue,
                 scratch: Callable[[], ScratchCases] | None = None,
                 check: Callable[[Pack], Any] | None = None) -> None:
        """``scratch`` makes the scratch databases a ``replay`` runs the new pack on;
        ``check`` is ``pack check`` (a report with ``ok`` and ``errors``)."""
        self._store = store
        self.packs = packs
        self.scratch = scratch
        self.check = check

    @property
    def store(self) -> MigrationStore:
        if self._store is None:
            raise CarepathError("This needs a database: give one with --db")
        return self._store

    # -- versions ------------------------------------------------------------------------

    def versions(self) -> list[PackVersionInfo]:
        """Every installed version of every pack, with its running instances (None without a
        database)."""
        counts = self._store.running_counts() if self._store is not None else None
        keys = getattr(self.packs, "keys", None)
        pairs: list[tuple[str, str]] = keys() if keys is not None else [
            (n, self.packs.get(n).version) for n in self.packs.names()]
        infos = []
        for name, version in pairs:
            pack = self.packs.get_version(name, version)
            try:
                current = self.packs.get(name).version
            except CarepathError:
                current = None
            origin_of = getattr(self.packs, "origin_of", None)
            source = origin_of(name, version) if origin_of is not None else \
                self.packs.origin(name)
            pinned = getattr(self.packs, "pinned", lambda _: None)(name)
            infos.append(PackVersionInfo(name, version, pack.title, source,
                                         current == version, pinned == version,
                                         None if counts is None else
                                         counts.get((name, version), 0)))
        # versions no longer installed that cases still run on
        installed = set(pairs)
        for (name, version), n in sorted((counts or {}).items()):
            if (name, version) not in installed and n:
                infos.append(PackVersionInfo(name, version, "(not installed)", "", False, False,
                                             n))
        return infos

    def installed(self, name: str, version: str) -> Pack:
        """``name@version``, which must be installed (and load)."""
        try:
            pack = self.packs.get_version(name, version)
        except NotFoundError:
            pack = None
        except CarepathError as exc:
            if "is installed" not in exc.message and "not installed" not in exc.message:
                raise
            pack = None
        if pack is None or pack.version != version:
            raise NotFoundError(f"No pack {name}@{version} is installed, so nothing was "
                                f"changed (carepath pack list shows what is)")
        return pack

    def use(self, key: str, actor: str) -> str:
        """Pin the version new cases of a pack use (``NAME@VERSION``; ``NAME`` alone: the
        newest again). The pin is kept in the database; returns the version now current."""
        name, version = parse_key(key, need_version=False)
        if version is not None:
            self.installed(name, version)  # installed and loads, or say so
        else:
            self.packs.get(name)
        self.store.pin(name, version, actor)
        pin = getattr(self.packs, "pin", None)
        if pin is not None:
            pin(name, version)
        return self.packs.get(name).version

    # -- moving --------------------------------------------------------------------------

    def migrate(self, to: str, actor: str, *, all_cases: bool = False,
                from_pack: str | None = None, case_ids: Iterable[int] = (),
                dry_run: bool = False) -> MigrationReport:
        """Move the selected cases and report on every one (the whole report in memory; for
        a large caseload, :meth:`migrate_stream`)."""
        run = self.migrate_stream(to, actor, all_cases=all_cases, from_pack=from_pack,
                                  case_ids=case_ids, dry_run=dry_run)
        return MigrationReport(run.run_id, run.to, run.dry_run, list(run.cases))

    def migrate_stream(self, to: str, actor: str, *, all_cases: bool = False,
                       from_pack: str | None = None, case_ids: Iterable[int] = (),
                       dry_run: bool = False, page: int = PAGE) -> MigrationRun:
        """Check the target and the selection now (raising before anything moves), then move
        the cases one by one as ``cases`` is iterated: the selection is read ``page`` case ids
        at a time, so memory does not grow with the caseload. Each case moves in its own
        transaction; stopping the iteration stops the run (the cases moved so far stay moved,
        and the run can be undone)."""
        spec = self.begin_run(to, actor, all_cases=all_cases, from_pack=from_pack,
                              case_ids=case_ids, dry_run=dry_run)
        return MigrationRun(spec.run_id, spec.to, spec.dry_run, self.run_share(spec, page=page))

    def begin_run(self, to: str, actor: str, *, all_cases: bool = False,
                  from_pack: str | None = None, case_ids: Iterable[int] = (),
                  dry_run: bool = False) -> RunSpec:
        """The first half of a run: check the selection and the target (``pack check``), and
        record the run (unless ``dry_run``). Nothing has moved yet: :meth:`run_share` moves
        the cases, in one process or split between several (``carepath migrate --jobs``)."""
        name, version = parse_key(to, need_version=True)
        assert version is not None
        target = self.installed(name, version)
        chosen_ids = tuple(sorted(set(case_ids)))
        chosen = [bool(all_cases), from_pack is not None, bool(chosen_ids)]
        if sum(chosen) != 1:
            raise CarepathError("Say which cases to move: one of --all, --from PACK[@VERSION] "
                                "or --case ID")
        selection: tuple[str | None, str | None] | None = None
        if all_cases:
            selection = (None, None)
        elif from_pack is not None:
            selection = parse_key(from_pack, need_version=False)
        if self.check is not None:
            report = self.check(target)
            if not report.ok:
                first = report.errors[0].message if report.errors else "not every path checked"
                raise CarepathError(f"{target.key} does not pass pack check ({len(report.errors)}"
                                    f" error(s); first: {first}): nothing was moved. Run "
                                    f"carepath pack check {target.name} for the whole report")
        store = self.store
        run_id = None if dry_run else uuid.uuid4().hex
        if run_id is not None:
            store.start_run(run_id, target.key, actor)
        return RunSpec(run_id, target.key, dry_run, actor, chosen_ids, selection)

    def run_share(self, spec: RunSpec, part: int = 0, parts: int = 1,
                  page: int = PAGE) -> Iterator[CaseReport]:
        """Move the cases of a run begun with :meth:`begin_run`, yielding each one's report:
        those whose id is ``part`` modulo ``parts`` (all of them with the defaults), so that
        ``parts`` processes share a run without meeting the same case."""
        if not 0 <= part < parts:
            raise CarepathError(f"part {part} of {parts} does not exist")
        name, version = parse_key(spec.to, need_version=True)
        assert version is not None
        target = self.installed(name, version)
        ids = iter(spec.case_ids) if spec.selection is None else self._selected(
            *spec.selection, page)
        for case_id in ids:
            if case_id % parts == part:
                yield self._one(case_id, target, spec.run_id, spec.actor)

    def _selected(self, pack_name: str | None, pack_version: str | None,
                  page: int) -> Iterator[int]:
        """The ids of the cases with running work (of that pack), a page at a time (keyset
        on the case id: a case moved meanwhile is neither missed nor met twice)."""
        after = 0
        while True:
            ids = self.store.running_cases_after(pack_name, pack_version, after, page)
            yield from ids
            if len(ids) < page:
                return
            after = ids[-1]

    def undo(self, run_id: str, actor: str) -> list[UndoResult]:
        return self.store.undo(require_run_id(run_id), actor)

    def _one(self, case_id: int, target: Pack, run_id: str | None, actor: str) -> CaseReport:
        work = self.store.case_work(case_id)
        before = [TaskLine(t.title, t.due, _process_of(work, t.instance_id), t.bpmn_id)
                  for t in work.tasks]
        strategy = "instance" if work.head.pack_name == target.name else "replay"
        report = CaseReport(case_id, work.head.pack, strategy, "refused", None, before, [])
        if not work.instances:
            report.status, report.reason = "unchanged", "no running process to move"
            return report
        try:
            if strategy == "instance":
                plan = self._instance_plan(work, target, report)
            else:
                plan = self._replay_plan(work, target, report)
        except CarepathError as exc:
            report.reason = exc.message
            return report
        if plan is None:
            return report
        if run_id is None:
            report.status = "would_move"
            return report
        plan.event = {"run_id": run_id, "from": work.head.pack, "to": target.key,
                      "strategy": strategy,
                      "tasks_before": [t.as_json() for t in report.tasks_before],
                      "tasks_after": [t.as_json() for t in report.tasks_after]}
        try:
            self.store.apply(run_id, plan, actor)
        except CarepathError as exc:
            report.reason = exc.message
            return report
        report.status = "moved"
        return report

    def _instance_plan(self, work: CaseWork, target: Pack,
                       report: CaseReport) -> CasePlan | None:
        plan = CasePlan(work.head.case_id, work.head.version, "instance",
                        (target.name, target.version))
        context = record_context(work.record)
        new_functions = pack_functions(target)
        tasks_by_instance: dict[int, list[OpenTask]] = {}
        for t in work.tasks:
            tasks_by_instance.setdefault(t.instance_id, []).append(t)
        after: list[TaskLine] = []
        changed = False
        for inst in work.instances:
            open_tasks = tasks_by_instance.get(inst.instance_id, [])
            if (inst.pack_name, inst.pack_version) == (target.name, target.version):
                after.extend(TaskLine(t.title, t.due, inst.process_id, t.bpmn_id)
                             for t in open_tasks)
                continue
            if inst.pack_name != target.name:
                report.reason = (f"its process '{inst.process_id}' runs on {inst.pack_name}, "
                                 f"not {target.name}: move it to the other pack instead")
                return None
            if inst.process_id not in target.bpmn:
                report.reason = (f"{target.key} has no process '{inst.process_id}', which is "
                                 "running in this case")
                return None
            old = self.packs.get_version(inst.pack_name, inst.pack_version)
            moved = move_instance(inst.state, old.specs(inst.process_id),
                                  target.specs(inst.process_id), pack_functions(old),
                                  new_functions, context,
                                  target.migrations.get(inst.process_id, {}))
            if moved.state is None:
                report.reason = moved.refused
                return None
            workflow = moved.workflow or WorkflowInstance.restore(
                moved.state, target.specs(inst.process_id), new_functions)
            if workflow.is_completed():
                report.reason = (f"moving it would finish its process '{inst.process_id}' "
                                 "without its remaining tasks")
                return None
            changed = True
            plan.updates.append(InstanceUpdate(inst.instance_id, moved.state, target.name,
                                               target.version, workflow.next_timer_at()))
            ready = workflow.ready_tasks()
            rows = {t.spiff_task_id: t for t in open_tasks}
            new_rows = []
            for task in ready:
                due = _due(target, task, work.record)
                after.append(TaskLine(task.title, due, inst.process_id, task.bpmn_id))
                row = rows.pop(task.id, None)
                if row is not None:
                    plan.task_updates.append(TaskUpdate(row.task_id, task.bpmn_id, task.title,
                                                        task.form, task.role, due))
                else:
                    new_rows.append(NewTaskRow(task.id, task.bpmn_id, task.title, task.form,
                                               task.role, _assignee(target, task,
                                                                    work.head.worker), due))
            plan.cancel_tasks.extend(r.task_id for r in rows.values())
            if new_rows:
                plan.new_instances.append(NewInstance(inst.process_id, inst.episode_seq,
                                                      target.name, target.version, "", None,
                                                      new_rows, existing=inst.instance_id))
        report.tasks_after = after
        if not changed and work.head.pack_version == target.version:
            report.status, report.reason = "unchanged", f"already on {target.key}"
            return None
        return plan

    def _replay_plan(self, work: CaseWork, target: Pack, report: CaseReport) -> CasePlan | None:
        if self.scratch is None:
            raise CarepathError("Moving a case to another pack needs a scratch database, "
                                "which this service was not given")
        from carepath.service.cases import CaseService
        from carepath.service.stories import StoryRunner

        story = parse_story(record_to_story(work.record), f"the record of case "
                                                          f"{work.head.case_id}")
        databases = self.scratch()
        with databases.fresh() as cases:
            service = CaseService(cases, self.packs)
            runner = StoryRunner(service, target, actor="migrate", worker=work.head.worker,
                                 team=work.head.team)
            try:
                result = runner.run(story)
            except CarepathError as exc:
                report.reason = f"{target.key} could not take this record: {exc.message}"
                return None
            report.unrecorded = [f"{u.path}: {u.reason}" for u in result.unrecorded]
            scratch_id = result.case_ids[0]
            instances = {i.instance_id: i for i in cases.case_instances(scratch_id)
                         if i.status == "running"}
            tasks_by_instance: dict[int, list[NewTaskRow]] = {i: [] for i in instances}
            after = []
            for live in cases.ready_work(scratch_id):
                v = live.view
                tasks_by_instance.setdefault(live.instance_id, []).append(NewTaskRow(
                    live.spiff_task_id, v.bpmn_id, v.title, v.form, v.role, v.assignee, v.due))
                after.append(TaskLine(v.title, v.due, v.process, v.bpmn_id))
            new_instances = []
            for instance_id, inst in sorted(instances.items()):
                new_instances.append(NewInstance(inst.process_id, inst.episode_seq,
                                                 target.name, target.version, inst.state,
                                                 inst.next_timer_at,
                                                 tasks_by_instance.get(instance_id, [])))
        report.tasks_after = after
        if report.unrecorded:
            report.reason = (f"{target.key} could not record all of this case's record, so its "
                             "work would not match the record: "
                             + "; ".join(report.unrecorded))
            return None
        return CasePlan(work.head.case_id, work.head.version, "replay",
                        (target.name, target.version),
                        cancel_tasks=[t.task_id for t in work.tasks],
                        close_instances=[i.instance_id for i in work.instances],
                        new_instances=new_instances)


def _process_of(work: CaseWork, instance_id: int) -> str:
    for inst in work.instances:
        if inst.instance_id == instance_id:
            return inst.process_id
    return ""


def _due(pack: Pack, task: ReadyTask, record: CaseRecord) -> date | None:
    if not task.due:
        return None
    return pack.timescales.due(task.due, record_context(record))


def _assignee(pack: Pack, task: ReadyTask, worker: str | None) -> str | None:
    role = pack.roles.get(task.role or "")
    return worker if role is not None and role.assign == "case_worker" else None


def require_run_id(run_id: str) -> str:
    text = run_id.strip()
    if not text or len(text) > 32 or not all(c in "0123456789abcdef" for c in text):
        raise NotFoundError(f"There is no migration run '{run_id}'")
    return text
