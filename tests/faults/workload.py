"""The randomised casework the concurrency suite runs from many processes at once.

Answers come from a sample story recorded once on a scratch database (``harvest``): each form's
answers as the story gave them, the story's child and first referral. The shared caseload is
that child many times over (own LA child ID and UPN), referred the same day, so each case can
follow the story's path; a worker picks cases, tasks, answers and operations at random, so most
races are real (many workers on a few cases) and some answers do not fit (a refusal, counted).
"""

from __future__ import annotations

import random
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from carepath.core.errors import (
    ActionUnavailableError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RecordError,
    TaskStateError,
)
from carepath.engine.simulation.generator import upn_for
from carepath.forms.validation import FormErrors

STORY = Path(__file__).parents[2] / "carepath" / "stories" / "s47_cp_christmas.yaml"
PACK = "wt2023"
CHANGED = "This case changed since you opened it"
# the clock of every operation: after every date the story gives
NOW = datetime(2026, 6, 1, 11, tzinfo=UTC)


@dataclass
class Book:
    """What a worker needs to act: answers per form, the child and referral to open with."""

    answers: dict[str, list[dict[str, Any]]]
    actions: list[str]
    child: dict[str, Any]
    referral: dict[str, Any]


def harvest(db_url: str) -> Book:
    """Record the sample story on the (empty) database ``db_url`` and keep its answers."""
    from carepath.adapters.app import services_for
    from carepath.adapters.db.database import make_engine, upgrade
    from carepath.core.yamlsource import load_yaml
    from carepath.engine.stories.story import parse_story
    from carepath.service.stories import StoryRunner

    engine = make_engine(db_url)
    upgrade(engine)
    services = services_for(engine)
    data = parse_story(load_yaml(STORY.read_text(encoding="utf-8"), str(STORY)), str(STORY))
    result = StoryRunner(services.cases, services.cases.packs.get(PACK)).run(data)
    answers: dict[str, list[dict[str, Any]]] = {}
    for event in services.cases.history(result.case_ids[0]):
        if event.kind == "task.completed":
            payload: Any = event.payload
            answers.setdefault(payload["form"], []).append(dict(payload["values"]))
    pack = services.cases.packs.get(PACK)
    first = data["episodes"][0]["referral"]
    referral = {"date": first["date"], "source": first["source"]}
    return Book(answers, sorted(pack.actions), dict(data["child"]), referral)


def child_for(book: Book, seed: int, index: int) -> dict[str, Any]:
    child = dict(book.child)
    child["la_child_id"] = f"F{seed % 100000:05d}N{index:05d}"
    child["upn"] = upn_for(seed % 100000, index)
    return child


@dataclass
class Tally:
    """What one worker did: outcomes by operation, losers' messages, the unexpected."""

    worker: int
    ops: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    completed: list[int] = field(default_factory=list)  # task ids this worker completed
    opened_cases: list[tuple[int, str]] = field(default_factory=list)  # (case id, child id)
    bad_losers: list[str] = field(default_factory=list)  # a lost race told anything else
    unexpected: list[str] = field(default_factory=list)  # an error that is no clear refusal
    seconds: float = 0.0
    kind_seconds: Counter[str] = field(default_factory=Counter)


def _clear(exc: Exception) -> str | None:
    """The outcome name of an error that is a clear refusal, or None."""
    if isinstance(exc, ConflictError):
        return "conflict"
    if isinstance(exc, TaskStateError):
        return "task_state"
    if isinstance(exc, FormErrors | RecordError | ActionUnavailableError | NotFoundError |
                  PermissionDeniedError):
        return "refused"
    return None


def run_worker(db_url: str, book: Book, case_ids: list[int], worker: int, seed: int,
               ops: int) -> Tally:
    """``ops`` random operations on the shared caseload (a process of its own)."""
    from carepath.adapters.app import open_services
    from carepath.engine.time.clock import FixedClock, set_default_clock
    from carepath.service.types import Actor, TaskFilter

    set_default_clock(FixedClock(NOW))
    rng = random.Random(seed * 1000 + worker)
    services = open_services(db_url)
    cases = services.cases
    actor = Actor.operator(f"worker{worker}")
    tally = Tally(worker)
    started = time.perf_counter()
    kinds = ["complete"] * 10 + ["act"] * 2 + ["open"] + ["timers"] + ["claim"] * 2 + \
        ["worker"] + ["reopen"]
    hot = case_ids[: max(2, len(case_ids) // 4)]  # a quarter of the cases get most of the work
    for n in range(ops):
        kind = rng.choice(kinds)
        case_id = rng.choice(hot if rng.random() < 0.6 else case_ids)
        tally.ops += 1
        began = time.perf_counter()
        try:
            outcome = _one(kind, rng, cases, actor, book, case_id, worker, n, tally,
                           TaskFilter)
        except Exception as exc:  # noqa: BLE001 - sorted below
            outcome = _clear(exc)
            if outcome is None:
                tally.unexpected.append(f"{kind}: {type(exc).__name__}: {exc}\n"
                                        + "".join(traceback.format_exception(exc))[-1500:])
                outcome = "unexpected"
            elif outcome == "conflict" and CHANGED not in str(exc):
                tally.bad_losers.append(f"{kind}: {exc}")
            elif outcome == "task_state" and not str(exc).strip():
                tally.bad_losers.append(f"{kind}: TaskStateError without a message")
        tally.outcomes[f"{kind}:{outcome}"] += 1
        tally.kind_seconds[kind] += time.perf_counter() - began
    tally.seconds = time.perf_counter() - started
    services.engine.dispose()
    return tally


def _one(kind: str, rng: random.Random, cases: Any, actor: Any, book: Book, case_id: int,
         worker: int, n: int, tally: Tally, task_filter: Any) -> str:
    if kind == "timers":
        moved = cases.run_timers(NOW, actor)
        return "moved" if moved else "none"
    if kind == "open":
        child = child_for(book, 900 + worker, n)
        opened = cases.open_case(PACK, child, book.referral, actor, worker="sam", team="north")
        tally.opened_cases.append((opened.case_id, child["la_child_id"]))
        return "ok"
    head = cases.head(case_id)
    if kind == "reopen":  # a new referral for a child already known: refused while open
        record = cases.record(case_id)
        child = dict(book.child, la_child_id=head.la_child_id, upn=record.child.upn)
        cases.open_case(PACK, child, book.referral, actor)
        return "ok"
    ready = cases.tasks(task_filter(case_id=case_id))
    time.sleep(rng.random() * 0.004)  # the user reads the case: others may write meanwhile
    if kind == "act":
        action = rng.choice(book.actions)
        if action == "change_worker" or rng.random() < 0.1:
            cases.act(case_id, action, actor, data={"worker": f"w{rng.randrange(5)}"},
                      expected_version=head.version)
        else:
            cases.act(case_id, action, actor, expected_version=head.version)
        return "ok"
    if kind == "worker":
        cases.change_worker(case_id, f"w{rng.randrange(5)}", actor,
                            expected_version=head.version)
        return "ok"
    if not ready:
        return "no_task"
    task = rng.choice(ready)
    if kind == "claim":
        if rng.random() < 0.5:
            cases.claim_task(task.id, actor)
        else:
            cases.assign_task(task.id, rng.choice([None, "sam", f"worker{worker}"]), actor)
        return "ok"
    options = book.answers.get(task.form or "", [{}])
    values = dict(rng.choice(options))
    if rng.random() < 0.05:  # now and then an answer that does not fit
        values[rng.choice(list(values) or ["x"])] = rng.choice([None, "", 12, "not a date"])
    cases.complete_task(task.id, values, actor, expected_version=head.version)
    tally.completed.append(task.id)
    return "ok"


def today_for_opening(book: Book) -> date:
    value = book.referral["date"]
    return value if isinstance(value, date) else date.fromisoformat(str(value))
