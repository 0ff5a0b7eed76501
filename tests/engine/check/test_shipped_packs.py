"""Both shipped packs pass `pack check`; their paths are what the processes say."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import pytest

from carepath.adapters.packs import PackRegistry, load_pack_dir
from carepath.engine.check import check_pack, render_text
from carepath.engine.check.paths import Limits, Trail, concurrent, enumerate_paths
from carepath.engine.check.paths import Path as CasePath
from carepath.engine.pack import Pack

from .broken import DECIDE, copy_pack, edit

PACKS = ("ics2010", "wt2023")


@pytest.fixture(scope="module")
def registry() -> PackRegistry:
    return PackRegistry()


@pytest.mark.parametrize("name", PACKS)
def test_shipped_pack_passes_with_no_errors(registry: PackRegistry, name: str) -> None:
    report = check_pack(registry.get(name))
    assert report.ok, render_text(report)
    assert not report.truncated
    assert report.paths > 1000
    # What is left are warnings about what a worker may choose: RC8/RC9 (closed after an
    # assessment) where there was none or there was an enquiry or plan, and an enquiry with no
    # assessment.
    assert {f.rules for f in report.warnings} <= {("8825Q",), ("2990",), ("2991Q",)}
    data = report.to_json()
    assert data["ok"] is True and data["errors"] == 0 and data["paths"] == report.paths


def runs(path: CasePath) -> Counter[str]:
    return Counter(s.process for s in path.steps if s.kind == "process")


def test_paths_follow_starts_and_take_each_loop_at_most_once(registry: PackRegistry) -> None:
    # the flows alone (no actions taken): every path listed
    found = enumerate_paths(registry.get("wt2023"), limits=Limits(max_actions=0))
    assert not found.truncated
    assert len(found.paths) == found.count
    nfa = [p for p in found.paths if p.tasks() == (DECIDE,)]
    assert [p.end for p in nfa] == ["end"]
    assert nfa[0].forms() == ("referral_decision",)
    assert max(max(runs(p).values()) for p in found.paths) == 2
    # a second review conference (the recurring review taken once more), but never a third
    assert any(runs(p)["cp_review"] == 2 for p in found.paths)
    looping = [p for p in found.paths if p.end == "loop"]
    # a loop ends a path when it would be taken a second time: a process started a third
    # time, or an assessment returned to the social worker twice
    assert looping and all(max(runs(p).values()) == 2 or any(
        s.title.endswith("Returned to the social worker") for s in p.steps) for p in looping)


def test_parallel_branches_are_walked_together(registry: PackRegistry) -> None:
    found = enumerate_paths(registry.get("wt2023"), max_paths=4000,
                            limits=Limits(max_actions=0))
    joint = next(p for p in found.paths
                 if any(s.node == "joint_enquiry_outcome" for s in p.steps))
    steps = {s.node: s for s in joint.steps if s.kind == "task"}
    assert {"start_joint_assessment", "joint_assessment", "joint_enquiry_outcome"} <= set(steps)
    assert concurrent(steps["joint_assessment"], steps["joint_enquiry_outcome"])
    assert not concurrent(steps["start_joint_assessment"], steps["joint_assessment"])
    assert not concurrent(steps["strategy_discussion"], steps["joint_enquiry_outcome"])


def test_path_bound_is_reported(registry: PackRegistry) -> None:
    found = enumerate_paths(registry.get("ics2010"), max_paths=100,
                            limits=Limits(max_actions=0))
    assert len(found.paths) == 100 and found.truncated
    assert found.count > 100


def bpmn_copy(tmp_path: Path, pack: Pack, name: str) -> Path:
    """The pack with its YAML processes replaced by the BPMN the compiler makes of them."""
    root = copy_pack(tmp_path, name)
    for file, xml in pack.bpmn.values():
        (root / file).unlink()
        (root / file).with_suffix(".bpmn").write_bytes(xml)
    return root


@pytest.mark.parametrize("name", PACKS)
def test_bpmn_pack_is_checked_the_same_way(tmp_path: Path, registry: PackRegistry,
                                           name: str) -> None:
    pack = registry.get(name)
    root = bpmn_copy(tmp_path, pack, name)
    assert not list((root / "processes").glob("*.yaml"))
    report = check_pack(load_pack_dir(root))
    assert report.ok, render_text(report)
    assert report.paths == check_pack(pack).paths


def test_broken_bpmn_pack_is_caught_on_its_path(tmp_path: Path, registry: PackRegistry) -> None:
    root = bpmn_copy(tmp_path, registry.get("wt2023"), "wt2023")
    # the condition reads a name no form sets
    edit(root, "processes/referral.bpmn", ">assessment_next == 'cin_plan'<",
         ">outcome == 'cin_plan'<")
    # the task that starts the assessment uses a form that does not record its start
    edit(root, "processes/referral.bpmn",
         '<spiffworkflow:property name="form" value="assessment_start"/>',
         '<spiffworkflow:property name="form" value="core_group"/>')
    report = check_pack(load_pack_dir(root))
    undefined = [f for f in report.errors if f.check == "undefined-name"]
    assert [f.path for f in undefined] == [(DECIDE, "Start the child and family assessment",
                                            "Complete the child and family assessment",
                                            "Authorise the child and family assessment")]
    assert undefined[0].file == "processes/referral.bpmn" and undefined[0].line
    assert "'outcome' may be undefined at gateway 'After the assessment'" in undefined[0].message
    unstarted = [f for f in report.errors if f.item == "assessment.authorised" and
                 "8608" in f.rules]
    assert unstarted and unstarted[0].path == undefined[0].path


def test_paths_take_the_packs_actions_wherever_they_are_available(
        registry: PackRegistry) -> None:
    # the actions of the CIN and CP stages (the care stages' own are in
    # test_care_actions_are_taken_after_the_child_becomes_looked_after)
    full = registry.get("wt2023")
    pack = dataclasses.replace(full, actions={
        k: a for k, a in full.actions.items()
        if not any(p.startswith(("care.", "placement.", "missing.")) for p in a.available.paths)})
    found = enumerate_paths(pack, max_paths=200_000)
    assert not found.truncated
    taken = [p for p in found.paths if any(s.kind == "action" for s in p.steps)]
    names = {s.title.split()[1] for p in taken for s in p.steps if s.kind == "action"}
    assert names == {"start_section47", "start_assessment", "close_case"}
    # never before the referral decision recorded the primary need, at most one per path
    assert all(p.tasks()[0] == DECIDE for p in taken)
    assert max(sum(s.kind == "action" for s in p.steps) for p in taken) == 1
    # taken while a task waits: the action's process (and what it starts) runs, then the
    # interrupted work carries on
    at = "action start_assessment at 'Review the child in need plan'"
    mids = [p.tasks() for p in taken if at in p.tasks()]
    assert mids and all(t[0] == DECIDE for t in mids)
    assert any(t[t.index(at) + 1:t.index(at) + 5] == (
        "Start the child and family assessment", "Complete the child and family assessment",
        "Authorise the child and family assessment", "Review the child in need plan")
        for t in mids)


def test_care_actions_are_taken_after_the_child_becomes_looked_after(
        registry: PackRegistry) -> None:
    taken: set[tuple[str, ...]] = set()

    class Actions:
        def begin(self) -> None:
            return None

        def step(self, state: None, trail: Trail) -> None:
            taken.add(tuple(s.title.split()[1] for s in trail.steps() if s.kind == "action"))

        def finish(self, state: None, trail: Trail, end: object) -> None:
            return None

    enumerate_paths(registry.get("wt2023"), [Actions()], keep_paths=False)
    assert ("become_looked_after", "change_placement") in taken
    assert ("become_looked_after", "child_missing") in taken
    assert ("become_looked_after", "change_legal_status") in taken
    # a care action only once the child is looked after, and at most one past the bound
    assert all(names[0] == "become_looked_after" for names in taken if len(names) > 1)
    assert not any(names[0] in ("change_placement", "child_missing", "change_legal_status")
                   for names in taken if names)
    assert max(map(len, taken)) == 2
