"""The story runner records a looked-after story through a pack's tasks and actions, and the
record equals the story (a tiny test pack: coming into care, then actions for a move, a review,
a missing episode and leaving care)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from carepath.adapters.packs import PackRegistry
from carepath.core.record_items import RECORD_ITEMS
from carepath.core.yamlsource import load_yaml
from carepath.engine.record.case_record import record_to_story
from carepath.engine.stories.story import parse_story
from carepath.service.stories import StoryRunner
from tests.adapters.test_looked_after_db import _TYPES, field_name
from tests.casework import Casework

FORMS = {
    "into_care": ["care.start", "care.need", "legal_status.start", "legal_status.code",
                  "placement.start", "placement.type", "placement.provider", "placement.carer",
                  "placement.urn", "placement.postcode", "placement.home_postcode",
                  "social_worker.start", "social_worker.id", "previous_permanence.option"],
    "move": ["placement.start", "placement.type", "placement.provider", "placement.carer",
             "placement.urn", "placement.postcode", "placement.home_postcode",
             "placement.reason_changed"],
    "review": ["lac_review.date", "lac_review.participation"],
    "missing": ["missing.start", "missing.kind"],
    "returned": ["missing.end", "missing.rhi_offered", "missing.rhi_accepted"],
    "leave": ["care.end", "care.reason_ceased"],
}
PROCESSES = {"care": ["into_care"], "move": ["move"], "review": ["review"],
             "missing": ["missing", "returned"], "leave": ["leave"]}


def care_pack(root: Path) -> Path:
    pack = root / "care_pack"
    (pack / "forms").mkdir(parents=True)
    (pack / "processes").mkdir()
    actions = "".join(f"  {p}:\n    title: {p.title()}\n    available: \"episode.open\"\n"
                      f"    role: social_worker\n    start: {p}\n"
                      for p in PROCESSES if p != "care")
    (pack / "pack.yaml").write_text(
        "name: care-test\nversion: 0.1.0\ntitle: Care test pack\nengine: \">=0.1,<1\"\n"
        "description: Looked-after stages for the story runner.\nlicence: MIT\n"
        "start: care\nroles:\n  social_worker: {title: Social worker, assign: case_worker}\n"
        f"actions:\n{actions}", encoding="utf-8")
    for form, items in FORMS.items():
        fields = []
        for path in items:
            item = RECORD_ITEMS[path]
            extra = f", codelist: {item.codelist}" if item.codelist else ""
            required = ", required: true" if path.endswith((".start", ".date", ".end")) else ""
            fields.append(f"  - {{name: {field_name(path)}, type: {_TYPES[item.type]}, "
                          f"label: \"{item.title}\", record: {path}{extra}{required}}}")
        (pack / "forms" / f"{form}.yaml").write_text(
            f"id: {form}\ntitle: {form}\nfields:\n" + "\n".join(fields) + "\n",
            encoding="utf-8")
    for process, forms in PROCESSES.items():
        steps = "".join(f"  - task: do_{f}\n    title: {f.title()}\n    form: {f}\n"
                        "    role: social_worker\n" for f in forms)
        (pack / "processes" / f"{process}.yaml").write_text(
            f"id: {process}\ntitle: {process.title()}\nsteps:\n{steps}  - end: done\n"
            "    title: Done\n", encoding="utf-8")
    return pack


STORY = """\
child: {la_child_id: C9, upn_unknown: UN2, birth_date: 2012-06-01, sex: F, ethnicity: WBRI,
        disabilities: [NONE]}
episodes:
  - referral: {date: 2025-05-01, source: "2A"}
looked_after:
  periods:
    - {start: 2025-07-01, need: N1, end: 2026-02-01, reason_ceased: E41}
  legal_statuses:
    - {code: V2, start: 2025-07-01, end: 2026-02-01}
  placements:
    - {type: U6, start: 2025-07-01, end: 2025-10-01, provider: PR1, carer: FC11,
       urn: XXXXXXX, postcode: E1 7AD, home_postcode: E1 7AE, reason_changed: CARPL}
    - {type: U4, start: 2025-10-01, end: 2026-02-01, provider: PR1, carer: FC12,
       urn: XXXXXXX, postcode: E1 7AA, home_postcode: E1 7AE}
  reviews:
    - {held: 2025-07-25, participation: PN1}
    - {held: 2025-10-20, participation: PN2}
  missing:
    - {kind: M, start: 2025-08-10, end: 2025-08-12, rhi_offered: true, rhi_accepted: false}
  social_workers:
    - {worker: SW0006, start: 2025-07-01}
  previous_permanence: {option: Z1}
"""


def test_the_runner_records_a_looked_after_story(db: Engine, tmp_path: Path) -> None:
    work = Casework(db, PackRegistry([care_pack(tmp_path)]))
    story = parse_story(load_yaml(STORY, "story.yaml"), "story.yaml")
    result = StoryRunner(work.service, work.packs.get("care-test"), check_record=True).run(story)
    assert result.unrecorded == []
    assert record_to_story(work.record(result.case_ids[0])) == story


def test_what_the_pack_cannot_record_is_reported_with_its_path(db: Engine,
                                                               tmp_path: Path) -> None:
    work = Casework(db, PackRegistry([care_pack(tmp_path)]))
    text = STORY + "  adoptions:\n    - {decision: 2025-11-01}\n"
    story = parse_story(load_yaml(text, "story.yaml"), "story.yaml")
    result = StoryRunner(work.service, work.packs.get("care-test")).run(story)
    paths = [u.path for u in result.unrecorded]
    assert paths == ["looked_after.adoptions[0]"]
    assert "2025-11-01" in result.unrecorded[0].reason
