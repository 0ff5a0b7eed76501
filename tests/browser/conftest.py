"""A real browser against a real server: ``carepath serve`` in a subprocess on a free port over a
fresh SQLite database with the demo people, driven by Playwright with Debian's Chromium (never
``playwright install``), with axe-core from npm checking every page.

Skipped, with the reason, when Playwright, Chromium or axe-core is missing; ``.ci/run`` installs
them and sets CAREPATH_REQUIRE_BROWSER=1, which turns those skips into failures.
Screenshots go to $CAREPATH_ARTIFACTS/screenshots (default test-artifacts/screenshots).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from carepath.adapters.app import people_service
from carepath.adapters.cli.demo import DEMO_PASSWORD, DEMO_USERS
from carepath.adapters.db.database import dispose_engine, make_engine, upgrade

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium",
                       "/usr/bin/chromium-browser")
CHROMIUM_ARGS = ["--disable-dev-shm-usage", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-quic",
                 "--disable-sync"]


def _missing(reason: str) -> None:
    if os.environ.get("CAREPATH_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests required (CAREPATH_REQUIRE_BROWSER=1) but {reason}")
    pytest.skip(f"browser tests skipped: {reason}")


def chromium_path() -> str | None:
    configured = os.environ.get("CAREPATH_CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else None
    return next((c for c in CHROMIUM_CANDIDATES if Path(c).is_file()), None)


def artifacts() -> Path:
    base = Path(os.environ.get("CAREPATH_ARTIFACTS") or ROOT / "test-artifacts")
    folder = base / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    db_url: str
    log: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``carepath serve`` on a free port over a fresh database with the demo logins."""
    folder = tmp_path_factory.mktemp("serve")
    db_url = f"sqlite:///{folder / 'carepath.db'}"
    engine = make_engine(db_url)
    upgrade(engine)
    people = people_service(engine)
    for name, display, roles, teams in DEMO_USERS:
        people.add_user(name, display, DEMO_PASSWORD, roles, teams)
    dispose_engine(db_url)
    port = free_port()
    carepath = Path(sys.executable).parent / "carepath"
    log = folder / "server.log"
    env = {**os.environ, "CAREPATH_INSTANCE": str(folder / "instance"),
           "CAREPATH_SECRET_KEY": "browser tests", "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own program
            [str(carepath), "serve", "--port", str(port), "--db", db_url],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"carepath serve exited {process.returncode}: "
                            f"{log.read_text(errors='replace')}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:  # noqa: S310
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"carepath serve did not answer in 30 s: {log.read_text()}")
            time.sleep(0.2)
        yield Server(url, db_url, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright is not installed (pip install -e '.[test]')")
    executable = chromium_path()
    if executable is None:
        _missing("Debian's Chromium is not installed (apt-get install chromium), or "
                 "CAREPATH_CHROMIUM names no file")
    if not AXE.is_file():
        _missing(f"axe-core is not installed ({AXE} is missing: npm install)")
    if shutil.which("npm") is None and not (ROOT / "node_modules" / "govuk-frontend").is_dir():
        _missing("GOV.UK Frontend is not installed (npm install)")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, headless=True,
                                     args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
