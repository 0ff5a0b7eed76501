"""Cases where a child on a child in need plan has a section 47 enquiry, run on both packs.

The shipped packs' one section 47 process reads the record (``cin_plan.open``) so that, when the
enquiry is held during a child in need plan, the plan ends when a child protection plan starts and
is ended when the case closes; these stories check the packs still record exactly what happened.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from carepath.adapters.packs import PackRegistry
from carepath.core.yamlsource import load_yaml
from carepath.engine.record.case_record import record_to_story, story_to_record
from carepath.engine.stories.story import parse_story
from carepath.service.stories import StoryRunner
from tests.casework import Casework as CaseStore

CHILD = """
child:
  la_child_id: C0901
  upn: K201250001901
  birth_date: 2016-03-02
  sex: F
  ethnicity: WBRI
  disabilities: [NONE]
"""
STORIES = {
    # the conference makes a child protection plan: the child in need plan ends that day
    "cin_then_cp": CHILD + """
episodes:
  - referral: {date: 2025-04-14, source: 2A, nfa: false}
    primary_need: N4
    assessments:
      - {start: 2025-04-15, authorised: 2025-05-22, factors: [4B]}
    s47:
      - {start: 2025-07-07, icpc_date: 2025-07-25}
    cp_plans:
      - {start: 2025-07-25, initial_category: NEG, latest_category: NEG}
    cin_plans:
      - {start: 2025-05-23, end: 2025-07-25}
""",
    # no conference is needed: the child in need plan carries on, then ends when the case closes
    "cin_through_s47": CHILD + """
episodes:
  - referral: {date: 2025-04-14, source: 2A, nfa: false}
    primary_need: N4
    assessments:
      - {start: 2025-04-15, authorised: 2025-05-22, factors: [4B]}
    s47:
      - {start: 2025-07-07, icpc_not_required: true}
    cin_plans:
      - {start: 2025-05-23, end: 2025-12-12}
    closure: {date: 2025-12-12, reason: RC7}
""",
}


@pytest.mark.parametrize("pack_name", ["ics2010", "wt2023"])
@pytest.mark.parametrize("name", sorted(STORIES))
def test_enquiry_during_a_cin_plan_records_the_story(db: Engine, pack_name: str,
                                                     name: str) -> None:
    story = parse_story(load_yaml(STORIES[name], f"{name}.yaml"), f"{name}.yaml")
    store = CaseStore(db, PackRegistry())
    result = StoryRunner(store.service, store.packs.get(pack_name)).run(story)
    record = store.record(result.case_ids[0])
    assert record_to_story(record) == record_to_story(story_to_record(story))
