"""Process maps and due-date explanations through the application service, and the SVG."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from lxml import etree
from sqlalchemy import Engine

from carepath.adapters.app import case_service
from carepath.adapters.web.process_map import render_svg
from carepath.core.errors import NotFoundError
from carepath.engine.bpmn.diagram import DiagramNode
from carepath.engine.time.clock import FixedClock, use_clock
from carepath.service.cases import CaseService
from carepath.service.types import Actor, TaskFilter

CHILD = {"la_child_id": "M1", "upn": "C201250001001", "birth_date": "2015-06-01", "sex": "F",
         "ethnicity": "WBRI", "disabilities": ["NONE"]}
OPERATOR = Actor.operator("admin")
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def cases(db: Engine) -> Iterator[CaseService]:
    with use_clock(FixedClock(datetime(2025, 12, 12, 11, tzinfo=UTC))):
        yield case_service(db)


def enquiry_case(cases: CaseService) -> int:
    """A referral straight to a strategy discussion on Friday 12 December 2025, with the
    assessment alongside the enquiry: the enquiry's outcome and the assessment's start wait."""
    opened = cases.open_case("wt2023", CHILD, {"date": "2025-12-12", "source": "2A"}, OPERATOR,
                             worker="sam")
    done = cases.complete_task(opened.open_tasks[0].id, {
        "nfa": False, "decision_reasons": "Bruising seen at school.", "primary_need": "N1",
        "next_step": "strategy_discussion"}, OPERATOR)
    [discussion] = done.opened
    cases.complete_task(discussion.id, {
        "discussion_date": "2025-12-12", "participants": "Social care, police, health.",
        "decisions": "Start a section 47 enquiry.", "with_assessment": "alongside"}, OPERATOR)
    return opened.case_id


def test_explain_due_for_the_conference(cases: CaseService) -> None:
    case_id = enquiry_case(cases)
    ready = {t.bpmn_id: t for t in cases.tasks(TaskFilter(case_id=case_id))}
    outcome = ready["joint_enquiry_outcome"]
    e = cases.explain_due(outcome.id)
    assert e is not None and e.explained and e.note is None
    assert e.timescale == "icpc" and e.due == outcome.due == date(2026, 1, 7)
    assert e.from_item == "s47.start" and e.counted_from == date(2025, 12, 12)
    assert {"Christmas Day", "Boxing Day", "New Year's Day"} <= {d.reason for d in e.skipped}
    # a task with no timescale has no explanation
    assert cases.explain_due(ready["start_joint_assessment"].id) is None
    # the completed referral decision is still explained
    decision = cases.tasks(TaskFilter(case_id=case_id, status="completed"))[0]
    explained = cases.explain_due(decision.id)
    assert explained is not None and explained.due == date(2025, 12, 15)
    with pytest.raises(NotFoundError):
        cases.explain_due(99999)


def test_process_maps_in_the_middle_of_an_enquiry(cases: CaseService) -> None:
    case_id = enquiry_case(cases)
    maps = cases.process_maps(case_id)
    assert [m.process_id for m in maps] == ["section47"]  # the referral process has finished
    s47 = maps[0]
    assert not s47.finished and s47.status == "running"
    assert s47.states["strategy_discussion"] == "completed"
    assert s47.states["joint_assessment_work"] == "current"  # the called assessment
    assert s47.states["joint_enquiry_outcome"] == "current"
    assert s47.states["enquiry_outcome"] == "not_reached"  # the enquiry-only branch
    assert set(s47.states.values()) <= {"completed", "current", "not_reached"}
    assert s47.current_steps() == ["Child and family assessment alongside the enquiry",
                                   "Record the outcome of the section 47 enquiry"]
    assert s47.as_json()["completed"] == ["Record the strategy discussion"]
    everything = cases.process_maps(case_id, include_finished=True)
    assert [m.process_id for m in everything] == ["referral", "section47"]
    referral = everything[0]
    assert referral.finished and referral.states["referral_decision"] == "completed"
    assert referral.states["referral_to_section47"] == "completed"
    assert referral.states["assessment"] == "not_reached"
    with pytest.raises(NotFoundError):
        cases.process_maps(99999)


def test_the_svg_is_well_formed_accessible_and_safe(cases: CaseService) -> None:
    case_id = enquiry_case(cases)
    [s47] = cases.process_maps(case_id)
    svg = render_svg(s47)
    root = etree.fromstring(svg.encode("utf-8"))
    assert root.tag == f"{SVG}svg" and root.get("role") == "img" and root.get("viewBox")
    title = root.find(f"{SVG}title")
    desc = root.find(f"{SVG}desc")
    assert title is not None and desc is not None
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert desc.text == ("Strategy discussion and section 47 enquiry: current steps Child and "
                         "family assessment alongside the enquiry and Record the outcome of the "
                         "section 47 enquiry; 1 step completed")
    for element in root.iter():
        assert etree.QName(element).localname not in ("script", "style", "foreignObject")
        assert not [a for a in element.attrib if a.lower().startswith("on")]
        assert "style" not in element.attrib
    texts = " ".join(t for t in root.itertext())
    assert "Key" in texts and "Completed" in texts and "Current step" in texts
    assert "Not reached" in texts and "Now" in texts
    # the states differ by more than colour: dashed outline for current, tick for completed
    assert 'stroke-dasharray="8 4"' in svg

    # names are escaped, whatever a pack calls its steps
    nasty = '<script>alert("x")</script> & "quotes"'
    nodes = tuple(dataclasses.replace(n, name=nasty) if n.id == "strategy_discussion" else n
                  for n in s47.diagram.nodes)
    evil = dataclasses.replace(s47, title=f"{nasty} process",
                               diagram=dataclasses.replace(s47.diagram, nodes=nodes))
    text = render_svg(evil)
    assert "<script" not in text
    parsed = etree.fromstring(text.encode("utf-8"))
    assert not [e for e in parsed.iter() if etree.QName(e).localname == "script"]
    assert nasty in (parsed.findtext(f"{SVG}title") or "")


def test_maps_drawn_once_per_picture_carry_each_instance_s_own_ids(cases: CaseService) -> None:
    [s47] = cases.process_maps(enquiry_case(cases))
    first = render_svg(s47)
    other = render_svg(dataclasses.replace(s47, instance_id=s47.instance_id + 1000))
    assert f"pm-{s47.instance_id}-title" in first and f"pm-{s47.instance_id + 1000}" not in first
    assert other == first.replace(f"pm-{s47.instance_id}-", f"pm-{s47.instance_id + 1000}-")
    # another point of the same process is another picture
    moved = dict(s47.states, strategy_discussion="current")
    assert render_svg(dataclasses.replace(s47, states=moved)) != first
    assert render_svg(s47) == first


def test_a_map_of_a_case_with_every_node_kind_renders() -> None:
    from pathlib import Path

    from carepath.engine.bpmn.diagram import element_states, parse_diagram
    from carepath.service.types import ProcessMap

    data = Path(__file__).parents[1] / "engine" / "data" / "visits.bpmn"
    diagram = parse_diagram(data.read_bytes(), "visits")
    states = element_states(diagram, [("visits", "start", "COMPLETED"),
                                      ("visits", "visit", "READY"),
                                      ("visits", "overdue", "WAITING")])
    pm = ProcessMap(7, "visits", diagram.title, 0, "running", diagram, states)
    root = etree.fromstring(render_svg(pm).encode("utf-8"))
    assert "current steps Visit the child and Visit overdue" in (root.findtext(f"{SVG}desc") or "")
    assert isinstance(diagram.nodes[0], DiagramNode)
