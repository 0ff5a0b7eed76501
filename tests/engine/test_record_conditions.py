"""Conditions read the record: gateways, timers and show_if see ``record_context``; names are
checked when the pack loads."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from carepath.adapters.packs import read_pack_files
from carepath.engine.pack import PackErrors, build_pack
from carepath.engine.record.model import CaseRecord, Child, CINPlan
from carepath.engine.runtime import CaseRuntime, TaskRef
from carepath.engine.time.clock import FixedClock, use_clock
from carepath.forms.validation import FormErrors, ValidationContext, visible_fields

PACKS = Path(__file__).resolve().parents[2] / "carepath" / "processes"
CHILD = Child(la_child_id="R1", birth_date=date(2015, 6, 1), sex="F")

PROCESS = """id: probe
title: Probe
steps:
  - task: ask
    title: Ask
    form: probe
    role: social_worker
  - decision: route
    title: Route
    branches:
      - when: {when}
        title: Plan open
        steps:
          - task: plan_open
            title: The plan is open
            form: probe
            role: social_worker
          - end: done_open
            title: Done
    default:
      title: No plan
      steps:
        - task: no_plan
          title: There is no plan
          form: probe
          role: social_worker
"""
FORM = """id: probe
title: Probe
fields:
  - name: note
    type: text
    label: Note
    required: true
  - name: plan_end
    type: date
    label: Date the plan ended
    show_if: {show_if}
    required: true
    record: cin_plan.end
"""


def pack_with(when: str = "cin_plan.open", show_if: str = "cin_plan.open",
              extra: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    files = read_pack_files(PACKS / "wt2023")
    files["processes/probe.yaml"] = PROCESS.format(when=when)
    files["forms/probe.yaml"] = FORM.format(show_if=show_if)
    files.update(extra or {})
    return build_pack(files, "test")


def record(cin_open: bool) -> CaseRecord:
    from carepath.engine.record.case_record import new_episode

    rec = CaseRecord(child=CHILD)
    new_episode(rec, date(2025, 5, 1), "2A")
    if cin_open:
        rec.episodes[-1].cin_plans.append(CINPlan(date(2025, 5, 2)))
    return rec


def run_probe(cin_open: bool, values: dict[str, object]) -> list[str]:
    pack = pack_with()
    runtime = CaseRuntime(pack)
    rec = record(cin_open)
    with use_clock(FixedClock(datetime(2025, 6, 2, 11, tzinfo=UTC))):
        from carepath.engine.runtime import Outcome

        outcome = Outcome(record=rec)
        instance = runtime._start(outcome, "probe", "sam")
        task = outcome.opened[0].task
        done = runtime.complete(rec, instance, TaskRef(task.id, task.bpmn_id, task.form),
                                values, "sam")
    # the serialised workflow never holds the record
    assert "cin_plan" not in instance.workflow.dump()
    return [n.task.bpmn_id for n in done.opened]


def test_a_gateway_reads_the_record_after_the_form_is_applied() -> None:
    # no plan: the form does not ask for its end, the gateway takes the default
    assert run_probe(False, {"note": "x"}) == ["no_plan"]
    # an open plan: show_if asks for its end; ending it on this form closes it before the gateway
    with pytest.raises(FormErrors):
        run_probe(True, {"note": "x"})
    assert run_probe(True, {"note": "x", "plan_end": "2025-06-01"}) == ["no_plan"]


def test_a_gateway_reads_cin_plan_open() -> None:
    files = {"when": "cin_plan.open and note == 'x'", "show_if": "note == 'never'"}
    pack = pack_with(**files)
    runtime = CaseRuntime(pack)
    for cin_open, expected in ((True, ["plan_open"]), (False, ["no_plan"])):
        rec = record(cin_open)
        from carepath.engine.runtime import Outcome

        outcome = Outcome(record=rec)
        instance = runtime._start(outcome, "probe", "sam")
        task = outcome.opened[0].task
        with use_clock(FixedClock(datetime(2025, 6, 2, 11, tzinfo=UTC))):
            done = runtime.complete(rec, instance, TaskRef(task.id, task.bpmn_id, task.form),
                                    {"note": "x"}, "sam")
        assert [n.task.bpmn_id for n in done.opened] == expected


def test_show_if_reads_the_record() -> None:
    form = pack_with().form("probe")
    today = date(2025, 6, 2)
    from carepath.engine.record.context import record_context

    for cin_open, shown in ((True, True), (False, False)):
        ctx = ValidationContext(today=today, names=record_context(record(cin_open)))
        names = [f.name for f in visible_fields(form, {"note": "x"}, ctx)]
        assert ("plan_end" in names) is shown


@pytest.mark.parametrize(("when", "show_if", "file", "text"), [
    ("cin_plan.opn", "cin_plan.open", "processes/probe.yaml", "'cin_plan.opn' is not a record"),
    ("carer.open", "cin_plan.open", "processes/probe.yaml", "'carer.open' is not a record"),
    ("cin_plan", "cin_plan.open", "processes/probe.yaml", "is a record namespace"),
    ("cin_plan.open", "cin_plan.ended", "forms/probe.yaml", "'cin_plan.ended'"),
])
def test_an_unknown_record_name_is_refused_with_file_and_line(
        when: str, show_if: str, file: str, text: str) -> None:
    with pytest.raises(PackErrors) as caught:
        pack_with(when=when, show_if=show_if)
    problems = caught.value.problems
    assert len(problems) == 1, problems
    assert problems[0].file == file and problems[0].line
    assert text in problems[0].detail


def test_a_timescale_reading_an_unknown_record_name_is_refused() -> None:
    files = read_pack_files(PACKS / "wt2023")
    text = files["timescales.yaml"]
    files["timescales.yaml"] = text.replace("timescales:\n", "timescales:\n  odd: {title: Odd, "
                                            "expression: \"days_after(cp_plan.stat, 1)\"}\n", 1)
    with pytest.raises(PackErrors) as caught:
        build_pack(files, "test")
    assert "'cp_plan.stat' is not a record name" in caught.value.problems[0].detail
    assert caught.value.problems[0].file == "timescales.yaml"


def test_a_form_field_cannot_take_a_record_namespace() -> None:
    with pytest.raises(PackErrors) as caught:
        pack_with(extra={"forms/odd.yaml": "id: odd\ntitle: Odd\nfields:\n  - name: cin_plan\n"
                                           "    type: text\n    label: Plan\n"})
    assert "is a record namespace" in caught.value.problems[0].detail


def test_child_age_and_assessment_count() -> None:
    from carepath.engine.record.context import record_context
    from carepath.engine.record.model import Assessment

    rec = record(False)
    rec.episodes[-1].assessments.append(Assessment(date(2025, 5, 2)))
    with use_clock(FixedClock(datetime(2025, 6, 2, 11, tzinfo=UTC))):
        ctx = record_context(rec)
    assert ctx["child"]["age_years"] == 10 and ctx["episode"]["assessments"] == 1
