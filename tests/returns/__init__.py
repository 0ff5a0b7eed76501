"""Helpers shared by the returns tests: the shipped stories, storing records, reading a census
file back into the story shape."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy import Engine

import carepath
from carepath.adapters.db.database import session_scope
from carepath.adapters.db.models import CaseRow
from carepath.adapters.db.records import save_record
from carepath.core.yamlsource import load_yaml
from carepath.engine.record.case_record import CaseRecord, story_to_record
from carepath.engine.stories.story import parse_story

STORIES = sorted((Path(carepath.__file__).parent / "stories").glob("*.yaml"))
SCHEMA = Path(__file__).parents[2] / "carepath" / "returns" / "schema" / "CIN_schema_2026.xsd"


def load_story(path: Path) -> dict[str, Any]:
    return parse_story(load_yaml(path.read_text(encoding="utf-8"), str(path)), str(path))


def story_records() -> list[CaseRecord]:
    return [story_to_record(load_story(p)) for p in STORIES]


def store_record(db: Engine, record: CaseRecord, worker: str | None = "Sam Worker",
                 team: str | None = "Duty and Assessment", pack: str = "direct") -> int:
    """Save a record straight into a new case (no pack run), as a migration would."""
    with session_scope(db) as session:
        case = CaseRow(la_child_id=record.child.la_child_id, pack_name=pack, pack_version="0",
                       worker=worker, team=team, version=0, event_seq=0, head_hash="")
        session.add(case)
        session.flush()
        save_record(session, case.id, None, record)
        return case.id


def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA)))


def _d(el: etree._Element, tag: str) -> date | None:
    text = el.findtext(tag)
    return date.fromisoformat(text) if text is not None else None


def census_children(xml: bytes) -> dict[str, dict[str, Any]]:
    """Each child of a census file, by LA child ID, in the story shape (``record_to_story``)
    with the computed items (``icpc_target``, ``previous_plans``)."""
    root = etree.fromstring(xml)
    children: dict[str, dict[str, Any]] = {}
    for child in root.iterfind("Children/Child"):
        ids = child.find("ChildIdentifiers")
        chars = child.find("ChildCharacteristics")
        assert ids is not None and chars is not None
        c: dict[str, Any] = {"la_child_id": ids.findtext("LAchildID")}
        for tag, key in (("UPN", "upn"), ("UPNunknown", "upn_unknown")):
            if ids.findtext(tag) is not None:
                c[key] = ids.findtext(tag)
        for tag, key in (("PersonBirthDate", "birth_date"),
                         ("ExpectedPersonBirthDate", "expected_birth_date")):
            if ids.findtext(tag) is not None:
                c[key] = _d(ids, tag)
        c["sex"] = ids.findtext("Sex")
        c["ethnicity"] = chars.findtext("Ethnicity")
        c["disabilities"] = [d.text for d in chars.iterfind("Disabilities/Disability")]
        episodes = []
        for d in child.iterfind("CINdetails"):
            e: dict[str, Any] = {"referral": {"date": _d(d, "CINreferralDate"),
                                              "source": d.findtext("ReferralSource"),
                                              "nfa": d.findtext("ReferralNFA") == "1"}}
            if d.findtext("PrimaryNeedCode") is not None:
                e["primary_need"] = d.findtext("PrimaryNeedCode")
            assessments = []
            for a in d.iterfind("Assessments"):
                item: dict[str, Any] = {"start": _d(a, "AssessmentActualStartDate")}
                if a.findtext("AssessmentAuthorisationDate") is not None:
                    item["authorised"] = _d(a, "AssessmentAuthorisationDate")
                factors = [f.text for f in a.iterfind("FactorsIdentifiedAtAssessment/"
                                                      "AssessmentFactors")]
                if factors:
                    item["factors"] = factors
                assessments.append(item)
            if assessments:
                e["assessments"] = assessments
            s47s = []
            for s in d.iterfind("Section47"):
                item = {"start": _d(s, "S47ActualStartDate")}
                if s.findtext("DateOfInitialCPC") is not None:
                    item["icpc_date"] = _d(s, "DateOfInitialCPC")
                assert s.findtext("ICPCnotRequired") in ("0", "1")
                if s.findtext("ICPCnotRequired") == "1":
                    item["icpc_not_required"] = True
                item["icpc_target"] = _d(s, "InitialCPCtarget")
                s47s.append(item)
            if s47s:
                e["s47"] = s47s
            plans = []
            for p in d.iterfind("ChildProtectionPlans"):
                item = {"start": _d(p, "CPPstartDate"),
                        "initial_category": p.findtext("InitialCategoryOfAbuse"),
                        "latest_category": p.findtext("LatestCategoryOfAbuse")}
                reviews = [date.fromisoformat(r.text or "")
                           for r in p.iterfind("Reviews/CPPreviewDate")]
                if reviews:
                    item["reviews"] = reviews
                if p.findtext("CPPendDate") is not None:
                    item["end"] = _d(p, "CPPendDate")
                item["previous_plans"] = int(p.findtext("NumberOfPreviousCPP") or "-1")
                plans.append(item)
            if plans:
                e["cp_plans"] = plans
            cin_plans = []
            for p in d.iterfind("CINPlanDates"):
                item = {"start": _d(p, "CINPlanStartDate")}
                if p.findtext("CINPlanEndDate") is not None:
                    item["end"] = _d(p, "CINPlanEndDate")
                cin_plans.append(item)
            if cin_plans:
                e["cin_plans"] = cin_plans
            if d.findtext("CINclosureDate") is not None:
                e["closure"] = {"date": _d(d, "CINclosureDate"),
                                "reason": d.findtext("ReasonForClosure")}
            episodes.append(e)
        children[c["la_child_id"]] = {"child": c, "episodes": episodes}
    return children
