"""The command line, end to end on real databases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import carepath
from carepath.cli import main

STORIES = Path(carepath.__file__).parent / "stories"


@pytest.fixture
def cli(db_url: str, tmp_path: Path) -> Any:
    runner = CliRunner()

    def invoke(*args: str, today: str | None = "2025-05-01", input: str | None = None) -> Result:
        env = {"CAREPATH_DATABASE_URL": db_url, "CAREPATH_USER": "tester"}
        if today:
            env["CAREPATH_TODAY"] = today
        return runner.invoke(main, list(args), env=env, input=input, catch_exceptions=False)

    result = invoke("init")
    assert result.exit_code == 0, result.output
    return invoke


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


CHILD = """la_child_id: C5001
upn: C201250001001
birth_date: 2015-06-01
sex: F
ethnicity: WBRI
disabilities: [NONE]
"""


def open_case(cli: Any, tmp_path: Path, pack: str = "wt2023") -> int:
    result = cli("case", "open", "--pack", pack, "--child", write(tmp_path, "child.yaml", CHILD),
                 "--referral", write(tmp_path, "ref.yaml", "date: 2025-05-01\nsource: '2A'\n"),
                 "--worker", "sam", "--json")
    assert result.exit_code == 0, result.output
    return int(json.loads(result.output)["case_id"])


def test_pack_list_show_and_export(cli: Any, tmp_path: Path) -> None:
    listed = json.loads(cli("pack", "list", "--json").output)
    assert {p["name"] for p in listed} >= {"ics2010", "wt2023"}
    shown = json.loads(cli("pack", "show", "wt2023", "--json").output)
    assert shown["start"] in {p["id"] for p in shown["processes"]}
    result = cli("pack", "export-bpmn", "ics2010", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    files = list((tmp_path / "out").glob("*.bpmn"))
    assert files and all(b"bpmndi:BPMNDiagram" in f.read_bytes() for f in files)


@pytest.mark.parametrize("pack", ["ics2010", "wt2023"])
def test_open_list_show_complete(cli: Any, tmp_path: Path, pack: str) -> None:
    case_id = open_case(cli, tmp_path, pack)
    tasks = json.loads(cli("task", "list", "--json").output)
    assert len(tasks) == 1
    task = tasks[0]
    assert {"id", "case_id", "title", "form", "role", "assignee", "due", "overdue"} <= set(task)
    assert task["due"] == "2025-05-02" and task["overdue"] is False
    # a week later the referral decision is overdue
    late = json.loads(cli("task", "list", "--overdue", "--json", today="2025-05-09").output)
    assert [t["id"] for t in late] == [task["id"]]

    shown = cli("task", "show", str(task["id"]), "--json")
    assert shown.exit_code == 0, shown.output
    fields = json.loads(shown.output)["form_fields"]
    assert fields

    detail = json.loads(cli("case", "show", str(case_id), "--json").output)
    assert set(detail) >= {"case_id", "pack", "record", "open_tasks", "history"}
    assert detail["record"]["child"]["la_child_id"] == "C5001"
    assert detail["record"]["episodes"][0]["referral"] == {"date": "2025-05-01",
                                                          "source": "2A", "nfa": False}
    cases = json.loads(cli("case", "list", "--json").output)
    assert [c["case_id"] for c in cases] == [case_id]


def test_complete_with_bad_answers_is_exit_2_and_changes_nothing(cli: Any,
                                                                 tmp_path: Path) -> None:
    case_id = open_case(cli, tmp_path)
    task = json.loads(cli("task", "list", "--json").output)[0]
    before = json.loads(cli("case", "show", str(case_id), "--json").output)
    result = cli("task", "complete", str(task["id"]), "--data",
                 write(tmp_path, "bad.yaml", "colour: blue\n"))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "colour" in result.output
    after = json.loads(cli("case", "show", str(case_id), "--json").output)
    assert after == before


@pytest.mark.parametrize("args", [
    ("case", "show", "999"),
    ("task", "complete", "999", "--data", "/nonexistent.yaml"),
    ("case", "open", "--pack", "nosuchpack", "--child", "/x.yaml", "--referral", "/y.yaml"),
    ("pack", "show", "nosuchpack"),
    ("serve", "--threads", "4"),  # threads are gunicorn's: needs --workers
])
def test_bad_input_is_one_clear_line(cli: Any, args: tuple[str, ...]) -> None:
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.output.strip().startswith("Error:")


def test_story_run_json_and_audit(cli: Any) -> None:
    result = cli("story", "run", str(STORIES / "s47_cp_christmas.yaml"), "--pack", "wt2023",
                 "--json", today=None)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {"case_ids", "stopped_at", "unrecorded"}
    assert data["unrecorded"] == []
    detail = json.loads(cli("case", "show", str(data["case_ids"][0]), "--json").output)
    s47 = detail["record"]["episodes"][0]["s47"][0]
    assert s47["icpc_target"] == "2026-01-07"  # 15 working days over Christmas
    assert cli("audit", "verify").exit_code == 0
    assert cli("timers", "run", "--until", "2026-03-31").exit_code == 0


def test_story_run_fails_naming_what_it_could_not_record(cli: Any, tmp_path: Path) -> None:
    """On a pack without the start_section47 action, the enquiry of a strategy discussion held
    while the assessment is open cannot be recorded: exit 1, its path and why."""
    from tests.adapters.test_stories import pack_without_actions

    pack_without_actions(tmp_path, "wt2023")
    story = str(STORIES / "s47_during_assessment.yaml")
    pack = str(tmp_path / "wt2023_plain")
    result = cli("story", "run", story, "--pack", pack, today=None)
    assert result.exit_code == 1, result.output
    assert "only partly recorded" in result.stdout
    assert "Not recorded: episodes[0].s47[0]: on 2025-06-03 no task or action could record it" \
        in result.stderr
    # another child (its own LA child ID and UPN: DfE rule 1520)
    other = (Path(story).read_text(encoding="utf-8").replace("C0111", "C0911")
             .replace("B201250001010", "N201250009010"))
    result = cli("story", "run", write(tmp_path, "other.yaml", other), "--pack", pack, "--json",
                 today=None)
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert [u["path"] for u in data["unrecorded"]] == ["episodes[0].s47[0]"]
    assert set(data["unrecorded"][0]) == {"path", "reason"}


TIMER_PACK = Path(__file__).parent / "packs" / "timer_pack"


def test_task_do_asks_each_question(db_url: str, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREPATH_PACK_PATH", str(TIMER_PACK))
    runner = CliRunner()
    env = {"CAREPATH_DATABASE_URL": db_url, "CAREPATH_TODAY": "2025-05-01",
           "CAREPATH_USER": "tester", "CAREPATH_PACK_PATH": str(TIMER_PACK)}
    assert runner.invoke(main, ["init"], env=env).exit_code == 0
    opened = runner.invoke(main, ["case", "open", "--pack", "timer-test", "--child",
                                  write(tmp_path, "child.yaml", CHILD), "--referral",
                                  write(tmp_path, "r.yaml", "date: 2025-05-01\nsource: '6'\n"),
                                  "--json"], env=env)
    assert opened.exit_code == 0, opened.output
    task_id = json.loads(opened.output)["open_tasks"][0]["id"]
    # first an empty answer to a required question, then a real one
    result = runner.invoke(main, ["task", "do", str(task_id)], env=env, input="\nSeen at home\n")
    assert result.exit_code == 0, result.output
    assert "Enter the note" in result.output
    assert f"Task {task_id} completed" in result.output
    timers = runner.invoke(main, ["timers", "run", "--until", "2025-05-09"], env=env)
    assert timers.exit_code == 0 and "1 process moved on" in timers.output
    tasks = json.loads(runner.invoke(main, ["task", "list", "--json"], env=env).output)
    assert [t["title"] for t in tasks] == ["Follow-up visit"]
