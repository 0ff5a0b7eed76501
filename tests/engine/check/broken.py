"""Deliberately broken packs: a built-in pack copied, then edited as text.

Each :class:`Variant` names the pack it starts from, the edits (file, text, replacement; the text
must occur exactly once) and what ``carepath pack check`` must find: the rule (a DfE rule code or
the kind of lint problem), the record item and the path (task titles in order).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from carepath.processes import ics2010, wt2023

PACKS = {"wt2023": Path(str(wt2023)), "ics2010": Path(str(ics2010))}

DECIDE = "Decide what happens next with the referral"
START = "Start the child and family assessment"
ASSESS = "Complete the child and family assessment"
CLOSE = "Close the case"
STRATEGY = "Record the strategy discussion"
OUTCOME = "Record the outcome of the section 47 enquiry"
AFTER_ENQUIRY = "Decide what happens after the enquiry"
CORE_GROUP = "Record the first core group meeting"
REVIEW = "Record the review conference"
START_CIN = "Start the child in need plan"
AUTHORISE = "Authorise the child and family assessment"


@dataclass(frozen=True)
class Variant:
    name: str
    edits: tuple[tuple[str, str, str], ...]
    rule: str  # a DfE rule code in the finding's rules, or its check ("undefined-name", ...)
    item: str | None
    path: tuple[str, ...]
    pack: str = "wt2023"


def copy_pack(tmp_path: Path, pack: str = "wt2023") -> Path:
    """A copy of a built-in pack with its own version (a registry refuses a second pack with the
    name and version of one it has)."""
    target = tmp_path / pack
    shutil.copytree(PACKS[pack], target, ignore=shutil.ignore_patterns("__pycache__"))
    manifest = target / "pack.yaml"
    text = manifest.read_text(encoding="utf-8")
    assert "version: 1.0.0\n" in text
    manifest.write_text(text.replace("version: 1.0.0\n", "version: 1.0.0-copy\n", 1),
                        encoding="utf-8")
    return target


def edit(root: Path, file: str, old: str, new: str) -> None:
    path = root / file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{file}: {old!r} occurs {text.count(old)} times"
    path.write_text(text.replace(old, new), encoding="utf-8")


def apply(tmp_path: Path, variant: Variant) -> Path:
    """A copy of the variant's pack with its edits made."""
    root = copy_pack(tmp_path, variant.pack)
    for file, old, new in variant.edits:
        edit(root, file, old, new)
    return root


STOPPED_FIELD = """
  - name: stopped
    type: yesno
    label: Was the assessment stopped before it finished?
    required: true
    example: false
"""
STOPPED_DECISION = """  - decision: assessment_stopped
    title: Assessment stopped?
    branches:
      - when: stopped
        title: Stopped
        steps:
          - task: close_stopped
            title: Close the case
            form: close_case
            role: team_manager
          - end: closed_stopped
            title: Case closed
    default:
      steps: []

  - task: assessment
"""
SCREENED_FIELD = """    record: closure.reason
    example: RC7

  - name: screened
    type: date
    label: Date the referral was screened
    show_if: nfa
    required: true
    record: assessment.start
    example: 2025-06-10
"""
LETTER_TASK = """          role: team_manager
        - task: closing_letter
          title: Send the closing letter
          form: core_group
          role: social_worker
        - end: closed_after_assessment
"""

VARIANTS: tuple[Variant, ...] = (
    Variant("factors mapping removed",
            (("forms/authorise_assessment.yaml", "    record: assessment.factors\n", ""),),
            "8897Q", "assessment.factors", (DECIDE, START, ASSESS, AUTHORISE, CLOSE)),
    Variant("a path skips the assessment form",
            (("forms/assessment_start.yaml", "the GP and the health visitor.\n",
              "the GP and the health visitor.\n" + STOPPED_FIELD),
             ("processes/referral.yaml", "  - task: assessment\n", STOPPED_DECISION)),
            "8867", "assessment.authorised", (DECIDE, START, CLOSE)),
    Variant("no further action closes without the reason",
            (("forms/referral_decision.yaml", "    record: closure.reason\n", ""),),
            "8805", "closure.reason", (DECIDE,)),
    Variant("closure without the date",
            (("forms/close_case.yaml", "    record: closure.date\n", ""),),
            # shortest through the close-case action, taken while the assessment is to start
            "8810", "closure.date", (DECIDE, f"action close_case at '{START}'", CLOSE)),
    Variant("plan started before its conference",
            (("forms/section47_outcome.yaml", "    record: s47.icpc_date\n", ""),),
            "2885", "s47.icpc_date", (DECIDE, STRATEGY, OUTCOME)),
    Variant("primary need not at the referral decision",
            (("forms/referral_decision.yaml", "    record: episode.primary_need\n", ""),),
            "8610", "episode.primary_need", (DECIDE,)),
    Variant("section 47 can end without an ICPC outcome",
            (("forms/section47_outcome.yaml", "    record: s47.icpc_not_required\n", ""),),
            "8868", "s47.icpc_date", (DECIDE, STRATEGY, OUTCOME, AFTER_ENQUIRY, CLOSE)),
    Variant("CIN plan started while the CP plan is open",
            (("forms/cp_review.yaml", "    record: cp_plan.end\n", ""),),
            "4001", "cin_plan.start", (DECIDE, STRATEGY, OUTCOME, CORE_GROUP, REVIEW, START_CIN)),
    Variant("no further action records an assessment",
            (("forms/referral_decision.yaml", "    record: closure.reason\n    example: RC7\n",
              SCREENED_FIELD),),
            "8831", "assessment.start", (DECIDE,)),
    Variant("a condition reads a name no form sets",
            (("processes/referral.yaml", "when: assessment_next == 'cin_plan'",
              "when: outcome == 'cin_plan'"),),
            "undefined-name", None, (DECIDE, START, ASSESS, AUTHORISE)),
    Variant("a condition reads an answer set on some paths only",
            (("processes/section47.yaml", "              - when: conference_outcome == 'plan'\n"
              "                title: The child has a child protection plan",
              "              - when: meeting_date\n"
              "                title: The child has a child protection plan"),),
            "undefined-name", None, (DECIDE, STRATEGY, START, ASSESS, AUTHORISE, OUTCOME)),
    Variant("timescale counts from a date not yet recorded",
            (("timescales.yaml", "    working_days: 15\n    from: s47.start\n",
              "    working_days: 15\n    from: s47.icpc_date\n"),),
            "timescale", "s47.icpc_date", (DECIDE, STRATEGY, OUTCOME)),
    Variant("factors without authorisation",
            (("forms/authorise_assessment.yaml", "    record: assessment.authorised\n", ""),),
            "8614", "assessment.factors", (DECIDE, START, ASSESS, AUTHORISE)),
    Variant("CP plan without its initial category",
            (("forms/section47_outcome.yaml", "    record: cp_plan.initial_category\n", ""),),
            "8905", "cp_plan.initial_category",
            (DECIDE, STRATEGY, OUTCOME, f"action close_case at '{CORE_GROUP}'", CLOSE)),
    Variant("a task after the case is closed",
            (("processes/referral.yaml", "          role: team_manager\n"
              "        - end: closed_after_assessment\n", LETTER_TASK),),
            "8565", None, (DECIDE, START, ASSESS, AUTHORISE, CLOSE, "Send the closing letter")),
    Variant("a condition compares an answer with a value it cannot have",
            (("processes/referral.yaml", "when: next_step == 'strategy_discussion'",
              "when: next_step == 'strategy'"),),
            "code", None, ()),
    Variant("ICPC may leave the CIN plan open (ics2010)",
            (("forms/section47_outcome.yaml",
              "    show_if: conference_outcome == 'plan' and cin_plan.open\n    required: true\n"
              "    not_future: true\n    not_before: referral\n    record: cin_plan.end\n",
              "    show_if: conference_outcome == 'plan' and cin_plan.open\n"
              "    not_future: true\n    not_before: referral\n    record: cin_plan.end\n"),),
            "4001", "cin_plan.end",
            (DECIDE, "Start the initial assessment", "Complete the initial assessment",
             "Authorise the initial assessment", START_CIN, "action start_section47 at 'Review the child in need plan'", STRATEGY,
             OUTCOME),
            pack="ics2010"),
)
