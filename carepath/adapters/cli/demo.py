"""The demo caseload: the sample stories recorded on both built-in packs.

The stories are data inside the package (``carepath/stories/*.yaml``), read with
:mod:`importlib.resources`, so ``carepath demo`` works from an installed wheel as well as from a
checkout.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from carepath.adapters.app import case_service, people_service
from carepath.adapters.db.database import make_engine, mask_url, upgrade
from carepath.core.upn import upn_check_letter
from carepath.core.yamlsource import load_yaml
from carepath.engine.stories.story import parse_story
from carepath.service.stories import StoryRunner

if TYPE_CHECKING:
    from sqlalchemy import Engine

PACKS = {"wt2023": "W", "ics2010": "I"}
PACK_SERIAL = {"W": 7, "I": 8}
# The demo's people: (login, full name, roles, teams). Every one has DEMO_PASSWORD: a demo
# database is for trying carepath out, never for real children's records.
DEMO_PASSWORD = "carepath-demo"
DEMO_USERS = (
    ("sam.worker", "Sam Worker", ("social_worker",), ("north",)),
    ("tess.manager", "Tess Manager", ("team_manager",), ("north",)),
    ("ola.worker", "Ola Worker", ("social_worker",), ("south",)),
    ("chris.chair", "Chris Chair", ("conference_chair",), ("north", "south")),
    ("ada.admin", "Ada Admin", ("administrator",), ()),
)
# The caseload is shared between the two teams, story by story: (worker, team).
DEMO_CASELOADS = (("sam.worker", "north"), ("ola.worker", "south"))


def sample_stories() -> Traversable:
    """The folder of sample stories shipped in the package."""
    return files("carepath") / "stories"


def story_files(stories: Traversable | Path | None = None) -> list[Traversable]:
    """The ``*.yaml`` stories in ``stories`` (default: the shipped ones), by name."""
    folder = sample_stories() if stories is None else stories
    if not folder.is_dir():
        return []
    return sorted((f for f in folder.iterdir() if f.name.endswith(".yaml") and f.is_file()),
                  key=lambda f: f.name)


def carepath_command() -> str:
    """How the user can run carepath again from this shell: ``carepath`` when their PATH finds
    this same program, else the path of the running one (relative to here when it is under
    here, like ``.venv/bin/carepath``)."""
    candidates = []
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name in ("carepath", "carepath.exe") and argv0.is_file():
        candidates.append(argv0)
    beside = Path(sys.executable).parent / ("carepath.exe" if os.name == "nt" else "carepath")
    if beside.is_file():
        candidates.append(beside)
    if not candidates:
        return "carepath"
    running = candidates[0]
    found = shutil.which("carepath")
    if found and Path(found).resolve() == running.resolve():
        return "carepath"
    absolute = running.absolute()
    try:
        shown = str(absolute.relative_to(Path.cwd()))
    except ValueError:
        shown = str(absolute)
    return shlex.quote(shown)


def _as_child_of(child: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The story's child as a child of its own in the demo caseload: every story is recorded
    once per pack, and two children may not share an LA child ID or a UPN (DfE rule 1520)."""
    child = {**child, "la_child_id": prefix + child["la_child_id"]}
    upn = child.get("upn")
    if isinstance(upn, str) and len(upn) == 13:
        # the same LA and year, a serial number of this pack's own, a correct check letter
        body = upn[1:9] + str(PACK_SERIAL[prefix]) + upn[10:]
        child["upn"] = upn_check_letter(body) + body
    return child


def build_demo(db_url: str, out: Console, stories: Traversable | Path | None = None) -> None:
    """Record every sample story on both built-in packs in ``db_url`` (once: an existing demo
    caseload is left as it is), then print the caseload and what to try next."""
    engine = make_engine(db_url)
    upgrade(engine)
    store = case_service(engine)
    shown_url = mask_url(db_url)
    if store.case_ids():
        out.print(f"The demo caseload is already in {escape(shown_url)}.")
    else:
        found = story_files(stories)
        if not found:
            out.print(f"No stories found in {escape(str(stories or sample_stories()))}: "
                      "nothing to load.")
        for pack_name, prefix in PACKS.items():
            pack = store.packs.get(pack_name)
            for n, file in enumerate(found):
                where = f"carepath/stories/{file.name}" if stories is None else str(file)
                story = parse_story(load_yaml(file.read_text(encoding="utf-8"), where), where)
                story["child"] = _as_child_of(story["child"], prefix)
                worker, team = DEMO_CASELOADS[n % len(DEMO_CASELOADS)]
                result = StoryRunner(store, pack, worker=worker, team=team).run(story)
                out.print(f"{pack.key}: {Path(file.name).stem} -> case {result.case_ids[0]} "
                          f"({result.completed} tasks)")
    table = Table("Case", "LA child ID", "Pack", "Team", "Worker", "Open tasks",
                  title="Demo caseload", title_justify="left")
    for row in store.list_cases():
        table.add_row(str(row.case_id), row.la_child_id, row.pack, row.team or "",
                      row.worker or "", str(row.open_tasks))
    out.print(table)
    add_demo_users(engine, out)
    run, db = carepath_command(), shlex.quote(shown_url)
    out.print(escape(f"\nTry:  {run} task list --db {db}\n"
                     f"      {run} case show 1 --db {db}"))


def add_demo_users(engine: Engine, out: Console) -> None:
    """The demo's people (those not there yet), then every demo login."""
    people = people_service(engine)
    known = {u.name for u in people.users()}
    for name, display, roles, teams in DEMO_USERS:
        if name not in known:
            people.add_user(name, display, DEMO_PASSWORD, roles, teams)
    table = Table("Login", "Name", "Role", "Teams", title="Demo logins", title_justify="left")
    for name, display, roles, teams in DEMO_USERS:
        table.add_row(name, display, ", ".join(roles), ", ".join(teams))
    out.print(table)
    out.print(f"Every demo login has the password {DEMO_PASSWORD} (a demo only: never use "
              "these logins on real records).")
