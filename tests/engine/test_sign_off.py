"""The team manager signs off every assessment in both built-in packs: authorise (the date and
the factors go to the record, and what happens next) or return it to the social worker, whose
task opens again with their answers in its data."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from carepath.adapters.packs import read_pack_files
from carepath.engine.pack import build_pack
from carepath.engine.record.model import CaseRecord, Child
from carepath.engine.runtime import CaseRuntime, NewTask, Outcome, TaskRef
from carepath.engine.time.clock import FixedClock, use_clock
from carepath.forms.validation import FormErrors

from .test_actions import PACKS

# pack -> (the worker's assessment task, its form, the sign-off task, its form, next step)
SIGN_OFF = {
    "wt2023": ("assessment", "assessment", "authorise_assessment", "authorise_assessment",
               {"assessment_next": "close"}),
    "ics2010": ("initial_assessment", "initial_assessment", "authorise_initial_assessment",
                "authorise_initial_assessment", {"initial_assessment_next": "close"}),
}


class Case:
    def __init__(self, pack_name: str) -> None:
        self.runtime = CaseRuntime(build_pack(read_pack_files(PACKS / pack_name), pack_name))
        child = Child("S1", upn_unknown="UN1", birth_date=date(2015, 1, 1), sex="F",
                      ethnicity="WBRI", disabilities=["NONE"])
        self.outcome = self.runtime.open_episode(None, child, {"date": date(2025, 5, 1),
                                                               "source": "2A"}, "sam")
        self.record: CaseRecord = self.outcome.record
        self.ready: list[NewTask] = list(self.outcome.opened)

    def examples(self, form_id: str, **values: Any) -> dict[str, Any]:
        form = self.runtime.pack.form(form_id)
        found = {f.name: f.example for f in form.fields if f.show_if is None}
        found.update(values)
        return found

    def complete(self, bpmn_id: str, values: dict[str, Any]) -> Outcome:
        task = next(t for t in self.ready if t.task.bpmn_id == bpmn_id)
        outcome = self.runtime.complete(
            self.record, task.instance,
            TaskRef(task.task.id, task.task.bpmn_id, task.task.form, title=task.task.title),
            values, "sam")
        self.record = outcome.record
        closed = {spiff for _, spiff, _ in outcome.closed}
        self.ready = [t for t in self.ready if t.task.id not in closed] + list(outcome.opened)
        return outcome


@pytest.mark.parametrize("pack_name", ["wt2023", "ics2010"])
def test_return_reopens_the_workers_task_with_its_answers_then_authorise(
        pack_name: str) -> None:
    work, work_form, sign, sign_form, after = SIGN_OFF[pack_name]
    with use_clock(FixedClock(datetime(2025, 7, 1, 12, tzinfo=UTC))):
        case = Case(pack_name)
        first = "assessment" if pack_name == "wt2023" else "initial_assessment"
        case.complete("referral_decision", case.examples(
            "referral_decision", nfa=False, next_step=first, primary_need="N1"))
        start = next(t.task.bpmn_id for t in case.ready)
        case.complete(start, case.examples(case.ready[0].task.form or "",
                                           started=date(2025, 5, 2)))
        answers = case.examples(work_form)
        case.complete(work, answers)
        assert case.record.episodes[-1].assessments[0].authorised is None
        task = next(t for t in case.ready if t.task.bpmn_id == sign)
        assert task.task.role == "team_manager" and task.task.form == sign_form
        # returning needs the reason
        with pytest.raises(FormErrors) as refused:
            case.complete(sign, {"authorisation": "return"})
        assert list(refused.value.by_field()) == ["return_reason"]
        case.complete(sign, {"authorisation": "return", "return_reason": "Add the school."})
        reopened = next(t for t in case.ready if t.task.bpmn_id == work)
        data = reopened.instance.workflow.task_data(reopened.task.id)
        assert {k: data[k] for k in answers} == answers  # the worker's previous answers
        assert case.record.episodes[-1].assessments[0].authorised is None
        case.complete(work, answers)
        case.complete(sign, {"authorisation": "authorise", "authorised": date(2025, 6, 20),
                             "factors": ["3B"], **after})
        assessment = case.record.episodes[-1].assessments[0]
        assert (assessment.authorised, assessment.factors) == (date(2025, 6, 20), ["3B"])
        assert [t.task.title for t in case.ready] == ["Close the case"]
