"""The wheel is all a user needs: built from this source tree, installed into a fresh virtual
environment, ``carepath demo`` builds the demo caseload from outside the checkout (the sample
stories and the built-in packs are package data), and the command it suggests runs as printed.

Slow (a minute or two: pip installs the dependencies from the package index); ``make test`` runs
it; deselect it with ``-m "not slow"``. Skipped, with the reason, when no package index can be
reached."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# what is never part of a build: environments, outputs, caches, databases, version control
SKIP = shutil.ignore_patterns(".git", ".venv", "venv", "env", "node_modules", "build", "dist",
                              "*.egg-info", "__pycache__", ".*_cache", "*.db", "*.db-*",
                              "*.sqlite*", "bench", "tests")
OFFLINE = re.compile(r"NewConnectionError|Failed to establish a new connection|Temporary failure "
                     r"in name resolution|Network is unreachable|No route to host|"
                     r"Could not fetch URL|ProxyError")


def _run(args: list[str], cwd: Path, timeout: int = 600,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          check=False, env=env)


def _pip(args: list[str], cwd: Path) -> None:
    result = _run(args, cwd)
    output = result.stdout + result.stderr
    if result.returncode != 0 and OFFLINE.search(output):
        pytest.skip(f"no package index reachable for pip: {OFFLINE.search(output)}")
    assert result.returncode == 0, output


def _clean_env(venv: Path) -> dict[str, str]:
    """This shell's environment without this checkout's: no PYTHONPATH, no active venv, and a
    PATH without the test run's environment, as for a user who just installed carepath."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "CAREPATH_DATABASE_URL",
                        "CAREPATH_PACK_PATH", "CAREPATH_TODAY")}
    ours = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if p and p != ours)
    return env


@pytest.mark.slow
def test_the_wheel_installs_and_runs_the_demo_outside_the_checkout(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=SKIP)
    dist = tmp_path / "dist"
    _pip([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist),
          str(source)], tmp_path)
    [wheel] = dist.glob("carepath-*.whl")

    venv = tmp_path / "fresh venv"  # a space, as in many home folders
    result = _run([sys.executable, "-m", "venv", str(venv)], tmp_path)
    assert result.returncode == 0, result.stderr
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    _pip([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(wheel)], tmp_path)

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = _clean_env(venv)
    carepath = str(bin_dir / "carepath")
    # the installed package is the one running, not this checkout
    where = _run([str(bin_dir / "python"), "-c", "import carepath; print(carepath.__file__)"],
                 work, env=env)
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout + where.stderr

    url = f"sqlite:///{work / 'demo.db'}"
    demo = _run([carepath, "demo", "--db", url], work, env=env)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "wt2023@1.0.0: nfa -> case" in demo.stdout
    cases = _run([carepath, "case", "list", "--json", "--db", url], work, env=env)
    assert cases.returncode == 0, cases.stdout + cases.stderr
    rows = json.loads(cases.stdout)
    stories = len(list((ROOT / "carepath" / "stories").glob("*.yaml")))
    assert len(rows) == 2 * stories  # every sample story on both built-in packs

    # the hint names the program as this user can run it (it is not on their PATH)
    hint = next(line for line in demo.stdout.splitlines() if line.startswith("Try:"))
    command = shlex.split(hint.removeprefix("Try:"))
    assert command[:3] == [carepath, "task", "list"], hint
    tried = _run(command, work, env=env)
    assert tried.returncode == 0, tried.stdout + tried.stderr
