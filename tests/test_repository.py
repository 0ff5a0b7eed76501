"""The repository tracks source only: no virtual environment, build output, npm packages,
databases (they hold case files), egg-info or bytecode; and .gitignore keeps them out.

Skipped, with the reason, outside a git checkout (an unpacked sdist, say) or without git."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parents[1]

# directories that are generated, never written by hand
GENERATED_DIRS = {".venv", "venv", "env", ".env", "build", "dist", "node_modules", "__pycache__",
                  ".pytest_cache", ".mypy_cache", ".ruff_cache", ".import_linter_cache", ".tox",
                  ".nox", "htmlcov", "pip-wheel-metadata"}
GENERATED_FILES = re.compile(
    r"""(
        \.whl | \.egg | \.py[cod]                     # built packages, bytecode
      | \.(db|sqlite|sqlite3)(-wal|-shm|-journal)?    # databases and their side files
      | ^pyvenv\.cfg
    )$""", re.VERBOSE)

# one example of each kind, which .gitignore must ignore
MUST_BE_IGNORED = [
    ".venv/bin/python", "venv/pyvenv.cfg", "env/lib/site.py", "build/lib/carepath/cli.py",
    "dist/carepath-0.1.0-py3-none-any.whl", "carepath-0.1.0-py3-none-any.whl",
    "node_modules/bpmn-moddle/index.js", "carepath.db", "carepath-demo.db", "carepath.db-wal",
    "carepath.db-shm", "tests/cases.sqlite", "cases.sqlite3", "carepath.egg-info/PKG-INFO",
    "carepath/__pycache__/cli.cpython-311.pyc", "carepath/cli.pyc", ".import_linter_cache/x",
]


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                          check=False)


@pytest.fixture(scope="module")
def tracked() -> list[str]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed: the repository checks need it")
    inside = _git("rev-parse", "--show-toplevel")
    if inside.returncode != 0 or Path(inside.stdout.strip()).resolve() != ROOT:
        pytest.skip(f"{ROOT} is not a git checkout (an unpacked sdist?): nothing to check")
    listed = _git("ls-files", "-z")
    assert listed.returncode == 0, listed.stderr
    return [p for p in listed.stdout.split("\0") if p]


def _venv_dirs(paths: list[str]) -> set[PurePosixPath]:
    """Directories holding a pyvenv.cfg (tracked, or on disk): virtual environments, whatever
    their name."""
    found: set[PurePosixPath] = set()
    seen: set[PurePosixPath] = set()
    for path in paths:
        for parent in PurePosixPath(path).parents:
            if parent in seen or parent == PurePosixPath("."):
                continue
            seen.add(parent)
            if (ROOT / parent / "pyvenv.cfg").is_file():
                found.add(parent)
    return found


def test_nothing_generated_is_tracked(tracked: list[str]) -> None:
    venvs = _venv_dirs(tracked)
    wrong = []
    for path in tracked:
        pure = PurePosixPath(path)
        folders = set(pure.parts[:-1])
        if folders & GENERATED_DIRS:
            wrong.append(f"{path}: under {', '.join(sorted(folders & GENERATED_DIRS))}/")
        elif any(part.endswith(".egg-info") for part in pure.parts):
            wrong.append(f"{path}: egg-info (build output)")
        elif GENERATED_FILES.search(pure.name):
            wrong.append(f"{path}: a generated file (database, package, bytecode or venv)")
        elif any(v in pure.parents for v in venvs):
            wrong.append(f"{path}: inside a virtual environment (it has a pyvenv.cfg)")
    assert not wrong, ("Generated files are tracked; `git rm -r --cached` them:\n  "
                       + "\n  ".join(wrong))


def test_gitignore_keeps_generated_files_out(tracked: list[str]) -> None:
    result = _git("check-ignore", "--no-index", "--verbose", "--non-matching", *MUST_BE_IGNORED)
    not_ignored = [line.split("\t", 1)[1] for line in result.stdout.splitlines()
                   if line.startswith("::\t")]
    assert not_ignored == [], f".gitignore does not ignore: {', '.join(not_ignored)}"


def test_source_files_are_not_ignored(tracked: list[str]) -> None:
    """The patterns are not so broad that they hide source (env.py, the built-in packs...)."""
    samples = ["carepath/adapters/db/migrations/env.py", "carepath/processes/wt2023/pack.yaml",
               "carepath/stories/nfa.yaml", "examples/child.yaml", "bench/results.json"]
    result = _git("check-ignore", "--no-index", *samples)
    assert result.stdout.strip() == "", f"ignored by .gitignore: {result.stdout.split()}"
