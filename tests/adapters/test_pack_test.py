"""``pack test``: the built-in packs' scenarios pass with their flow coverage; a failing scenario
exits 1; and the story runner names the task and the item when a pack asks for something the
story cannot give."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import carepath.processes
from carepath.adapters.cli.simulate import pack_test_command
from carepath.adapters.db.database import upgrade
from carepath.adapters.db.scratch import MemoryDatabases, memory_engine
from carepath.adapters.memory_cases import MemoryScratch
from carepath.adapters.packs import PackRegistry
from carepath.core.errors import CarepathError, PackError, StoryError
from carepath.core.yamlsource import load_yaml
from carepath.engine.stories.story import parse_story
from carepath.service.pack_test import (
    ScenarioError,
    load_scenario,
    partial_differences,
    run_pack_tests,
)
from carepath.service.stories import StoryRunner
from tests.casework import Casework as CaseStore

BUILT_IN = Path(carepath.processes.__file__).resolve().parent
STORIES = Path(carepath.__file__).parent / "stories"


def _copy(pack: str, tmp_path: Path) -> Path:
    """A copy of a built-in pack with its own version (a registry refuses a second pack with the
    name and version of one it has)."""
    target = tmp_path / pack
    shutil.copytree(BUILT_IN / pack, target)
    manifest = target / "pack.yaml"
    text = manifest.read_text(encoding="utf-8")
    assert "version: 1.0.0\n" in text
    manifest.write_text(text.replace("version: 1.0.0\n", "version: 1.0.0-copy\n", 1),
                        encoding="utf-8")
    return target


def _story(name: str) -> dict:
    path = STORIES / f"{name}.yaml"
    return parse_story(load_yaml(path.read_text(encoding="utf-8"), str(path)), str(path))


@pytest.mark.parametrize("store", ["memory", "sqlite"])
@pytest.mark.parametrize("pack_name", ["ics2010", "wt2023"])
def test_built_in_scenarios_pass_and_cover_most_flows(pack_name: str, store: str) -> None:
    """On the in-memory case store (what `carepath pack test` uses) and on in-memory SQLite
    databases alike."""
    registry = PackRegistry()
    pack = registry.get(pack_name)
    report = run_pack_tests(pack, registry,
                            MemoryScratch() if store == "memory" else MemoryDatabases())
    assert 3 <= len(report.scenarios) <= 17  # 7 of the CIN and CP stages, 9-10 of care
    assert [s.problems for s in report.scenarios if not s.passed] == []
    assert report.passed
    coverage = report.coverage.as_json()
    assert coverage["flows"]["percent"] >= 75
    assert coverage["tasks"]["percent"] >= 75
    never = {(f["process"], f["flow"]) for f in coverage["flows"]["never_taken"]}
    assert len(never) == coverage["flows"]["total"] - coverage["flows"]["taken"]
    # the runner never carries a child in need plan over a review it has no story for
    assert any(f["between"] == "After the review -> Next review"
               for f in coverage["flows"]["never_taken"])


def test_pack_test_command_json() -> None:
    result = CliRunner().invoke(pack_test_command, ["wt2023", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["pack"].startswith("wt2023@") and data["passed"] is True
    assert {s["name"] for s in data["scenarios"]} >= {"01_nfa_then_assessment"}
    assert 0 < data["coverage"]["flows"]["percent"] <= 100
    assert data["coverage"]["flows"]["never_taken"][0].keys() == {"process", "flow", "between"}


def test_pack_test_command_text() -> None:
    result = CliRunner().invoke(pack_test_command, ["ics2010"])
    assert result.exit_code == 0, result.output
    assert "Flow coverage:" in result.output
    assert "Sequence flows never taken:" in result.output
    assert "All 17 scenarios passed." in result.output


def test_a_failing_scenario_exits_1(tmp_path: Path) -> None:
    pack_dir = _copy("wt2023", tmp_path)
    scenario = (pack_dir / "scenarios" / "03_cp_plan_step_down.yaml").read_text()
    wrong = scenario.replace("  open_tasks: 0", "  open_tasks: 2\n  stopped_at: [Close the case]")
    (pack_dir / "scenarios" / "03_cp_plan_step_down.yaml").write_text(wrong)
    (pack_dir / "scenarios" / "07_broken.yaml").write_text("story: [not, a, story]\n")
    result = CliRunner().invoke(pack_test_command, [str(pack_dir)])
    assert result.exit_code == 1, result.output
    assert "2 of 17 scenarios failed." in result.output
    assert "0 task(s) open at the end, expected 2" in result.output
    assert "stopped at no task, expected ['Close the case']" in result.output
    assert "07_broken" in result.output and "cannot be read" in result.output
    result = CliRunner().invoke(pack_test_command, [str(pack_dir), "--json"])
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["passed"] is False
    assert [s["name"] for s in data["scenarios"] if not s["passed"]] == [
        "03_cp_plan_step_down", "07_broken"]


def test_a_pack_without_scenarios(tmp_path: Path) -> None:
    pack_dir = _copy("wt2023", tmp_path)
    shutil.rmtree(pack_dir / "scenarios")
    registry = PackRegistry()
    with pytest.raises(ScenarioError, match="has no scenarios"):
        run_pack_tests(registry.get(str(pack_dir)), registry, MemoryDatabases())


UPN_FIELD = """
  - name: upn
    type: text
    label: The child's unique pupil number
    required: true
    record: child.upn
    example: C201250001001
"""


def _pack_asking_for_a_upn(tmp_path: Path) -> Path:
    """A copy of wt2023 whose 'Start the assessment' form must have the child's UPN."""
    pack_dir = _copy("wt2023", tmp_path)
    form = pack_dir / "forms" / "assessment_start.yaml"
    form.write_text(form.read_text(encoding="utf-8").rstrip("\n") + "\n" + UPN_FIELD)
    return pack_dir


def test_the_runner_names_the_task_and_the_item_the_story_cannot_give(tmp_path: Path) -> None:
    registry = PackRegistry()
    pack = registry.add_dir(_pack_asking_for_a_upn(tmp_path))
    engine = memory_engine()
    upgrade(engine)
    store = CaseStore(engine, registry)
    story = _story("unborn")  # UPN unknown (UN1): the story has no UPN to give
    with pytest.raises(StoryError) as caught:
        StoryRunner(store.service, pack).run(story)
    message = str(caught.value)
    assert "'Start the child and family assessment' (form assessment_start)" in message
    assert "needs 'child.upn' (Unique pupil number), which the story does not give" in message
    engine.dispose()


def test_a_story_with_a_upn_goes_through_a_form_asking_for_it(tmp_path: Path) -> None:
    """The story runs on the pack it is given (1.0.0-copy), not on the newest of that name."""
    registry = PackRegistry()
    pack = registry.add_dir(_pack_asking_for_a_upn(tmp_path))
    engine = memory_engine()
    upgrade(engine)
    store = CaseStore(engine, registry)
    result = StoryRunner(store.service, pack).run(_story("cin_plan"))
    engine.dispose()
    assert not result.unrecorded and result.completed > 3


def test_scenarios_can_expect_an_error_or_part_of_the_record(tmp_path: Path) -> None:
    pack_dir = _pack_asking_for_a_upn(tmp_path)
    scenarios = pack_dir / "scenarios"
    shutil.rmtree(scenarios)
    scenarios.mkdir()
    unborn = (STORIES / "unborn.yaml").read_text(encoding="utf-8")
    story = "\n".join("  " + line for line in unborn.splitlines() if not line.startswith("#"))
    (scenarios / "needs_upn.yaml").write_text(
        f"title: The pack needs a UPN\nstory:\n{story}\nexpect:\n"
        "  error: \"needs 'child.upn'\"\n")
    cin = (STORIES / "cin_plan.yaml").read_text(encoding="utf-8")
    story = "\n".join("  " + line for line in cin.splitlines() if not line.startswith("#"))
    (scenarios / "partial.yaml").write_text(
        f"story:\n{story}\nexpect:\n  record:\n    episodes:\n"
        "      - referral: {source: 3B}\n        closure: {reason: RC7, date: 2026-01-30}\n"
        "  open_tasks: 0\n")
    registry = PackRegistry()
    report = run_pack_tests(registry.get(str(pack_dir)), registry, MemoryDatabases())
    assert [(s.name, s.passed, s.problems) for s in report.scenarios] == [
        ("needs_upn", True, []), ("partial", True, [])]


def test_partial_differences() -> None:
    from datetime import date

    actual = {"episodes": [{"referral": {"date": date(2025, 1, 2), "source": "6"},
                            "closure": {"reason": "RC7"}}]}
    assert partial_differences({"episodes": [{"referral": {"source": 6}}]}, actual) == []
    assert partial_differences({"episodes": [{"referral": {"date": "2025-01-02"}}]},
                               actual) == []
    assert partial_differences({"episodes": [{"closure": {"reason": "RC8"}}]}, actual) == [
        "record.episodes[0].closure.reason: expected 'RC8', the record has 'RC7'"]
    assert partial_differences({"episodes": [{}, {}]}, actual) == [
        "record.episodes: expected 2 item(s), the record has 1"]


@pytest.mark.parametrize("text, message", [
    ("title: x\n", "a scenario needs 'story'"),
    ("story: {}\nwhat: 1\n", "unknown key 'what'"),
    ("story:\n  child: {la_child_id: A1, upn_unknown: UN1, birth_date: 2020-01-01, sex: F,"
     " ethnicity: WBRI}\n  episodes: [{referral: {date: 2025-05-01, source: 6, nfa: true},"
     " closure: {date: 2025-05-01, reason: RC7}}]\n"
     "expect: {open_tasks: many}\n", "'open_tasks' must be a whole number"),
])
def test_bad_scenario_files_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(CarepathError, match=message) as caught:
        load_scenario(text, "s.yaml")
    assert str(caught.value).startswith("s.yaml:")
    assert isinstance(caught.value, PackError | StoryError)


def test_pack_test_command_user_error() -> None:
    result = CliRunner().invoke(pack_test_command, ["no-such-pack"])
    assert result.exit_code == 2
    assert result.output.startswith("Error: No pack called 'no-such-pack'")
