"""The architecture's import rules hold: ``lint-imports`` checks each import-linter contract in
pyproject.toml (``[tool.importlinter]``), one test per contract, failing with its report.

The contracts: the pure layers (core, forms, engine, returns) import no service, adapter,
command line, SQLAlchemy, click, rich or Flask; the service layer imports no command line or web
adapter, click, rich or Flask; core sits under forms, which sits under engine; and only
``carepath.adapters.db`` imports SQLAlchemy and Alembic (direct imports, wherever they are).

NOTE: until the service layer (carepath/service) lands, ``database-in-adapters-db`` fails: the
story runner, pack tests, simulation and command line still import SQLAlchemy outside
carepath.adapters.db. That failure is the work left to do, not a reason to loosen the contract."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
ANSI = re.compile(r"\x1b\[[0-9;]*m")
CONFIG: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
CONTRACTS = CONFIG["tool"]["importlinter"]["contracts"]


def _lint_imports() -> str:
    beside = Path(sys.executable).parent / "lint-imports"
    found = str(beside) if beside.is_file() else shutil.which("lint-imports")
    if found is None:
        pytest.fail("lint-imports is not installed: pip install -e '.[test]' (make test does)")
    return found


def test_every_contract_has_an_id() -> None:
    assert len(CONTRACTS) >= 4
    assert all(c.get("id") for c in CONTRACTS)
    assert CONFIG["tool"]["importlinter"]["root_package"] == "carepath"


@pytest.mark.architecture
@pytest.mark.parametrize("contract", [c["id"] for c in CONTRACTS])
def test_import_contract_is_kept(contract: str) -> None:
    # run in the checkout: lint-imports puts the working directory first on sys.path, so it
    # reads this source tree even if carepath is installed elsewhere too
    env = {**os.environ, "NO_COLOR": "1", "TERM": "dumb"}
    result = subprocess.run([_lint_imports(), "--config", str(ROOT / "pyproject.toml"),
                             "--contract", contract, "--no-cache"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    report = ANSI.sub("", result.stdout + result.stderr)
    assert "Contracts:" in report, report
    assert result.returncode == 0, f"lint-imports: contract {contract} is broken:\n{report}"
