"""What a simulated episode looks like on 31 March: anything dated later is left out. No I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from carepath.engine.record.case_record import in_code_order


@dataclass
class SimEpisode:
    """One episode as the generator makes it, before the reference date cuts it."""

    referral: date
    source: str
    nfa: bool = False
    primary_need: str | None = None
    assessments: list[dict[str, Any]] = field(default_factory=list)
    s47: list[dict[str, Any]] = field(default_factory=list)
    cp_plans: list[dict[str, Any]] = field(default_factory=list)
    cin_plans: list[dict[str, Any]] = field(default_factory=list)
    closure: dict[str, Any] | None = None
    # when each "ICPC not required" decision was made (not part of the story)
    not_required_on: dict[int, date] = field(default_factory=dict)


def known_on(ep: SimEpisode, cut: date) -> dict[str, Any] | None:
    """The episode as known on ``cut`` (31 March): anything dated later is left out."""
    if ep.referral > cut:
        return None
    # The decision "no further action" is recorded with the closure (both built-in packs
    # ask for them together): a referral closed after 31 March was still waiting for its
    # decision then, so it is open, neither NFA nor with a primary need.
    nfa = ep.nfa and ep.closure is not None and ep.closure["date"] <= cut
    out: dict[str, Any] = {"referral": {"date": ep.referral, "source": ep.source, "nfa": nfa}}
    if ep.primary_need:
        out["primary_need"] = ep.primary_need
    assessments = []
    for a in ep.assessments:
        if a["start"] > cut:
            continue
        entry = {"start": a["start"]}
        if a.get("authorised") and a["authorised"] <= cut:
            entry["authorised"] = a["authorised"]
            if a.get("factors"):
                entry["factors"] = in_code_order(list(a["factors"]), "assessment_factors")
        assessments.append(entry)
    s47s = []
    for i, s in enumerate(ep.s47):
        if s["start"] > cut:
            continue
        entry = {"start": s["start"]}
        if s.get("icpc_date") and s["icpc_date"] <= cut:
            entry["icpc_date"] = s["icpc_date"]
        if s.get("icpc_not_required") and ep.not_required_on[i] <= cut:
            entry["icpc_not_required"] = True
        s47s.append(entry)
    plans = []
    for p in ep.cp_plans:
        if p["start"] > cut:
            continue
        entry = {"start": p["start"], "initial_category": p["initial_category"],
                 "latest_category": p["latest_category"]}
        reviews = [r for r in p.get("reviews", []) if r <= cut]
        if reviews:
            entry["reviews"] = reviews
        if p.get("end") and p["end"] <= cut:
            entry["end"] = p["end"]
        if not reviews and "end" not in entry:
            # the latest category changes at a review or when the plan ends
            entry["latest_category"] = p["initial_category"]
        plans.append(entry)
    cin_plans = []
    for c in ep.cin_plans:
        if c["start"] > cut:
            continue
        entry = {"start": c["start"]}
        if c.get("end") and c["end"] <= cut:
            entry["end"] = c["end"]
        cin_plans.append(entry)
    for key, items in (("assessments", assessments), ("s47", s47s), ("cp_plans", plans),
                       ("cin_plans", cin_plans)):
        if items:
            out[key] = items
    if ep.closure is not None and ep.closure["date"] <= cut:
        out["closure"] = dict(ep.closure)
    return out
