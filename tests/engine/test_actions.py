"""Pack actions: parsing and checking ``actions:`` in pack.yaml, and availability over a record."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from carepath.adapters.packs import read_pack_files
from carepath.core.errors import ActionUnavailableError, NotFoundError
from carepath.engine.pack import PackErrors, build_pack
from carepath.engine.record.looked_after import LookedAfter, PeriodOfCare
from carepath.engine.record.model import CaseRecord, Child, CPPlan, Episode, Section47
from carepath.engine.runtime import CaseRuntime

PACKS = Path(__file__).resolve().parents[2] / "carepath" / "processes"


def files_with_actions(actions: str, pack: str = "wt2023") -> dict[str, str]:
    files = read_pack_files(PACKS / pack)
    text = files["pack.yaml"].split("\nactions:")[0].rstrip("\n# ") + "\n"
    files["pack.yaml"] = text + actions
    return files


def refusal(actions: str) -> tuple[str, int | None]:
    files = files_with_actions(actions)
    line_count = files["pack.yaml"].count("\n") - actions.count("\n")
    with pytest.raises(PackErrors) as caught:
        build_pack(files, "test")
    problems = caught.value.problems
    assert len(problems) == 1, problems
    assert problems[0].file == "pack.yaml"
    line = problems[0].line
    return problems[0].detail, None if line is None else line - line_count


def test_the_built_in_packs_declare_actions() -> None:
    for name in ("wt2023", "ics2010"):
        pack = build_pack(read_pack_files(PACKS / name), name)
        assert {"start_section47", "start_assessment", "close_case"} <= set(pack.actions)
        action = pack.actions["start_section47"]
        assert action.start == "section47"
        assert action.role == "social_worker"
        assert action.title == "Hold a strategy discussion"


ACTION = """actions:
  start_section47:
    title: Hold a strategy discussion
    available: "{available}"
    role: {role}
    start: {start}
"""


def test_an_unknown_role_is_refused_with_its_line() -> None:
    message, line = refusal(ACTION.format(available="episode.open", role="clerk",
                                          start="section47"))
    assert "role 'clerk'" in message
    assert line == 5


def test_an_unknown_process_is_refused_with_its_line() -> None:
    message, line = refusal(ACTION.format(available="episode.open", role="social_worker",
                                          start="nowhere"))
    assert "starts 'nowhere', which is not a process" in message
    assert line == 6


def test_a_bad_expression_is_refused_with_its_line() -> None:
    message, line = refusal(ACTION.format(available="__import__('os')", role="social_worker",
                                          start="section47"))
    assert "is refused" in message
    assert line == 4
    message, line = refusal(ACTION.format(available="episode.open and not s47.running",
                                          role="social_worker", start="section47"))
    assert "'s47.running', which is not a record name" in message
    assert line == 4


def test_missing_and_unknown_settings_are_refused() -> None:
    message, _ = refusal("actions:\n  go:\n    title: Go\n    role: social_worker\n"
                         "    start: section47\n")
    assert "'available' is required" in message
    message, line = refusal("actions:\n  go:\n    title: Go\n    available: episode.open\n"
                            "    role: social_worker\n    start: section47\n    when: x\n")
    assert "unknown setting 'when'" in message
    assert line == 7


def record(**episode: object) -> CaseRecord:
    episode.setdefault("primary_need", "N1")
    return CaseRecord(Child("C1"), [Episode(date(2025, 5, 1), "2A", **episode)])  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def runtime() -> CaseRuntime:
    return CaseRuntime(build_pack(read_pack_files(PACKS / "wt2023"), "wt2023"))


def test_availability_follows_the_record(runtime: CaseRuntime) -> None:
    names = [a.name for a in runtime.available_actions(record())]
    assert names == ["start_section47", "start_assessment", "close_case",
                     "become_looked_after", "change_worker"]
    open_s47 = record(s47s=[Section47(date(2025, 5, 2))])
    assert "start_section47" not in [a.name for a in runtime.available_actions(open_s47)]
    done_s47 = record(s47s=[Section47(date(2025, 5, 2), icpc_not_required=True)])
    assert "start_section47" in [a.name for a in runtime.available_actions(done_s47)]
    closed = record(closure_date=date(2025, 6, 1), closure_reason="RC8")
    assert runtime.available_actions(closed) == []
    assert runtime.available_actions(CaseRecord(Child("C2"))) == []
    # nothing starts before the referral decision has recorded the primary need (rule 8610)
    assert [a.name for a in runtime.available_actions(record(primary_need=None))] == \
        ["change_worker"]
    # a child on a child protection plan: no new enquiry or assessment, but closure
    on_plan = record(s47s=[Section47(date(2025, 5, 2), icpc_date=date(2025, 5, 9))],
                     cp_plans=[CPPlan(date(2025, 5, 9), "NEG", "NEG")])
    assert [a.name for a in runtime.available_actions(on_plan)] == [
        "close_case", "become_looked_after", "change_worker"]
    # a looked-after child: the care actions, not becoming looked after again
    in_care = record()
    in_care.looked_after = LookedAfter(periods=[PeriodOfCare(date(2025, 5, 3), "N1")])
    assert [a.name for a in runtime.available_actions(in_care)] == [
        "start_section47", "start_assessment", "close_case", "change_placement",
        "change_legal_status", "child_missing", "plan_adoption", "cease_care",
        "record_outcomes", "change_worker"]
    # after care: contact with the care leaver, and the outcomes of a year in care
    in_care.looked_after.periods[0].end = date(2025, 9, 1)
    after_care = [a.name for a in runtime.available_actions(in_care)]
    assert "care_leaver_contact" in after_care and "record_outcomes" in after_care
    # never while the action's own process is already running on the episode
    assert "start_section47" not in [a.name for a in
                                     runtime.available_actions(record(), {"section47"})]


def test_taking_an_action_starts_its_process(runtime: CaseRuntime) -> None:
    before = record()
    outcome = runtime.take_action(before, "start_section47", "sam")
    assert outcome.events[0] == ("action.taken", {"action": "start_section47",
                                                  "title": "Hold a strategy discussion"})
    assert [i.process_id for i in outcome.instances] == ["section47"]
    assert [n.task.bpmn_id for n in outcome.opened] == ["strategy_discussion"]
    assert outcome.record is not before


def test_an_unavailable_or_unknown_action_is_refused(runtime: CaseRuntime) -> None:
    with pytest.raises(ActionUnavailableError, match="'Hold a strategy discussion' is not "
                       "available on this case now"):
        runtime.take_action(record(s47s=[Section47(date(2025, 5, 2))]), "start_section47",
                            None)
    with pytest.raises(NotFoundError, match="no action 'fly'"):
        runtime.take_action(record(), "fly", None)
