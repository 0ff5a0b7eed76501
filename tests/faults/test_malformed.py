"""Malformed input: thousands of generated inputs, each refused clearly and harmlessly.

Through the application service (task answers of every kind, size and depth), the command line
in-process with click's runner (child, referral, answers and story files, broken pack
directories for ``pack check``), a sample through real ``carepath`` processes, and form posts to
the web app. Each input must give a clear error (exit 2, or 1 where the command documents it)
or be accepted; never a traceback or an unexpected exception, never a hang (a time limit per
input), never a half-written row (a refused input leaves every table as it was).
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select
from werkzeug.datastructures import MultiDict

from carepath.adapters.app import Services, services_for
from carepath.adapters.db import models as m
from carepath.adapters.db.database import dispose_engine, make_engine, upgrade
from carepath.cli import main
from carepath.core.errors import CarepathError
from carepath.engine.simulation.generator import upn_for
from carepath.engine.time.clock import FixedClock, use_clock
from carepath.forms.validation import FormErrors
from carepath.service.types import Actor, TaskFilter

from .conftest import record_figures, suite_seed
from .malformed import mutate, nasty_value, nasty_values
from .workload import NOW, PACK, STORY, Book, child_for, harvest

SERVICE_INPUTS = 2600
CLI_CHILD_INPUTS = 900
CLI_ANSWER_INPUTS = 700
CLI_STORY_INPUTS = 400
PACK_INPUTS = 150
WEB_INPUTS = 300
SUBPROCESS_INPUTS = 8
LIMIT = 10.0  # seconds an input may take before it counts as a hang (shared 2-core machines)
ROOT = Path(__file__).parents[2]
TODAY = NOW.date().isoformat()
OPERATOR = Actor.operator("fuzz")
STORY_UPN = "V201250001004"


class Hang(Exception):
    pass


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def alarm(signum: int, frame: Any) -> None:
        raise Hang(f"took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def snapshot(engine: Engine) -> tuple[int, ...]:
    """Row counts of every table and the sum of the case versions. Opening a case in the web
    app is an audited view (a ``case.viewed`` event, which moves no version): not counted."""
    with engine.connect() as conn:
        counts = [conn.execute(select(func.count()).select_from(table)).scalar_one()
                  for table in m.Base.metadata.sorted_tables if table.name != "events"]
        events = conn.execute(select(func.count()).select_from(m.EventRow)
                              .where(m.EventRow.kind != "case.viewed")).scalar_one()
        versions = conn.execute(select(func.coalesce(func.sum(m.CaseRow.version), 0))
                                ).scalar_one()
    return (*counts, events, versions)


class Tally:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.inputs: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.failures: list[str] = []
        self.slowest = 0.0
        self.seconds: Counter[str] = Counter()

    def fail(self, where: str, problem: str) -> None:
        self.failures.append(f"{where}: {problem}")

    def timed(self, where: str, run: Callable[[], str]) -> None:
        """Run one input within the time limit; ``run`` returns its outcome's name."""
        self.inputs[where.split(" ", 1)[0]] += 1
        began = time.perf_counter()
        try:
            with time_limit(LIMIT):
                outcome = run()
        except Hang as exc:
            self.fail(where, f"a hang: {exc}")
            outcome = "hang"
        took = time.perf_counter() - began
        self.slowest = max(self.slowest, took)
        self.seconds[where.split(" ", 1)[0]] += took
        self.outcomes[f"{where.split(' ', 1)[0]}:{outcome}"] += 1


@pytest.fixture
def caseload(tmp_path: Path) -> Iterator[tuple[str, Services, Book]]:
    book = harvest(f"sqlite:///{tmp_path / 'harvest.db'}")
    url = f"sqlite:///{tmp_path / 'fuzz.db'}"
    engine = make_engine(url)
    upgrade(engine)
    services = services_for(engine)
    with use_clock(FixedClock(NOW)):
        for i in range(8):
            services.cases.open_case(PACK, child_for(book, 77, i), book.referral, OPERATOR,
                                     worker="sam", team="north")
    yield url, services, book
    dispose_engine(url)


def _ready(services: Services, rng: random.Random, book: Book) -> Any:
    tasks = [t for t in services.cases.tasks(TaskFilter()) if t.form]
    if len(tasks) < 3:
        with use_clock(FixedClock(NOW)):
            services.cases.open_case(PACK, child_for(book, 78, rng.randrange(10**5)),
                                     book.referral, OPERATOR, worker="sam", team="north")
        tasks = [t for t in services.cases.tasks(TaskFilter()) if t.form]
    return rng.choice(tasks)


def _service_inputs(tally: Tally, rng: random.Random, services: Services, book: Book) -> None:
    engine = services.engine
    for n in range(SERVICE_INPUTS):
        task = _ready(services, rng, book)
        form = services.cases.task_pack(task.id).form(task.form)
        fields = [f.name for f in form.fields] if hasattr(form, "fields") else []
        good = rng.choice(book.answers.get(task.form, [{}]))
        values = nasty_values(rng, fields, good)

        def run(task: Any = task, values: dict[str, Any] = values, n: int = n) -> str:
            before = snapshot(engine)
            try:
                with use_clock(FixedClock(NOW)):
                    services.cases.complete_task(task.id, values, OPERATOR)
            except (CarepathError, FormErrors) as exc:
                if not str(exc).strip():
                    tally.fail(f"service {n}", f"{type(exc).__name__} without a message")
                if snapshot(engine) != before:
                    tally.fail(f"service {n}", f"refused ({exc}) but rows changed")
                return "refused"
            except Hang:
                raise
            except Exception as exc:  # noqa: BLE001 - the finding
                tally.fail(f"service {n} task {task.form}",
                           f"{type(exc).__name__}: {str(exc)[:200]} for "
                           f"{ {k: repr(v)[:80] for k, v in values.items()} }")
                return "crash"
            return "accepted"

        tally.timed(f"service {n}", run)


def _invoke(runner: CliRunner, args: list[str]) -> Any:
    return runner.invoke(main, ["--today", TODAY, *args], catch_exceptions=True)


def _cli_input(tally: Tally, runner: CliRunner, where: str, args: list[str], engine: Engine,
               allowed: tuple[int, ...] = (0, 2), changes_on: tuple[int, ...] = (0,)) -> None:
    def run() -> str:
        before = snapshot(engine)
        result = _invoke(runner, args)
        output = result.output
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            tally.fail(where, f"{type(result.exception).__name__}: "
                              f"{str(result.exception)[:200]}")
            return "crash"
        if "Traceback" in output:
            tally.fail(where, f"a traceback: {output[-300:]}")
        if result.exit_code not in allowed:
            tally.fail(where, f"exit {result.exit_code}: {output[-300:]}")
        elif result.exit_code != 0 and not output.strip():
            tally.fail(where, f"exit {result.exit_code} without an error message: "
                              f"{output[-300:]}")
        if result.exit_code not in changes_on and snapshot(engine) != before:
            tally.fail(where, f"exit {result.exit_code} but rows changed: {output[-300:]}")
        return f"exit{result.exit_code}"

    tally.timed(where, run)


def _cli_inputs(tally: Tally, rng: random.Random, url: str, services: Services, book: Book,
                work: Path) -> None:
    runner = CliRunner()
    engine = services.engine
    child_text = (ROOT / "examples" / "child.yaml").read_text(encoding="utf-8")
    referral_text = (ROOT / "examples" / "referral.yaml").read_text(encoding="utf-8")
    good_referral = work / "referral.yaml"
    good_referral.write_text(json.dumps({k: str(v) for k, v in book.referral.items()}),
                             encoding="utf-8")
    for n in range(CLI_CHILD_INPUTS):
        child, referral = work / "child.yaml", work / "ref.yaml"
        good_child = dict(child_for(book, 79, n), birth_date=str(book.child["birth_date"]))
        if rng.random() < 0.6:
            child.write_bytes(mutate(rng, child_text.replace("EX0001", good_child["la_child_id"])))
            referral.write_bytes(good_referral.read_bytes())
        else:
            child.write_text(json.dumps(good_child), encoding="utf-8")
            referral.write_bytes(mutate(rng, referral_text))
        _cli_input(tally, runner, f"case-open {n}",
                   ["case", "open", "--pack", PACK, "--child", str(child), "--referral",
                    str(referral), "--db", url], engine)
    for n in range(CLI_ANSWER_INPUTS):
        task = _ready(services, rng, book)
        good = rng.choice(book.answers.get(task.form or "", [{}]))
        text = "\n".join(f"{k}: {json.dumps(v, default=str)}" for k, v in good.items())
        data = work / "answers.yaml"
        if rng.random() < 0.3:
            value = nasty_value(rng)
            try:
                data.write_text(json.dumps({rng.choice(sorted(good) or ["x"]): value},
                                           default=str), encoding="utf-8")
            except (ValueError, UnicodeEncodeError, RecursionError):
                data.write_bytes(mutate(rng, text))
        else:
            data.write_bytes(mutate(rng, text))
        _cli_input(tally, runner, f"task-complete {n} ({data.read_bytes()[:120]!r})",
                   ["task", "complete", str(task.id), "--data", str(data), "--db", url], engine)
    story_text = STORY.read_text(encoding="utf-8")
    for n in range(CLI_STORY_INPUTS):
        file = work / "story.yaml"
        text = story_text.replace("C0104", f"Z{n}").replace(STORY_UPN, upn_for(80, n))
        file.write_bytes(mutate(rng, text))
        # a story that still runs records what it can: exit 1 says some of it was not recorded
        _cli_input(tally, runner, f"story-run {n}",
                   ["story", "run", str(file), "--pack", PACK, "--db", url], engine,
                   allowed=(0, 1, 2), changes_on=(0, 1))


def _pack_inputs(tally: Tally, rng: random.Random, work: Path, engine: Engine) -> None:
    runner = CliRunner()
    source = ROOT / "carepath" / "processes" / "wt2023"
    files = sorted(p.relative_to(source) for p in source.rglob("*.yaml"))
    for n in range(PACK_INPUTS):
        target = work / f"pack{n}"
        shutil.copytree(source, target)
        manifest = target / "pack.yaml"  # its own name: not the installed wt2023 again
        manifest.write_text(manifest.read_text(encoding="utf-8")
                            .replace("name: wt2023", "name: fuzzpack", 1), encoding="utf-8")
        for rel in rng.sample(files, k=rng.choice([1, 1, 1, 2])):
            if rng.random() < 0.15:
                (target / rel).unlink()
            else:
                path = target / rel
                path.write_bytes(mutate(rng, path.read_text(encoding="utf-8")))
        # pack check: 0 passes, 1 the pack has errors (documented), 2 it cannot be read
        _cli_input(tally, runner, f"pack-check {n}",
                   ["pack", "check", str(target), "--max-states", "2000"], engine,
                   allowed=(0, 1, 2))
        shutil.rmtree(target)


def _subprocess_inputs(tally: Tally, rng: random.Random, url: str, book: Book,
                       work: Path) -> None:
    child_text = (ROOT / "examples" / "child.yaml").read_text(encoding="utf-8")
    engine = make_engine(url)
    good_referral = work / "sub-referral.yaml"
    good_referral.write_text(json.dumps({k: str(v) for k, v in book.referral.items()}),
                             encoding="utf-8")
    for n in range(SUBPROCESS_INPUTS):
        child = work / f"sub-child-{n}.yaml"
        child.write_bytes(mutate(rng, child_text.replace("EX0001", f"SUB{n}")))
        command = [sys.executable, "-m", "carepath.cli", "--today", TODAY, "case", "open",
                   "--pack", PACK, "--child", str(child), "--referral", str(good_referral),
                   "--db", url]
        where = f"subprocess {n}"

        def run(command: list[str] = command, where: str = where) -> str:
            before = snapshot(engine)
            try:
                done = subprocess.run(command, capture_output=True, text=True, timeout=LIMIT * 3,
                                      check=False)
            except subprocess.TimeoutExpired:
                tally.fail(where, "a hang")
                return "hang"
            output = done.stdout + done.stderr
            if "Traceback" in output:
                tally.fail(where, f"a traceback: {output[-300:]}")
            if done.returncode not in (0, 2):
                tally.fail(where, f"exit {done.returncode}: {output[-300:]}")
            if done.returncode != 0 and snapshot(engine) != before:
                tally.fail(where, "refused but rows changed")
            return f"exit{done.returncode}"

        tally.inputs["subprocess"] += 1
        began = time.perf_counter()
        tally.outcomes[f"subprocess:{run()}"] += 1
        tally.slowest = max(tally.slowest, time.perf_counter() - began)


def _web_inputs(tally: Tally, rng: random.Random, services: Services, book: Book) -> str | None:
    try:
        from argon2 import PasswordHasher

        from carepath.adapters.db.people import SqlPeopleRepository
        from carepath.adapters.web.app import create_app
        from carepath.adapters.web.config import WebConfig
        from carepath.service.people import PeopleService
    except ImportError as exc:  # pragma: no cover - the web app is part of main
        return f"the web app is not there: {exc}"
    people = PeopleService(SqlPeopleRepository(services.engine),
                           PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    people.add_user("fuzz", "Fuzz", "a long password", {"social_worker", "team_manager"},
                    {"north"})
    app = create_app(services, WebConfig(secret_key="fuzz"))
    app.config["WTF_CSRF_ENABLED"] = False  # CSRF has its own tests; here the bodies are junk
    client = app.test_client()
    signed = client.post("/sign-in", data={"username": "fuzz", "password": "a long password"})
    assert signed.status_code == 302, signed.status_code
    engine = services.engine
    for n in range(WEB_INPUTS):
        north = {c.case_id for c in services.cases.list_cases() if c.team == "north"}
        visible = [t for t in services.cases.tasks(TaskFilter()) if t.form and t.case_id in north]
        task = rng.choice(visible) if visible else _ready(services, rng, book)
        form = services.cases.task_pack(task.id).form(task.form)
        fields = [f.name for f in form.fields] if hasattr(form, "fields") else []
        kind = rng.randrange(5)
        if kind <= 1:
            url = f"/tasks/{task.id}"
        elif kind == 2:
            url = "/cases/new"
            fields = ["la_child_id", "upn", "birth_date-day", "birth_date-month",
                      "birth_date-year", "sex", "ethnicity", "disabilities", "date-day",
                      "date-month", "date-year", "source", "pack"]
        elif kind == 3:
            url = f"/cases/{task.case_id}/actions/{rng.choice(['start_section47', 'x', '%00'])}"
        else:
            url = f"/tasks/{task.id}/assign"
            fields = ["assignee", "person"]
        pairs: list[tuple[str, str]] = []
        for name in rng.sample(fields, k=min(len(fields), rng.randint(1, 8))) or ["x"]:
            value = nasty_value(rng)
            text = value if isinstance(value, str) else _text(value)
            pairs.append((rng.choice([name, f"{name}-day", f"{name}[0]", name + "x"]), text))
        pairs.append((rng.choice(["_continue", "_save", "_add", "_remove-0", "version", "x"]),
                      rng.choice(["", "1", "-1", "99999999999999999999", "x"])))
        as_json = rng.random() < 0.15

        def run(url: str = url, pairs: list[tuple[str, str]] = pairs, as_json: bool = as_json,
                n: int = n) -> str:
            before = snapshot(engine)
            with use_clock(FixedClock(NOW)):
                try:
                    if as_json:
                        r = client.post(url, data=_text(dict(pairs)),
                                        content_type="application/json")
                    else:
                        r = client.post(url, data=MultiDict(pairs))
                except UnicodeEncodeError:
                    return "unsendable"
            body = r.get_data(as_text=True)
            if r.status_code >= 500 or "Traceback" in body:
                tally.fail(f"web {n} {url}", f"status {r.status_code}: {body[:200]}")
            if r.status_code not in (302, 303) and snapshot(engine) != before:
                tally.fail(f"web {n} {url}", f"status {r.status_code} but rows changed")
            return str(r.status_code)

        tally.timed(f"web {n}", run)
    return None


HUGE_POST = 500_000


def _text(value: Any) -> str:
    """A value as a browser could send it (JSON where it can be, else its repr)."""
    try:
        return json.dumps(value, default=str)[:HUGE_POST]
    except (ValueError, RecursionError):
        return "[" * 5000 + "]" * 5000


def test_malformed_input_is_refused_clearly(caseload: tuple[str, Services, Book],
                                            tmp_path: Path) -> None:
    seed = suite_seed("malformed")
    rng = random.Random(seed)
    url, services, book = caseload
    tally = Tally(seed)
    started = time.perf_counter()
    _service_inputs(tally, rng, services, book)
    _cli_inputs(tally, rng, url, services, book, tmp_path)
    _pack_inputs(tally, rng, tmp_path, services.engine)
    web = _web_inputs(tally, rng, services, book)
    _subprocess_inputs(tally, rng, url, book, tmp_path)
    seconds = round(time.perf_counter() - started, 1)
    total = sum(tally.inputs.values())
    record_figures("malformed", inputs=total, by_target=dict(tally.inputs),
                   failures=len(tally.failures), seed=seed, seconds=seconds,
                   seconds_by_target={k: round(v, 1) for k, v in tally.seconds.items()},
                   slowest_input_s=round(tally.slowest, 2), web=web or "included",
                   outcomes=dict(sorted(tally.outcomes.items())))
    print(f"[faults] malformed: {total} inputs, {len(tally.failures)} failures, seed {seed}, "
          f"{seconds} s, slowest input {tally.slowest:.2f} s")
    for failure in tally.failures:
        print("FAILURE", failure[:1500])
    assert total >= 5000
    assert not tally.failures, (f"seed {seed}: {len(tally.failures)} failures:\n"
                                + "\n".join(f[:600] for f in tally.failures[:25]))
