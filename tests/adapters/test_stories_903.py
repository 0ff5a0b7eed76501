"""Every shipped story with a looked-after record, run on each built-in pack, gives SSDA903
CSVs with no error under the DfE rules (csc-validator-be-903, 2025-26)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from carepath.returns.ssda903 import LookedAfterChild
from carepath.returns.ssda903_csv import write_ssda903
from carepath.returns.validate_ssda903 import validate_ssda903
from tests.adapters.test_stories import PACKS, STORIES, load_story, run

LOOKED_AFTER = [p for p in STORIES if "looked_after" in load_story(p)]
YEAR = 2026  # the collection year 2025-26, whose rules the validator has

needs_rules = pytest.mark.skipif(
    sys.version_info >= (3, 12) and importlib.util.find_spec("lac_validator") is None,
    reason="csc-validator-be-903 (carepath[validators]) needs pandas 1.x: Python 3.11 only")


def test_the_looked_after_stories_are_shipped() -> None:
    assert {p.stem for p in LOOKED_AFTER} >= {
        "lac_s20_care_order", "lac_placement_change", "lac_missing", "lac_care_leaver",
        "lac_adoption", "lac_short_breaks", "lac_uasc"}


@needs_rules
@pytest.mark.parametrize("pack_name", PACKS)
@pytest.mark.parametrize("story_file", LOOKED_AFTER, ids=lambda p: p.stem)
def test_story_gives_a_903_with_no_errors(db: Engine, tmp_path: Path, pack_name: str,
                                          story_file: Path) -> None:
    store, result = run(db, pack_name, load_story(story_file))
    assert result.unrecorded == []
    record = store.record(result.case_ids[0])
    summary = write_ssda903(tmp_path, [LookedAfterChild(record.child, record.looked_after)], YEAR)
    problems = sorted({f"{p.table}:{p.rule}:{p.item[:40]}" for p in summary.problems})
    assert problems == [], "; ".join(problems)
    assert summary.children == 1
    report = validate_ssda903(tmp_path, YEAR)
    assert [i.line() for i in report.issues] == []
    assert report.unexpected_crashes == []
    assert not report.failed
