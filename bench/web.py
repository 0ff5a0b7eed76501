"""Figure 5: the web app under load: inbox and case file latency through gunicorn.

Setup (not timed as part of the figure, but reported):

* **A caseload of open cases.** A few *template* cases are made through the real service: the
  recorded wt2023 child protection story stopped after 0, 1, ... 9 of its completions (so the
  case is at the referral decision, in the enquiry, under a plan with reviews, ... each with at
  least one ready task), plus one ics2010 case at its referral decision. Opening a case through
  ``CaseService.open_case`` costs about 30 ms (SQLite, durable commit), far too slow for 20,000,
  so :func:`clone_cases` copies every row of the templates in bulk with SQL (cases, children,
  episodes and what hangs from them, process instances, tasks, events): each clone has its own
  case id, LA child ID and UPN, worker and team; its audit events are re-chained (the hashes
  recomputed over the clone's case id, child IDs and task ids), so ``carepath audit verify``
  holds for every clone. The smoke run checks a sample of clones with :func:`check_clones`
  (the record loads, the audit chain verifies, the case has a ready task).
* **People.** Four teams, each with five social workers and a team manager (argon2 passwords
  through ``PeopleService.add_user``). Cases are spread evenly over the workers.

Then ``carepath serve --workers N --threads T`` (gunicorn, gthread; T is 1, the default: with 4
threads a worker, PostgreSQL pages queued for the interpreter lock) runs as a subprocess
on a free loopback port. Each of the clients (threads of this process, stdlib ``http.client``
with keep-alive) signs in through the sign-in form (CSRF token from the page), as a social worker
or (one in five) a team manager, then repeats a request mix: ``GET /tasks`` (30 %),
``/tasks?scope=team`` (15 %), ``/tasks?page=N`` / ``/tasks?scope=team&page=N`` (15 %), and
``GET /cases/<id>`` (40 %) of a case the client has seen in its inbox pages. Every case file view
writes a ``case.viewed`` audit event (one durable write transaction per view), as in real use.

Two phases, one after the other on the same server:

* **paced** (the figure): each client waits a random think time (uniform 0.5-1.5 s, mean 1 s)
  between a response and its next request: 50 people each clicking once a second, several
  times faster than people use a case management system. ``web_inbox_p95_ms`` and
  ``web_case_p95_ms`` are from this phase.
* **saturation**: the same clients with no think time: what the server can do flat out on this
  machine (requests per second), and the latency when 50 requests are always waiting. On 2
  cores, shared with the load generator, that latency is the queue (Little's law: 50 / rps), not
  the cost of one page.

Per phase, per kind (inbox, case file): p50, p95, p99, count, errors; overall requests/s.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Table, func, insert, select, text, update

from bench.cases import ACTOR, WORKER, CaseDriver, Script, child_for
from bench.common import Database, Settings, database, log, percentile
from carepath.adapters.db import models as m
from carepath.adapters.db.audit import canonical_json, event_hash
from carepath.engine.time.clock import FixedClock, use_clock
from tests.casework import Casework as CaseStore

TEAMS = ("north", "south", "east", "west")
WORKERS_PER_TEAM = 5
PASSWORD = "bench-web-password-1"
OTHER_PACK = "ics2010"
THINK_S = (0.5, 1.5)
MIX = (("inbox", 0.30), ("team", 0.15), ("page", 0.15), ("case", 0.40))
CASE_LINK = re.compile(r'href="/cases/(\d+)"')
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PAGES = re.compile(r"page=(\d+)")


# --- the caseload ------------------------------------------------------------------------------


def people() -> list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
    """(login, display name, roles, teams) of the benchmark's people."""
    out = []
    for team in TEAMS:
        out.append((f"mgr-{team}", f"Manager {team}", ("team_manager",), (team,)))
        for i in range(WORKERS_PER_TEAM):
            out.append((f"sw-{team}-{i}", f"Worker {team} {i}", ("social_worker",), (team,)))
    return out


def workers() -> list[tuple[str, str]]:
    """(worker, team) pairs that cases are spread over."""
    return [(f"sw-{team}-{i}", team) for team in TEAMS for i in range(WORKERS_PER_TEAM)]


def make_templates(db: Database, script: Script) -> list[int]:
    """Template cases through the real service: the recorded story stopped after 0..9
    completions, and one case of the other pack. Returns their case ids."""
    store = CaseStore(db.engine)
    clock = FixedClock(script.opened_at)
    ids = []
    steps = script.steps[:-1]  # the last one closes the case: keep a ready task
    for stop in range(len(steps) + 1):
        driver = CaseDriver(store, script, 9_000_000 + stop, clock)
        driver.replay(steps[:stop], clock)
        ids.append(driver.case_id)
    with use_clock(clock):
        child = child_for(script, 9_000_100)
        ids.append(store.open_case(OTHER_PACK, child, script.referral, ACTOR, worker=WORKER))
    return ids


def _case_tables() -> list[Table]:
    """The tables whose rows belong to a case (through foreign keys to cases.id), parents
    first; the cases table itself first of all."""
    owned = {"cases"}
    tables = []
    for table in m.Base.metadata.sorted_tables:
        if table.name == "cases":
            continue
        parents = {fk.column.table.name for fk in table.foreign_keys}
        if parents & owned:
            owned.add(table.name)
            tables.append(table)
    return [m.CaseRow.__table__, *tables]  # type: ignore[list-item]


def _fk_map(table: Table) -> dict[str, str]:
    """column -> parent table, for the foreign keys inside the case's own rows."""
    return {col.name: fk.column.table.name for col in table.columns for fk in col.foreign_keys
            if fk.column.table.name not in ("users", "teams")}


def _has_id(table: Table) -> bool:
    return "id" in table.c and table.c.id.primary_key


@dataclass
class Template:
    case_id: int
    la_child_id: str
    upn: str | None
    worker: str | None
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _load_template(conn: Any, tables: list[Table], case_id: int) -> Template:
    ids: dict[str, set[int]] = {"cases": {case_id}}
    rows: dict[str, list[dict[str, Any]]] = {}
    for table in tables:
        if table.name == "cases":
            found = [dict(r._mapping) for r in conn.execute(select(table).where(
                table.c.id == case_id))]
        else:
            fks = _fk_map(table)
            col, parent = next(iter(fks.items())) if "case_id" not in fks else ("case_id",
                                                                                 "cases")
            found = [dict(r._mapping) for r in conn.execute(select(table).where(
                table.c[col].in_(sorted(ids.get(parent, set())) or [-1])))]
        order = "seq" if "seq" in table.c else ("id" if _has_id(table) else None)
        if order:
            found.sort(key=lambda r: (r.get("case_id", 0), r[order]))
        rows[table.name] = found
        if _has_id(table):
            ids[table.name] = {r["id"] for r in found}
    case = rows["cases"][0]
    child = rows["children"][0]
    return Template(case_id, case["la_child_id"], child.get("upn"), case["worker"], rows)


def _upn(n: int) -> str:
    from carepath.engine.stories.story import upn_check_letter

    body = f"2013{n:07d}1"
    return upn_check_letter(body) + body


def clone_cases(db: Database, template_ids: list[int], total: int,
                spread: list[tuple[str, str]], batch: int = 500) -> dict[str, Any]:
    """Make ``total`` open cases: the templates (re-allocated) and clones of them, round-robin
    over the templates and over ``spread`` (worker, team). Returns what was written."""
    tables = _case_tables()
    started = time.perf_counter()
    with db.engine.connect() as conn:
        templates = [_load_template(conn, tables, cid) for cid in template_ids]
        next_id = {t.name: int(conn.execute(select(func.coalesce(func.max(t.c.id), 0)))
                               .scalar_one()) + 1 for t in tables if _has_id(t)}
    # the templates themselves join the caseload with a worker and team of the spread (their
    # opening event says so too, re-chained: `audit verify` compares the case row with it)
    with db.engine.begin() as conn:
        for k, tpl in enumerate(templates):
            worker, team = spread[k % len(spread)]
            events = [dict(e) for e in tpl.rows["events"]]
            head = _rechain(events, lambda payload, kind, w=worker, t=team:
                            _allocated(payload, kind, w, t))
            for event in events:
                conn.execute(update(m.EventRow).where(m.EventRow.id == event["id"]).values(
                    payload=event["payload"], prev_hash=event["prev_hash"],
                    hash=event["hash"]))
            conn.execute(update(m.CaseRow).where(m.CaseRow.id == tpl.case_id)
                         .values(worker=worker, team=team, head_hash=head))
            conn.execute(update(m.TaskRow).where(m.TaskRow.case_id == tpl.case_id,
                                                 m.TaskRow.assignee == tpl.worker)
                         .values(assignee=worker))
    written = {t.name: 0 for t in tables}
    todo = total - len(templates)
    n = len(templates)
    while todo > 0:
        chunk = min(batch, todo)
        out: dict[str, list[dict[str, Any]]] = {t.name: [] for t in tables}
        for _ in range(chunk):
            tpl = templates[n % len(templates)]
            worker, team = spread[n % len(spread)]
            _clone_one(tpl, n, worker, team, tables, next_id, out)
            n += 1
        with db.engine.begin() as conn:
            for table in tables:
                if out[table.name]:
                    conn.execute(insert(table), out[table.name])
                    written[table.name] += len(out[table.name])
        todo -= chunk
    if db.kind == "postgresql":
        with db.engine.begin() as conn:
            for table in tables:
                if _has_id(table):
                    conn.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"(SELECT MAX(id) FROM {table.name}))"))
            conn.execute(text("ANALYZE"))
    else:
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return {"cases": total, "templates": len(templates), "rows_written": written,
            "clone_s": round(time.perf_counter() - started, 2)}


def _clone_one(tpl: Template, n: int, worker: str, team: str, tables: list[Table],
               next_id: dict[str, int], out: dict[str, list[dict[str, Any]]]) -> None:
    new_ids: dict[str, dict[int, int]] = {}
    la_child_id = f"W{n:07d}"
    upn = _upn(n)
    swaps = [(tpl.la_child_id, la_child_id)] + ([(tpl.upn, upn)] if tpl.upn else [])

    def swap(value: str) -> str:
        for old, new in swaps:
            value = value.replace(old, new)
        return value

    for table in tables:
        fks = _fk_map(table)
        ids = new_ids.setdefault(table.name, {})
        rows = out[table.name]
        for row in tpl.rows[table.name]:
            new = dict(row)
            if _has_id(table):
                ids[row["id"]] = next_id[table.name]
                new["id"] = next_id[table.name]
                next_id[table.name] += 1
            for col, parent in fks.items():
                if new[col] is not None:
                    new[col] = new_ids[parent][row[col]]
            if table.name == "cases":
                new.update(la_child_id=la_child_id, worker=worker, team=team)
            elif table.name == "children":
                new["upn"] = upn if row.get("upn") else row.get("upn")
            elif table.name == "tasks":
                if row["assignee"] == tpl.worker:
                    new["assignee"] = worker
            elif table.name == "process_instances" and isinstance(row.get("state"), str):
                new["state"] = swap(row["state"])
            rows.append(new)
    # the audit chain, re-made for the clone (its case id, child, task ids, worker, team)
    task_ids = new_ids.get("tasks", {})

    def remade(payload: str, kind: str) -> str:
        payload = swap(payload)
        if tpl.worker:
            payload = payload.replace(f'"{tpl.worker}"', f'"{worker}"')
        if '"task_id"' in payload:
            value = json.loads(payload)
            _remap_task_ids(value, task_ids)
            payload = canonical_json(value)
        return _allocated(payload, kind, worker, team)

    events = out["events"][-len(tpl.rows["events"]):] if tpl.rows["events"] else []
    out["cases"][-1]["head_hash"] = _rechain(events, remade)


def _allocated(payload: str, kind: str, worker: str, team: str) -> str:
    """A case's opening event with the allocation the (re-allocated) case row has."""
    if kind != "case.opened":
        return payload
    value = json.loads(payload)
    value.update(worker=worker, team=team)
    return canonical_json(value)


def _rechain(events: list[dict[str, Any]], change: Callable[[str, str], str]) -> str:
    """Rewrite each event's payload with ``change`` and recompute the chain; the new head."""
    head = ""
    for event in events:
        payload = change(event["payload"], event["kind"])
        event["payload"] = payload
        event["prev_hash"] = head
        event["hash"] = head = event_hash(head, event["case_id"], event["seq"], event["at"],
                                          event["actor"], event["kind"], payload)
    return head


def _remap_task_ids(value: Any, ids: dict[int, int]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "task_id" and isinstance(item, int) and item in ids:
                value[key] = ids[item]
            else:
                _remap_task_ids(item, ids)
    elif isinstance(value, list):
        for item in value:
            _remap_task_ids(item, ids)


def check_clones(db: Database, sample: list[int]) -> None:
    """Fail unless each sampled case loads, has an intact audit chain and ready tasks."""
    from sqlalchemy.orm import Session

    from carepath.adapters.db.audit import verify
    from carepath.adapters.db.records import load_record

    with Session(db.engine) as session:
        for case_id in sample:
            load_record(session, case_id)
            problems = verify(session, case_id)
            if problems:
                raise AssertionError(f"clone {case_id}: audit chain broken: "
                                     f"{[str(p) for p in problems][:3]}")
            ready = session.scalar(select(func.count()).select_from(m.TaskRow).where(
                m.TaskRow.case_id == case_id, m.TaskRow.status == m.TASK_READY))
            if not ready:
                raise AssertionError(f"clone {case_id} has no ready task")


def add_people(db: Database) -> float:
    from argon2 import PasswordHasher

    from carepath.adapters.app import people_service

    class OneHash(PasswordHasher):  # one argon2 hash (default cost) for everyone: setup speed
        _hash: str | None = None

        def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
            if self._hash is None:
                self._hash = super().hash(password)
            return self._hash

    started = time.perf_counter()
    service = people_service(db.engine)
    service.hasher = OneHash()
    for name, display, roles, teams in people():
        service.add_user(name, display, PASSWORD, roles, teams)
    return time.perf_counter() - started


# --- the server --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(db_url: str, workers: int, workdir: Path,
           threads: int = 1) -> Iterator[tuple[str, int, int]]:
    """``carepath serve --workers N`` on a free loopback port, until the block ends."""
    port = free_port()
    env = {**os.environ, "CAREPATH_SECRET_KEY": "bench-" + os.urandom(16).hex(),
           "CAREPATH_INSTANCE": str(workdir / "instance")}
    log_path = workdir / f"serve-{port}.log"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from carepath.cli import run; run()", "serve",
             "--workers", str(workers), "--threads", str(threads), "--port", str(port), "--db", db_url],
            stdout=log_file, stderr=subprocess.STDOUT, env=env,
            cwd=Path(__file__).resolve().parent.parent)
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"carepath serve exited ({proc.returncode}): "
                                       + log_path.read_text(errors="replace")[-2000:])
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                    conn.request("GET", "/health")
                    if conn.getresponse().status == 200:
                        conn.close()
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("carepath serve did not answer /health in 60 s")
                time.sleep(0.2)
            yield "127.0.0.1", port, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    errors = [line for line in log_path.read_text(errors="replace").splitlines()
              if "unhandled" in line]
    if errors:
        raise RuntimeError(f"the server logged {len(errors)} crash(es), e.g. {errors[0]}")


def server_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by the server process and its workers."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                todo.extend(int(c) for c in children)
        except (OSError, ValueError, IndexError):
            continue
    return total


# --- the clients -------------------------------------------------------------------------------


class Client:
    """One signed-in person: a keep-alive connection and a session cookie."""

    def __init__(self, host: str, port: int, user: str, seed: int) -> None:
        self.host, self.port, self.user = host, port, user
        self.conn = http.client.HTTPConnection(host, port, timeout=60)
        self.cookie = ""
        self.rng = random.Random(seed)
        self.cases: list[int] = []
        self.pages = {"mine": 1, "team": 1}

    def get(self, path: str) -> tuple[int, str]:
        return self._send("GET", path, None)

    def _send(self, method: str, path: str, body: str | None) -> tuple[int, str]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                data = resp.read().decode("utf-8", errors="replace")
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                if attempt == 2:
                    raise
        for value in resp.headers.get_all("Set-Cookie") or []:
            first = value.split(";", 1)[0]
            if first.startswith("carepath_session="):
                self.cookie = first
        return resp.status, data

    def sign_in(self) -> None:
        status, page = self.get("/sign-in")
        found = CSRF.search(page)
        if status != 200 or not found:
            raise RuntimeError(f"sign-in page: status {status}, CSRF token found: {bool(found)}")
        status, _ = self._send("POST", "/sign-in", urlencode(
            {"username": self.user, "password": PASSWORD, "csrf_token": found.group(1)}))
        if status != 302:
            raise RuntimeError(f"{self.user} could not sign in (status {status})")
        self.learn("/tasks")
        self.learn("/tasks?scope=team")
        if not self.cases:
            raise RuntimeError(f"{self.user} sees no case in their inbox")

    def learn(self, path: str) -> str:
        status, page = self.get(path)
        if status != 200:
            raise RuntimeError(f"{path}: status {status}")
        self._learn_from(path, page)
        return page

    def _learn_from(self, path: str, page: str) -> None:
        seen = [int(x) for x in CASE_LINK.findall(page)]
        if seen:
            self.cases = (self.cases + [c for c in seen if c not in self.cases])[-200:]
        pages = [int(x) for x in PAGES.findall(page)]
        if pages:
            self.pages["team" if "scope=team" in path else "mine"] = max(pages)

    def next_request(self) -> tuple[str, str]:
        r = self.rng.random()
        kind = MIX[-1][0]
        for name, weight in MIX:
            r -= weight
            if r < 0:
                kind = name
                break
        if kind == "inbox":
            return "inbox", "/tasks"
        if kind == "team":
            return "inbox", "/tasks?scope=team"
        if kind == "page":
            scope = self.rng.choice(("mine", "team"))
            page = self.rng.randint(1, max(1, self.pages[scope]))
            return "inbox", ("/tasks?scope=team&page=" if scope == "team"
                             else "/tasks?page=") + str(page)
        return "case", f"/cases/{self.rng.choice(self.cases)}"


@dataclass
class Sample:
    kind: str
    seconds: float
    status: int


def drive(clients: list[Client], seconds: float, think: tuple[float, float] | None
          ) -> tuple[list[Sample], float]:
    """Every client in its own thread for ``seconds``; returns the samples and wall time."""
    samples: list[Sample] = []
    lock = threading.Lock()
    start_gate = threading.Barrier(len(clients) + 1)
    stop_at = [0.0]

    def loop(client: Client) -> None:
        mine: list[Sample] = []
        start_gate.wait()
        if think:  # start spread out, as people do
            time.sleep(client.rng.uniform(0, think[1]))
        while time.perf_counter() < stop_at[0]:
            kind, path = client.next_request()
            t0 = time.perf_counter()
            try:
                status, page = client.get(path)
            except (http.client.HTTPException, OSError):
                status, page = 0, ""
            elapsed = time.perf_counter() - t0
            mine.append(Sample(kind, elapsed, status))
            if status == 200 and kind == "inbox":
                client._learn_from(path, page)
            if think:
                time.sleep(client.rng.uniform(*think))
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=loop, args=(c,), daemon=True) for c in clients]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + seconds
    started = time.perf_counter()
    start_gate.wait()
    for t in threads:
        t.join(timeout=seconds + 120)
    return samples, time.perf_counter() - started


def summarise(samples: list[Sample], wall: float) -> dict[str, Any]:
    out: dict[str, Any] = {"requests": len(samples), "seconds": round(wall, 2),
                           "rps": round(len(samples) / wall, 1) if wall else None}
    for kind in ("inbox", "case"):
        ok = [s.seconds * 1000 for s in samples if s.kind == kind and s.status == 200]
        errors = sum(1 for s in samples if s.kind == kind and s.status != 200)
        out[kind] = {"count": len(ok), "errors": errors,
                     **({f"p{p}_ms": round(percentile(ok, p), 1) for p in (50, 95, 99)}
                        if ok else {"p50_ms": None, "p95_ms": None, "p99_ms": None}),
                     "max_ms": round(max(ok), 1) if ok else None}
    return out


# --- the figure --------------------------------------------------------------------------------


def run(settings: Settings, script: Script, kinds: list[str], workdir: Path,
        postgres_url: str | None) -> dict[str, Any]:
    per_db: dict[str, Any] = {}
    for kind in kinds:
        if settings.smoke and kind != "sqlite":
            continue
        log(f"web: {kind}: {settings.web_cases:,} open cases, {settings.web_clients} clients, "
            f"gunicorn with {settings.web_workers} workers")
        with database(kind, workdir, postgres_url, "web") as db:
            per_db[kind] = _run_one(settings, script, db, workdir)
    return {"per_db": per_db, "server_workers": settings.web_workers,
            "server_threads_per_worker": settings.web_threads, "think_s": list(THINK_S),
            "mix": dict(MIX)}


def _run_one(settings: Settings, script: Script, db: Database, workdir: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    template_ids = make_templates(db, script)
    templates_s = time.perf_counter() - t0
    built = clone_cases(db, template_ids, settings.web_cases, workers())
    with db.engine.connect() as conn:
        ids = [int(x) for x in conn.execute(select(m.CaseRow.id).order_by(m.CaseRow.id))
               .scalars()]
        ready = int(conn.execute(select(func.count()).select_from(m.TaskRow)
                                 .where(m.TaskRow.status == m.TASK_READY)).scalar_one())
    rng = random.Random(5)
    check_clones(db, sorted(set(rng.sample(ids, min(len(ids), 20)) + ids[-3:])))
    people_s = add_people(db)
    setup_s = time.perf_counter() - t0
    log(f"web: {db.kind}: {len(ids):,} cases with {ready:,} ready tasks in {setup_s:.1f} s "
        f"(templates {templates_s:.1f} s, bulk copy {built['clone_s']} s)")
    result: dict[str, Any] = {"cases": len(ids), "ready_tasks": ready,
                              "clients": settings.web_clients, "setup_s": round(setup_s, 1),
                              "setup": {**built, "templates_s": round(templates_s, 2),
                                        "people_s": round(people_s, 2)}}
    with server(db.url, settings.web_workers, workdir,
                settings.web_threads) as (host, port, pid):
        logins = [p[0] for p in people()]
        managers = [name for name in logins if name.startswith("mgr-")]
        sworkers = [name for name in logins if name.startswith("sw-")]
        clients = [Client(host, port, managers[(i // 5) % len(managers)] if i % 5 == 4
                          else sworkers[i % len(sworkers)], seed=1000 + i)
                   for i in range(settings.web_clients)]
        t1 = time.perf_counter()
        failures: list[BaseException] = []

        def sign_in(client: Client) -> None:
            try:
                client.sign_in()
            except BaseException as exc:  # reported below
                failures.append(exc)

        threads = [threading.Thread(target=sign_in, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if failures:
            raise RuntimeError(f"{len(failures)} client(s) could not sign in: {failures[0]}")
        result["sign_in_s"] = round(time.perf_counter() - t1, 1)
        drive(clients, settings.web_warmup_s, None)  # warm every worker's caches
        with db.engine.connect() as conn:
            views_before = _views(conn)
        for phase, seconds, think in (("paced", settings.web_seconds, THINK_S),
                                      ("saturation", settings.web_saturation_s, None)):
            cpu = server_cpu_s(pid)
            samples, wall = drive(clients, seconds, think)
            result[phase] = summarise(samples, wall)
            # the server's own CPU per request: what the pages cost, whatever else runs
            cpu = server_cpu_s(pid) - cpu
            result[phase]["server_cpu_ms_per_request"] = \
                round(cpu * 1000 / len(samples), 1) if samples else None
            result[phase]["load_average_after"] = round(os.getloadavg()[0], 2)
        with db.engine.connect() as conn:
            result["case_viewed_events_written"] = _views(conn) - views_before
    for phase in ("paced", "saturation"):
        p = result[phase]
        log(f"web: {db.kind} {phase}: {p['rps']} req/s; inbox p50/p95/p99 "
            f"{p['inbox']['p50_ms']}/{p['inbox']['p95_ms']}/{p['inbox']['p99_ms']} ms; case "
            f"{p['case']['p50_ms']}/{p['case']['p95_ms']}/{p['case']['p99_ms']} ms; errors "
            f"{p['inbox']['errors'] + p['case']['errors']}; server CPU "
            f"{p['server_cpu_ms_per_request']} ms/request; load average "
            f"{p['load_average_after']}")
    result["seconds"] = round(time.perf_counter() - t0, 1)
    return result


def _views(conn: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(m.EventRow)
                            .where(m.EventRow.kind == "case.viewed")).scalar_one())

