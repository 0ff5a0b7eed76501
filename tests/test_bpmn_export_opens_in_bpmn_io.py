"""Exported BPMN imports into bpmn.io's own parser (bpmn-moddle) with no warnings."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from carepath.adapters.packs import PackRegistry

ROOT = Path(__file__).parents[1]
SCRIPT = Path(__file__).parent / "js" / "import_bpmn.mjs"


@pytest.mark.parametrize("pack_name", ["ics2010", "wt2023"])
def test_every_process_imports_cleanly(pack_name: str, tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "bpmn-moddle").is_dir():
        pytest.skip("bpmn.io check skipped: needs Node.js and `npm install` (make test runs it)")
    pack = PackRegistry().get(pack_name)
    files = []
    for process_id, (_, xml) in pack.bpmn.items():
        path = tmp_path / f"{process_id}.bpmn"
        path.write_bytes(xml)
        files.append(str(path))
    run = subprocess.run([node, str(SCRIPT), *files], capture_output=True, text=True,
                         cwd=ROOT, timeout=120, check=True)
    results = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(results) == len(files)
    for r in results:
        assert r["error"] is None, r
        assert r["warnings"] == [], r
        assert r["shapes"] == r["elements"] > 0, r
