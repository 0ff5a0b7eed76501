"""Process diagrams from BPMN DI, and the states of an instance on them."""

from __future__ import annotations

from pathlib import Path

import pytest

from carepath.adapters.packs import PackRegistry
from carepath.core.errors import PackError
from carepath.engine.bpmn.diagram import element_states, parse_diagram

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("pack", ["wt2023", "ics2010"])
def test_every_process_of_the_built_in_packs_has_a_diagram(pack: str) -> None:
    loaded = PackRegistry().get(pack)
    assert loaded.bpmn
    diagrams = {pid: parse_diagram(xml, pid, file) for pid, (file, xml) in loaded.bpmn.items()}
    drawn = {n.id: n for d in diagrams.values() for n in d.nodes if n.kind == "task"}
    for process_id, diagram in diagrams.items():
        assert diagram.layout == "bpmn-di", process_id
        specs = loaded.specs(process_id)
        assert diagram.title == specs.title
        ids = {n.id for n in diagram.nodes}
        # every user task is drawn: in this diagram, or in that of the process it calls
        assert set(specs.tasks) <= set(drawn)
        assert {n.kind for n in diagram.nodes} >= {"start", "end", "task"}
        assert all(n.bounds.width > 0 and n.bounds.height > 0 for n in diagram.nodes)
        for edge in diagram.edges:
            assert edge.source in ids and edge.target in ids
            assert len(edge.waypoints) >= 2
        for bpmn_id, info in specs.tasks.items():
            assert drawn[bpmn_id].name == info.title


def test_a_document_without_a_diagram_is_laid_out_left_to_right() -> None:
    diagram = parse_diagram((DATA / "visits.bpmn").read_bytes(), "visits", "visits.bpmn")
    assert diagram.layout == "automatic"
    nodes = {n.id: n for n in diagram.nodes}
    assert nodes["start"].kind == "start" and nodes["visit"].kind == "task"
    assert nodes["overdue"].kind == "boundary_timer" and nodes["overdue"].attached_to == "visit"
    assert nodes["follow"].kind == "call"
    assert nodes["start"].bounds.x < nodes["visit"].bounds.x < nodes["escalate"].bounds.x
    assert all(len(e.waypoints) == 2 for e in diagram.edges)


def test_a_missing_process_or_bad_xml_is_a_pack_error() -> None:
    with pytest.raises(PackError, match="no process 'nope'"):
        parse_diagram((DATA / "visits.bpmn").read_bytes(), "nope")
    with pytest.raises(PackError, match="cannot be read"):
        parse_diagram(b"<not xml", "x")


def test_states_from_task_states() -> None:
    loaded = PackRegistry().get("wt2023")
    file, xml = loaded.bpmn["referral"]
    diagram = parse_diagram(xml, "referral", file)
    states = element_states(diagram, [
        ("referral", "process-start", "COMPLETED"),
        ("referral", "referral_decision", "COMPLETED"),
        ("referral", "after_referral", "COMPLETED"),
        ("referral", "start_assessment", "COMPLETED"),
        ("referral", "assessment-loop", "COMPLETED"),  # the merge a returned assessment uses
        ("referral", "assessment", "READY"),
        ("referral", "after_assessment", "FUTURE"),
        ("other", "assessment", "COMPLETED"),  # another process's step: not this one
    ])
    assert states["referral_decision"] == "completed"
    assert states["assessment"] == "current"
    assert states["after_assessment"] == "not_reached"
    assert states["close_after_assessment"] == "not_reached"
    into = [e for e in diagram.edges if e.target == "assessment"]
    assert into and all(states[e.id] == "completed" for e in into)
    out = [e for e in diagram.edges if e.source == "assessment"]
    assert out and all(states[e.id] == "not_reached" for e in out)
