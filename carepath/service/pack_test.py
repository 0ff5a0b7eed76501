"""``carepath pack test``: a pack's own scenarios, and how much of the pack they exercise.

A scenario (``scenarios/*.yaml`` in the pack's directory) is a story and what should come of it
when the story runner records it on the pack (``docs/pack-authoring.md``, "Scenarios")::

    title: Section 47 enquiry with no conference, then a child in need plan
    story: {child: {...}, episodes: [...]}          # the story format (docs/stories.md)
    expect:
      record: same                 # or a part of the record, in the story format
      stopped_at: [Review the child in need plan]  # titles of the tasks left open, any order
      open_tasks: 1
      completed: 8                 # tasks completed
      error: "needs 's47.icpc_date'"               # or: the runner must fail with this text

Each scenario runs on its own throwaway SQLite database in memory. Flow coverage comes from the
process instances the scenarios left: a sequence flow is taken when its source step completed and
its target step was reached; a user task is exercised when it was completed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from carepath.core.errors import CarepathError, PackError
from carepath.core.yamlsource import SourceDict, load_yaml
from carepath.engine.pack import Pack
from carepath.engine.record.case_record import record_to_story
from carepath.engine.runtime import CaseRuntime
from carepath.engine.stories.story import parse_story
from carepath.engine.workflow import WorkflowInstance
from carepath.service.cases import CaseService
from carepath.service.ports import CaseRepository, PackCatalogue
from carepath.service.stories import StoryRunner
from carepath.service.story_report import show_value

__all__ = ["Coverage", "PackTestReport", "ScenarioResult", "run_pack_tests", "load_scenario"]

SCENARIO_KEYS = ("title", "description", "story", "expect")
EXPECT_KEYS = ("record", "stopped_at", "open_tasks", "completed", "error")
# Spiff task states of a step that was reached (the rest were only predicted, or cancelled)
REACHED = {"READY", "STARTED", "WAITING", "COMPLETED", "ERROR"}

# (scenarios done, scenarios in all, the scenario just run)
Progress = Callable[[int, int, "ScenarioResult"], None]


class ScenarioError(CarepathError):
    """The pack's scenarios cannot be run (none, or no folder for them)."""


@dataclass
class Scenario:
    name: str
    file: str
    title: str
    story: dict[str, Any]
    expect: dict[str, Any]


@dataclass
class ScenarioResult:
    name: str
    title: str
    passed: bool
    problems: list[str] = field(default_factory=list)
    completed: int = 0
    stopped_at: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "passed": self.passed,
                "problems": self.problems, "completed": self.completed,
                "stopped_at": self.stopped_at}


@dataclass
class Coverage:
    flows: dict[tuple[str, str], str]  # (process, flow id) -> "source title -> target title"
    tasks: dict[tuple[str, str], str]  # (process, task id) -> title
    taken_flows: set[tuple[str, str]] = field(default_factory=set)
    done_tasks: set[tuple[str, str]] = field(default_factory=set)

    @staticmethod
    def _percent(part: int, whole: int) -> float:
        return round(100.0 * part / whole, 1) if whole else 100.0

    @property
    def flow_percent(self) -> float:
        return self._percent(len(self.taken_flows & set(self.flows)), len(self.flows))

    @property
    def task_percent(self) -> float:
        return self._percent(len(self.done_tasks & set(self.tasks)), len(self.tasks))

    def missed_flows(self) -> list[dict[str, str]]:
        return [{"process": p, "flow": f, "between": self.flows[(p, f)]}
                for p, f in sorted(self.flows) if (p, f) not in self.taken_flows]

    def missed_tasks(self) -> list[dict[str, str]]:
        return [{"process": p, "task": t, "title": self.tasks[(p, t)]}
                for p, t in sorted(self.tasks) if (p, t) not in self.done_tasks]

    def as_json(self) -> dict[str, Any]:
        return {
            "flows": {"total": len(self.flows),
                      "taken": len(self.taken_flows & set(self.flows)),
                      "percent": self.flow_percent, "never_taken": self.missed_flows()},
            "tasks": {"total": len(self.tasks),
                      "completed": len(self.done_tasks & set(self.tasks)),
                      "percent": self.task_percent, "never_completed": self.missed_tasks()},
        }


@dataclass
class PackTestReport:
    pack: str
    scenarios: list[ScenarioResult]
    coverage: Coverage

    @property
    def passed(self) -> bool:
        return all(s.passed for s in self.scenarios)

    @property
    def failed(self) -> int:
        return sum(1 for s in self.scenarios if not s.passed)

    def as_json(self) -> dict[str, Any]:
        return {"pack": self.pack, "passed": self.passed,
                "scenarios": [s.as_json() for s in self.scenarios],
                "coverage": self.coverage.as_json()}


# --- reading scenarios -----------------------------------------------------------------------


def _fail(message: str, file: str, node: Any = None, key: str | None = None) -> PackError:
    line = None
    if isinstance(node, SourceDict):
        line = (node.line_of(key) if key else node.line) or None
    return PackError(message, file, line)


def load_scenario(text: str, file: str) -> Scenario:
    """Read one scenario file; a :class:`PackError` (or ``StoryFormatError``) names the line."""
    data = load_yaml(text, file)
    if not isinstance(data, Mapping):
        raise _fail("a scenario must be a mapping with 'story' and 'expect'", file)
    for key in data:
        if key not in SCENARIO_KEYS:
            raise _fail(f"unknown key '{key}' in a scenario (expected: "
                        f"{', '.join(SCENARIO_KEYS)})", file, data, str(key))
    if data.get("story") is None:
        raise _fail("a scenario needs 'story'", file, data)
    story = parse_story(data["story"], file)
    expect = data.get("expect") or {}
    if not isinstance(expect, Mapping):
        raise _fail("'expect' must be a mapping", file, data, "expect")
    for key in expect:
        if key not in EXPECT_KEYS:
            raise _fail(f"unknown key '{key}' in 'expect' (expected: {', '.join(EXPECT_KEYS)})",
                        file, expect, str(key))
    out: dict[str, Any] = {"record": expect.get("record", "same")}
    record = out["record"]
    if not (record == "same" or record is None or isinstance(record, Mapping)):
        raise _fail("'record' must be 'same' or a part of the record in the story format",
                    file, expect, "record")
    if "stopped_at" in expect:
        titles = expect["stopped_at"]
        if not isinstance(titles, list) or not all(isinstance(t, str) for t in titles):
            raise _fail("'stopped_at' must be a list of task titles", file, expect, "stopped_at")
        out["stopped_at"] = list(titles)
    for key in ("open_tasks", "completed"):
        if key in expect:
            value = expect[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise _fail(f"'{key}' must be a whole number", file, expect, key)
            out[key] = value
    if "error" in expect:
        if not isinstance(expect["error"], str) or not expect["error"].strip():
            raise _fail("'error' must be the text the runner's error contains", file, expect,
                        "error")
        out["error"] = expect["error"]
    title = str(data.get("title") or Path(file).stem)
    return Scenario(Path(file).stem, file, title, story, out)


def scenario_files(pack: Pack) -> list[Path]:
    folder = Path(pack.source) / "scenarios"
    if not folder.is_dir():
        raise ScenarioError(f"Pack {pack.key} has no scenarios: add stories with expected "
                            f"outcomes in {folder} (see docs/pack-authoring.md, 'Scenarios')")
    files = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    if not files:
        raise ScenarioError(f"Pack {pack.key} has no scenarios in {folder}")
    return files


# --- comparing -------------------------------------------------------------------------------


def _same_scalar(expected: Any, actual: Any) -> bool:
    if isinstance(actual, str) and isinstance(expected, int) and not isinstance(expected, bool):
        return str(expected) == actual
    if isinstance(actual, date) and isinstance(expected, str):
        return expected == actual.isoformat()
    return bool(expected == actual)


def partial_differences(expected: Any, actual: Any, path: str = "record") -> list[str]:
    """Where ``actual`` differs from the part of it given in ``expected`` (mappings: only the
    keys given; lists: the same length, item by item)."""
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return [f"{path}: expected a mapping, the record has {show_value(actual)}"]
        problems: list[str] = []
        for key, value in expected.items():
            if key not in actual:
                if value in (None, [], False):
                    continue
                problems.append(f"{path}.{key}: expected {show_value(value)}, the record has none")
                continue
            problems += partial_differences(value, actual[key], f"{path}.{key}")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{path}: expected a list, the record has {show_value(actual)}"]
        if len(expected) != len(actual):
            return [f"{path}: expected {len(expected)} item(s), the record has {len(actual)}"]
        out: list[str] = []
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            out += partial_differences(e, a, f"{path}[{i}]")
        return out
    if not _same_scalar(expected, actual):
        return [f"{path}: expected {show_value(expected)}, the record has {show_value(actual)}"]
    return []


def _record_differences(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    if expected["child"] != actual["child"]:
        problems += partial_differences(expected["child"], actual["child"], "child")
    problems += partial_differences(expected["episodes"], actual["episodes"], "episodes")
    # keys in the record but not in the story
    for i, (e, a) in enumerate(zip(expected["episodes"], actual["episodes"], strict=False)):
        for key in a:
            if key not in e:
                problems.append(f"episodes[{i}].{key}: not in the story, the record has "
                                f"{show_value(a[key])}")
    return problems or ["the record differs from the story"]


# --- running ---------------------------------------------------------------------------------


class ScratchDatabases(Protocol):
    """Fresh, empty databases, one per scenario (in memory: ``adapters.db.scratch``)."""

    def fresh(self) -> AbstractContextManager[CaseRepository]: ...

    def close(self) -> None: ...


def _task_states(workflow: WorkflowInstance) -> list[tuple[str, str, str]]:
    """(process id, BPMN id, state) of every step of an instance."""
    return workflow.task_states()


def _pack_graph(pack: Pack) -> Coverage:
    flows: dict[tuple[str, str], str] = {}
    tasks: dict[tuple[str, str], str] = {}
    for process_id in pack.library.process_ids():
        graph = pack.library.graph(process_id)
        for node in graph.nodes.values():
            if node.kind == "task":
                tasks[(process_id, node.id)] = node.title
            for edge in node.outgoing:
                target = graph.nodes.get(edge.target)
                flows[(process_id, edge.flow_id)] = (
                    f"{node.title} -> {target.title if target else edge.target}")
    return Coverage(flows, tasks)


def _exercised(pack: Pack, cases: CaseRepository, coverage: Coverage) -> None:
    """Add the flows taken and tasks completed in every process instance in ``cases``."""
    runtime = CaseRuntime(pack)
    for row in cases.instance_states():
        process_id, state, episode_seq, row_id = (row.process_id, row.state, row.episode_seq,
                                                  row.instance_id)
        if not state:
            continue
        live = runtime.restore(process_id, state, episode_seq, row_id)
        states: dict[tuple[str, str], set[str]] = {}
        for process, bpmn_id, name in _task_states(live.workflow):
            states.setdefault((process, bpmn_id), set()).add(name)
        for (process, bpmn_id), names in states.items():
            if "COMPLETED" in names and (process, bpmn_id) in coverage.tasks:
                coverage.done_tasks.add((process, bpmn_id))
        for process in {p for p, _ in states}:
            try:
                graph = pack.library.graph(process)
            except KeyError:
                continue
            for node in graph.nodes.values():
                if "COMPLETED" not in states.get((process, node.id), set()):
                    continue
                for edge in node.outgoing:
                    if states.get((process, edge.target), set()) & REACHED:
                        coverage.taken_flows.add((process, edge.flow_id))


def _run_one(scenario: Scenario, pack: Pack, registry: PackCatalogue, cases: CaseRepository,
             coverage: Coverage) -> ScenarioResult:
    result = ScenarioResult(scenario.name, scenario.title, passed=False)
    expect = scenario.expect
    service = CaseService(cases, registry)
    runner = StoryRunner(service, pack, actor="pack-test", worker="test.worker")
    try:
        run = runner.run(scenario.story)
    except CarepathError as exc:
        _exercised(pack, cases, coverage)
        if "error" in expect:
            if expect["error"] in str(exc):
                result.passed = True
            else:
                result.problems.append(f"the runner failed with \"{exc}\", not with "
                                       f"\"{expect['error']}\"")
        else:
            result.problems.append(f"the runner failed: {exc}")
        return result
    _exercised(pack, cases, coverage)
    result.completed = run.completed
    result.stopped_at = [t.title for t in run.stopped_at]
    if "error" in expect:
        result.problems.append(f"expected the runner to fail with \"{expect['error']}\", but "
                               "it recorded the story")
    record = record_to_story(service.record(run.case_ids[0]))
    wanted = expect.get("record", "same")
    if wanted == "same":
        # a change of worker is the case's, not the record's
        story = {k: v for k, v in scenario.story.items() if k != "worker_changes"}
        if record != story:
            result.problems += _record_differences(story, record)
    elif isinstance(wanted, Mapping):
        result.problems += partial_differences(wanted, record)
    if "stopped_at" in expect and sorted(expect["stopped_at"]) != sorted(result.stopped_at):
        result.problems.append(f"stopped at {result.stopped_at or 'no task'}, expected "
                               f"{expect['stopped_at'] or 'no task'}")
    if "open_tasks" in expect and expect["open_tasks"] != len(run.stopped_at):
        result.problems.append(f"{len(run.stopped_at)} task(s) open at the end, expected "
                               f"{expect['open_tasks']}")
    if "completed" in expect and expect["completed"] != run.completed:
        result.problems.append(f"{run.completed} task(s) completed, expected "
                               f"{expect['completed']}")
    result.passed = not result.problems
    return result


def run_pack_tests(pack: Pack, registry: PackCatalogue, databases: ScratchDatabases,
                   progress: Progress | None = None) -> PackTestReport:
    """Run every scenario of ``pack`` (which ``registry`` must hold) and measure coverage."""
    files = scenario_files(pack)
    coverage = _pack_graph(pack)
    results: list[ScenarioResult] = []
    try:
        for done, path in enumerate(files, start=1):
            try:
                scenario = load_scenario(path.read_text(encoding="utf-8"), str(path))
            except (CarepathError, UnicodeDecodeError) as exc:
                result = ScenarioResult(path.stem, path.stem, False, [f"cannot be read: {exc}"])
            else:
                with databases.fresh() as cases:
                    result = _run_one(scenario, pack, registry, cases, coverage)
            results.append(result)
            if progress is not None:
                progress(done, len(files), result)
    finally:
        databases.close()
    return PackTestReport(pack.key, results, coverage)
