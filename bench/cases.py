"""Driving wt2023 cases through the real store, fast.

The story runner works out how to complete each task from a child's story, which is too slow to
run for hundreds of cases. So it runs ONCE, on a throwaway database, and what it did (the values of
every completion and the time, read back from the case's audit events) is kept as a
:class:`Script`; every benchmark case then replays the script through
``CaseStore.complete_task`` with its own child.

Long histories (thousands of reviews) are built by :func:`fill_reviews`, which writes the rows
that review completions write (review, completed instance, completed task, five audit events
chained on) directly; :func:`check_filled_like_real` in the smoke mode proves the shape is the same
as that of real completions.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from carepath.adapters.db import models as m
from carepath.adapters.db.audit import canonical_json, event_hash
from carepath.adapters.db.database import dispose_engine, make_engine, upgrade
from carepath.adapters.packs import PackRegistry
from carepath.engine.stories.story import parse_story, upn_check_letter
from carepath.engine.time.clock import FixedClock, use_clock
from carepath.service.stories import StoryRunner
from carepath.service.types import TaskView
from tests.casework import Casework as CaseStore

PACK = "wt2023"
ACTOR = "bench"
WORKER = "bench-worker"
LONDON = ZoneInfo("Europe/London")

# A child protection case: referral, a strategy discussion two days later starting a section 47
# enquiry with an assessment alongside it (no pack action needed: every step is a task), initial
# conference, child protection plan, core group, reviews; the plan ends at its third review and
# the case closes. Dated early so that thousands of daily reviews still lie in the past.
STORY: dict[str, Any] = {
    "child": {"la_child_id": "BENCH0", "upn": "V201250001004", "birth_date": date(2010, 2, 8),
              "sex": "F", "ethnicity": "WBRI", "disabilities": ["NONE"]},
    "episodes": [{
        "referral": {"date": date(2011, 12, 7), "source": "6", "nfa": False},
        "primary_need": "N1",
        "assessments": [{"start": date(2011, 12, 9), "authorised": date(2012, 1, 20),
                         "factors": ["3A"]}],
        "s47": [{"start": date(2011, 12, 9), "icpc_date": date(2012, 1, 4)}],
        "cp_plans": [{"start": date(2012, 1, 4), "initial_category": "EMO",
                      "latest_category": "EMO",
                      "reviews": [date(2012, 4, 2), date(2012, 10, 1), date(2013, 3, 28)],
                      "end": date(2013, 3, 28)}],
        "closure": {"date": date(2013, 3, 28), "reason": "RC7"},
    }],
}
# Reviews of figure 1 are held daily from this date (review number n on FIRST_REVIEW + n days).
FIRST_REVIEW = date(2012, 2, 1)


@dataclass(frozen=True)
class Step:
    form: str
    at: datetime
    values: dict[str, Any]


@dataclass
class Script:
    child: dict[str, Any]
    referral: dict[str, Any]
    opened_at: datetime
    steps: list[Step] = field(default_factory=list)

    def walk_to_first_review(self) -> list[Step]:
        """The steps up to (not including) the first review conference."""
        first = next(i for i, s in enumerate(self.steps) if s.form == "cp_review")
        return self.steps[:first]

    def review_values(self, day: date) -> dict[str, Any]:
        """A review conference on ``day`` at which the plan continues."""
        template = next(s for s in self.steps if s.form == "cp_review"
                        and s.values.get("review_outcome") == "continue")
        values = copy.deepcopy(template.values)
        values["review_date"] = day
        return values


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12, 0), LONDON).astimezone(UTC)


def record_script() -> Script:
    """Run the story runner once on a throwaway SQLite database and read back, from the case's
    audit events, what it did: the referral, and each completion's form, values and time."""
    story = parse_story(copy.deepcopy(STORY), "bench story")
    with tempfile.TemporaryDirectory(prefix="carepath-bench-script-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'script.db'}"
        engine = make_engine(url)
        try:
            upgrade(engine)
            store = CaseStore(engine, PackRegistry())
            result = StoryRunner(store.service, store.packs.get(PACK), actor=ACTOR,
                                 worker=WORKER).run(story)
            events = store.history(result.case_ids[0])
        finally:
            dispose_engine(url)
    opened = next(e for e in events if e["kind"] == "case.opened")
    referral = {k: opened["referral"][k] for k in ("date", "source")}
    steps = [Step(e["form"], datetime.fromisoformat(e["at"]), dict(e["values"]))
             for e in events if e["kind"] == "task.completed"]
    if not steps:
        raise RuntimeError("the story runner completed no task")
    return Script(copy.deepcopy(STORY["child"]), referral,
                  datetime.fromisoformat(opened["at"]), steps)


def child_for(script: Script, n: int) -> dict[str, Any]:
    """The script's child with its own local ID and unique pupil number."""
    child = copy.deepcopy(script.child)
    child["la_child_id"] = f"B{n:07d}"
    body = f"2012{n:07d}1"  # 11 digits and a final digit
    child["upn"] = upn_check_letter(body) + body
    return child


class CaseDriver:
    """One benchmark case in a store: knows its ready tasks without asking the inbox."""

    def __init__(self, store: CaseStore, script: Script, n: int, clock: FixedClock) -> None:
        self.store = store
        self.script = script
        clock.set(script.opened_at)
        with use_clock(clock):
            self.case_id = store.open_case(PACK, child_for(script, n), script.referral, ACTOR,
                                           worker=WORKER)
            self.ready: list[TaskView] = store.tasks(case_id=self.case_id)
        self.completed = 0

    def task_for(self, form: str) -> TaskView:
        for task in self.ready:
            if task.form == form:
                return task
        # not one we know of (cancelled, or opened by something else): ask the inbox
        self.ready = self.store.tasks(case_id=self.case_id)
        for task in self.ready:
            if task.form == form:
                return task
        raise RuntimeError(f"case {self.case_id} has no ready '{form}' task "
                           f"(ready: {[t.form for t in self.ready]})")

    def complete(self, form: str, values: Mapping[str, Any]) -> list[TaskView]:
        """Complete the ready task with this form (the clock must already be set)."""
        task = self.task_for(form)
        opened = self.store.complete_task(task.id, values, ACTOR)
        self.ready = [t for t in self.ready if t.id != task.id] + opened
        self.completed += 1
        return opened

    def replay(self, steps: Sequence[Step], clock: FixedClock) -> None:
        with use_clock(clock):
            for step in steps:
                clock.set(max(clock.now(), step.at))
                self.complete(step.form, step.values)


# --- building long histories fast ---------------------------------------------------------------


def completed_tasks(session: Session, case_id: int) -> int:
    return int(session.execute(
        select(func.count()).select_from(m.TaskRow)
        .where(m.TaskRow.case_id == case_id, m.TaskRow.status == m.TASK_COMPLETED)
    ).scalar_one())


def fill_reviews(session: Session, case_id: int, count: int, first_review_number: int) -> None:
    """Write ``count`` review completions of the case's current child protection plan directly:
    per review, what ``complete_task`` writes for one (a review row, a completed ``cp_review``
    instance, its completed task, and the five audit events, hash-chained on from the case's
    head), copied from the case's last real review completion. The ready review stays the one
    to complete next. Reviews are numbered from ``first_review_number`` (dated daily)."""
    if count <= 0:
        return
    case = session.get(m.CaseRow, case_id)
    if case is None:
        raise RuntimeError(f"no case {case_id}")
    done = session.scalars(
        select(m.ProcessInstanceRow)
        .where(m.ProcessInstanceRow.case_id == case_id,
               m.ProcessInstanceRow.process_id == "cp_review",
               m.ProcessInstanceRow.status == m.INSTANCE_COMPLETED)
        .order_by(m.ProcessInstanceRow.id.desc()).limit(1)).one()
    done_task = session.scalars(select(m.TaskRow).where(m.TaskRow.instance_id == done.id)).one()
    template_events = session.scalars(
        select(m.EventRow).where(m.EventRow.case_id == case_id)
        .order_by(m.EventRow.seq.desc()).limit(5)).all()[::-1]
    kinds = [e.kind for e in template_events]
    if kinds != ["task.completed", "record.changed", "process.completed", "process.started",
                 "task.opened"]:
        raise RuntimeError(f"the last completion of case {case_id} was not a continuing review "
                           f"(events {kinds})")
    payloads = [_loads(e.payload) for e in template_events]
    plan_id = session.execute(
        select(m.CPPlanRow.id).join(m.EpisodeRow, m.EpisodeRow.id == m.CPPlanRow.episode_id)
        .where(m.EpisodeRow.case_id == case_id)
        .order_by(m.EpisodeRow.seq.desc(), m.CPPlanRow.seq.desc()).limit(1)).scalar_one()
    next_seq = int(session.execute(
        select(func.count()).select_from(m.CPReviewRow)
        .where(m.CPReviewRow.cp_plan_id == plan_id)).scalar_one())

    instances: list[dict[str, Any]] = []
    reviews: list[dict[str, Any]] = []
    days: list[date] = []
    for i in range(count):
        day = FIRST_REVIEW + timedelta(days=first_review_number + i)
        at = noon(day)
        days.append(day)
        instances.append({
            "case_id": case_id, "episode_seq": done.episode_seq, "process_id": "cp_review",
            "pack_name": done.pack_name, "pack_version": done.pack_version,
            "status": m.INSTANCE_COMPLETED, "state": done.state, "next_timer_at": None,
            "created_at": at - timedelta(days=1), "completed_at": at})
        reviews.append({"cp_plan_id": plan_id, "seq": next_seq + i, "review_date": day})
    ids = session.execute(
        insert(m.ProcessInstanceRow).returning(m.ProcessInstanceRow.id,
                                               sort_by_parameter_order=True),
        instances).scalars().all()
    task_ids = session.execute(
        insert(m.TaskRow).returning(m.TaskRow.id, sort_by_parameter_order=True),
        [{"case_id": case_id, "instance_id": instance_id, "spiff_task_id": done_task.spiff_task_id,
          "bpmn_id": done_task.bpmn_id, "title": done_task.title, "form": done_task.form,
          "role": done_task.role, "assignee": done_task.assignee, "due": day,
          "status": m.TASK_COMPLETED, "created_at": noon(day) - timedelta(days=1),
          "completed_at": noon(day), "completed_by": ACTOR}
         for instance_id, day in zip(ids, days, strict=True)]).scalars().all()
    session.execute(insert(m.CPReviewRow), reviews)
    session.execute(update(m.CPPlanRow).where(m.CPPlanRow.id == plan_id).values(
        review_count=next_seq + count, last_review=days[-1]))

    seq, head = case.event_seq, case.head_hash
    events: list[dict[str, Any]] = []
    previous = _review_date_before(payloads)
    for task_id, day in zip(task_ids, days, strict=True):
        at = noon(day)
        iso = day.isoformat()
        for kind, template in zip(kinds, payloads, strict=True):
            payload = copy.deepcopy(template)
            if kind == "task.completed":
                payload["task_id"] = task_id
                payload["values"]["review_date"] = iso
            elif kind == "record.changed":
                for change in payload["changes"]:
                    if change["item"] == "cp_plan.review":
                        change["before"], change["value"] = previous, iso
            elif kind == "task.opened":
                payload["due"] = (day + timedelta(days=182)).isoformat()
            text_ = canonical_json(payload)
            seq += 1
            digest = event_hash(head, case_id, seq, at, ACTOR, kind, text_)
            events.append({"case_id": case_id, "seq": seq, "at": at, "actor": ACTOR,
                           "kind": kind, "payload": text_, "prev_hash": head, "hash": digest})
            head = digest
        previous = iso
    session.execute(insert(m.EventRow), events)
    session.execute(update(m.CaseRow).where(m.CaseRow.id == case_id).values(
        version=m.CaseRow.version + count, event_seq=seq, head_hash=head))


def _review_date_before(payloads: list[dict[str, Any]]) -> str | None:
    for change in payloads[1].get("changes", []):
        if change["item"] == "cp_plan.review":
            return str(change["value"])
    return None


def _loads(text_: str) -> dict[str, Any]:
    import json

    value = json.loads(text_)
    if not isinstance(value, dict):
        raise RuntimeError("an event payload is not an object")
    return value


def table_counts(session: Session, case_id: int) -> dict[str, int]:
    """Rows per table for one case (the shape of its history)."""
    def count(model: Any, *where: Any) -> int:
        return int(session.execute(select(func.count()).select_from(model).where(*where))
                   .scalar_one())

    plans = select(m.CPPlanRow.id).join(m.EpisodeRow, m.EpisodeRow.id == m.CPPlanRow.episode_id)\
        .where(m.EpisodeRow.case_id == case_id)
    return {
        "tasks_completed": count(m.TaskRow, m.TaskRow.case_id == case_id,
                                 m.TaskRow.status == m.TASK_COMPLETED),
        "tasks_ready": count(m.TaskRow, m.TaskRow.case_id == case_id,
                             m.TaskRow.status == m.TASK_READY),
        "instances_completed": count(m.ProcessInstanceRow,
                                     m.ProcessInstanceRow.case_id == case_id,
                                     m.ProcessInstanceRow.status == m.INSTANCE_COMPLETED),
        "instances_running": count(m.ProcessInstanceRow, m.ProcessInstanceRow.case_id == case_id,
                                   m.ProcessInstanceRow.status == m.INSTANCE_RUNNING),
        "events": count(m.EventRow, m.EventRow.case_id == case_id),
        "cp_reviews": count(m.CPReviewRow, m.CPReviewRow.cp_plan_id.in_(plans)),
        # the plans' review summary (kept by save_record; fill_reviews must keep it too)
        "cp_plans_review_count": int(session.execute(
            select(func.coalesce(func.sum(m.CPPlanRow.review_count), 0))
            .where(m.CPPlanRow.id.in_(plans))).scalar_one()),
    }


def check_filled_like_real(store: CaseStore, script: Script, reviews: int, first_n: int) -> None:
    """Build the same history twice, once by real completions and once by one real completion
    and :func:`fill_reviews`, and fail unless both cases have the same rows per table, the same
    record, an intact audit chain, and take a further real completion alike."""
    from carepath.adapters.db.audit import verify
    from carepath.adapters.db.records import load_record

    if reviews < 2:
        raise ValueError("need at least two reviews")
    clock = FixedClock(script.opened_at)
    real = CaseDriver(store, script, first_n, clock)
    filled = CaseDriver(store, script, first_n + 1, clock)
    for driver in (real, filled):
        driver.replay(script.walk_to_first_review(), clock)

    def review(driver: CaseDriver, number: int) -> None:
        day = FIRST_REVIEW + timedelta(days=number)
        clock.set(noon(day))
        driver.complete("cp_review", script.review_values(day))

    with use_clock(clock):
        for number in range(reviews):
            review(real, number)
        review(filled, 0)
    with Session(store.engine) as session, session.begin():
        fill_reviews(session, filled.case_id, reviews - 1, 1)
    with use_clock(clock):  # one more real completion on each
        review(real, reviews)
        review(filled, reviews)
    with Session(store.engine) as session:
        shapes = [table_counts(session, d.case_id) for d in (real, filled)]
        if shapes[0] != shapes[1]:
            raise AssertionError(f"filled history differs from real history: {shapes}")
        records = [load_record(session, d.case_id) for d in (real, filled)]
        for record in records:
            record.child.la_child_id = record.child.upn = ""
        if records[0] != records[1]:
            raise AssertionError("the filled case's record differs from the real one")
        for driver in (real, filled):
            problems = verify(session, driver.case_id)
            if problems:
                raise AssertionError(f"audit chain broken: {[str(p) for p in problems]}")
