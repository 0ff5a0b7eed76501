"""The demo caseload: the sample stories recorded on both built-in packs."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from carepath.adapters.app import case_service
from carepath.adapters.db.database import make_engine, upgrade
from carepath.core.yamlsource import load_yaml
from carepath.engine.stories.story import parse_story
from carepath.service.stories import StoryRunner

STORIES = Path(__file__).resolve().parents[2] / "tests" / "stories"
PACKS = {"wt2023": "W", "ics2010": "I"}


def build_demo(db_url: str, out: Console, stories: Path = STORIES) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    store = case_service(engine)
    if store.case_ids():
        out.print(f"The demo caseload is already in {db_url}.")
    else:
        files = sorted(stories.glob("*.yaml"))
        if not files:
            out.print(f"No stories found in {stories}: nothing to load.")
        for pack_name, prefix in PACKS.items():
            pack = store.packs.get(pack_name)
            for file in files:
                story = parse_story(load_yaml(file.read_text(encoding="utf-8"), str(file)),
                                    str(file))
                story["child"] = {**story["child"],
                                  "la_child_id": prefix + story["child"]["la_child_id"]}
                result = StoryRunner(store, pack, worker="demo.worker").run(story)
                out.print(f"{pack.key}: {file.stem} -> case {result.case_ids[0]} "
                          f"({result.completed} tasks)")
    table = Table("Case", "LA child ID", "Pack", "Open tasks", title="Demo caseload",
                  title_justify="left")
    for row in store.list_cases():
        table.add_row(str(row.case_id), row.la_child_id, row.pack, str(row.open_tasks))
    out.print(table)
    out.print(f"\nTry:  carepath task list --db {db_url}\n"
              f"      carepath case show 1 --db {db_url}")
