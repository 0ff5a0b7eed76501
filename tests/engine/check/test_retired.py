"""``retired:`` in pack.yaml: processes kept only so that instances started before a change of
the pack can restore and finish. pack check does not warn that nothing reaches them; nothing may
start them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from carepath.adapters.packs import load_pack_dir
from carepath.engine.check import check_pack
from carepath.engine.pack import PackErrors

MOVES = Path(__file__).parents[2] / "packs" / "moves" / "v1"
OLD = """id: old_referral
title: The referral as it was
steps:
  - task: decide
    title: Decide what happens next
    form: decide
    role: social_worker
  - end: done
    title: Done
"""


def _pack(tmp_path: Path, manifest_extra: str) -> Path:
    folder = tmp_path / "pack"
    shutil.copytree(MOVES, folder)
    (folder / "processes" / "old_referral.yaml").write_text(OLD, encoding="utf-8")
    manifest = folder / "pack.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8") + manifest_extra, encoding="utf-8")
    return folder


def _unreachable(folder: Path) -> list[str]:
    report = check_pack(load_pack_dir(folder))
    return [f.message for f in report.warnings if "on no path" in f.message]


def test_a_retired_process_is_not_reported_unreachable(tmp_path: Path) -> None:
    assert _unreachable(_pack(tmp_path / "a", "")) == [
        "task 'Decide what happens next' is on no path from the start of the pack"]
    pack = load_pack_dir(_pack(tmp_path / "b", "retired: [old_referral]\n"))
    assert pack.retired == frozenset({"old_referral"})
    assert _unreachable(_pack(tmp_path / "c", "retired: [old_referral]\n")) == []


@pytest.mark.parametrize(("extra", "message"), [
    ("retired: [nothing_here]\n", "retired: there is no process 'nothing_here' in this pack"),
    ("retired: old_referral\n", "'retired' must be a list of process ids"),
    ("retired: [referral]\n", "retired: 'referral' is the pack's start process"),
    ("actions:\n  again:\n    title: Again\n    available: \"episode.open\"\n    role: social_worker\n"
     "    start: old_referral\nretired: [old_referral]\n",
     "retired: 'old_referral' is started by the action 'again'"),
])
def test_a_retired_process_nothing_may_start(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(PackErrors) as caught:
        load_pack_dir(_pack(tmp_path, extra))
    assert message in str(caught.value)
