"""pack check proves the SSDA903's needs of the looked-after record on every path.

The fixture adds the care stages to a copy of wt2023 (``looked_after/``: actions "Child becomes
looked after" with its review, "Change of placement" and the end of care), in place of wt2023's own;
each broken variant then
removes one thing the 903 needs, and pack check must find it with the rule and the path.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from carepath.adapters.packs import load_pack_dir
from carepath.engine.check import check_pack, render_text
from carepath.engine.check.record_state import RecordState
from carepath.engine.check.report import Finding, Report

from .broken import DECIDE, copy_pack, edit

FIXTURE = Path(__file__).parent / "looked_after"
BECOME = "Record the decision to look after the child"


_CARE_FILES = ("lac_", "adoption", "care_leaver")


def care_pack(tmp_path: Path) -> Path:
    """wt2023 without its own care stages, with the fixture's."""
    root = copy_pack(tmp_path)
    manifest = root / "pack.yaml"
    text = manifest.read_text(encoding="utf-8")
    for folder in ("forms", "processes"):
        for file in (root / folder).iterdir():
            if file.name.startswith(_CARE_FILES):
                text = re.sub(rf"  \w+:\n(    .*\n)*?    start: {file.stem}\n", "", text)
                file.unlink()
    text = re.sub(r"(?m)^retired: .*\n", "", text)  # wt2023's retired care processes went too
    manifest.write_text(text, encoding="utf-8")
    for folder in ("forms", "processes"):
        for file in (FIXTURE / folder).iterdir():
            shutil.copy(file, root / folder / file.name)
    actions = (FIXTURE / "actions.yaml").read_text(encoding="utf-8")
    edit(root, "pack.yaml", "actions:\n", "actions:\n" + actions)
    return root


def care_errors(report: Report) -> list[Finding]:
    return [f for f in report.errors if f.item and f.item.split(".")[0] in
            ("care", "legal_status", "placement", "lac_review", "missing")]


def test_care_stages_that_collect_what_the_903_needs_pass(tmp_path: Path) -> None:
    report = check_pack(load_pack_dir(care_pack(tmp_path)))
    assert report.ok, render_text(report)
    assert not report.incomplete


VARIANTS = [
    ("care starts without a placement", "forms/lac_start.yaml",
     "    required: true\n    record: placement.start\n",
     "    required: false\n    record: placement.start\n", "146", "placement.start", BECOME),
    ("placement without a provider", "forms/lac_start.yaml",
     "    required: true\n    record: placement.provider\n",
     "    required: false\n    record: placement.provider\n", "178", "placement.provider",
     BECOME),
    ("placement provider hidden for a type that needs one", "forms/lac_placement.yaml",
     "show_if: placement_type != 'T1'", "show_if: placement_type == 'T1'", "178",
     "placement.provider", "Record the new placement"),
    ("care ends without a reason", "forms/lac_cease.yaml",
     "    required: true\n    record: care.reason_ceased\n",
     "    required: false\n    record: care.reason_ceased\n", "148", "care.reason_ceased",
     "Record that the child ceased to be looked after"),
    ("review without participation", "forms/lac_review.yaml",
     "    required: true\n    record: lac_review.participation\n",
     "    required: false\n    record: lac_review.participation\n", "167",
     "lac_review.participation", "Record the looked-after review"),
    ("change of placement offered before care", "pack.yaml",
     'available: "care.open"\n    role: social_worker\n    start: lac_placement',
     'available: "episode.open"\n    role: social_worker\n    start: lac_placement',
     "", "care.start", "Record the new placement"),
]


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v[0])
def test_each_missing_903_need_is_found_with_its_rule_and_path(
        tmp_path: Path, variant: tuple[str, str, str, str, str, str, str]) -> None:
    _, file, old, new, rule, item, last = variant
    root = care_pack(tmp_path)
    edit(root, file, old, new)
    report = check_pack(load_pack_dir(root))
    found = [f for f in care_errors(report) if f.item == item and (not rule or rule in f.rules)]
    assert found, render_text(report)
    shortest = min(found, key=lambda f: len(f.path))
    assert shortest.path[-1] == last
    assert DECIDE in shortest.path[0]  # from the referral, through the action
    assert not report.ok


def test_record_state_follows_the_period_of_care() -> None:
    from carepath.engine.check.symbolic import SET, Outcome

    state = RecordState({"care.open", "placement.open", "lac_review.count"})
    start = state.initial()
    assert start["care.open"] is False and start["lac_review.count"] == 0

    def done(*items: str) -> Outcome:
        return Outcome({}, frozenset(items), frozenset(), frozenset(),
                       dict.fromkeys(items, SET), "")

    looked_after = state.apply(start, done("care.start", "placement.start", "placement.type"))
    assert looked_after["care.open"] is True and looked_after["placement.open"] is True
    reviewed = state.apply(looked_after, done("lac_review.date"))
    assert reviewed["lac_review.count"] == 1
    ended = state.apply(reviewed, done("care.end", "care.reason_ceased"))
    assert ended["care.open"] is False and ended["placement.open"] is False
    again = state.apply(ended, done("care.start"))
    assert again["care.open"] is True and again["lac_review.count"] == 0
