"""What ``carepath pack check`` found: findings, and how they are shown.

A :class:`Finding` names its severity, the DfE CIN census rules (or items) it concerns, the record
item, what is wrong, where in the pack (process, file, line) and one path that shows it: the
titles of the tasks in order (``path``) and, for people, every step with the answers that decided
the way (``route``). The same problem met on many paths is one finding, shown with the shortest.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from carepath.engine.check.paths import Step, Trail, route, task_titles

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    severity: Severity
    check: str  # what kind of problem: "record", "undefined-name", "timescale", ...
    message: str
    rules: tuple[str, ...] = ()  # DfE CIN census rule codes, e.g. ("8868",)
    item: str | None = None  # the record item concerned, e.g. "s47.icpc_date"
    path: tuple[str, ...] = ()  # task titles in order
    route: tuple[str, ...] = ()  # every step, with the deciding answers
    process: str | None = None
    node: str | None = None
    file: str | None = None
    line: int | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["rules"] = list(self.rules)
        data["path"] = list(self.path)
        data["route"] = list(self.route)
        return data


class Findings:
    """Findings collected while walking: one per key, with the shortest path that shows it."""

    def __init__(self) -> None:
        self._found: dict[tuple[Any, ...], tuple[int, Finding]] = {}

    def add(self, finding: Finding, key: tuple[Any, ...] | None = None, length: int = 0) -> None:
        key = key if key is not None else (finding.check, finding.rules, finding.item,
                                           finding.process, finding.node, finding.message)
        known = self._found.get(key)
        if known is None or length < known[0]:
            self._found[key] = (length, finding)

    def at(self, severity: Severity, check: str, message: str, trail: Trail | None,
           step: Step | None = None, rules: tuple[str, ...] = (), item: str | None = None,
           key: tuple[Any, ...] | None = None) -> None:
        """A finding met on the path ``trail`` at ``step`` (the newest step by default)."""
        where = step or (trail.step if trail is not None else None)
        length = trail.length if trail is not None else 0
        if key is None:
            key = (check, rules, item, where.process if where else None,
                   where.node if where else None, message)
        known = self._found.get(key)
        if known is not None and known[0] <= length:
            return
        steps = trail.steps() if trail is not None else ()
        finding = Finding(
            severity, check, message, rules, item, task_titles(steps), route(steps),
            where.process if where else None, where.node if where else None,
            where.file if where else None, where.line if where else None)
        self._found[key] = (length, finding)

    def all(self) -> list[Finding]:
        return sorted((f for _, f in self._found.values()),
                      key=lambda f: (f.severity != "error", f.file or "", f.line or 0,
                                     f.rules, f.item or "", f.message))


@dataclass
class Report:
    """The result of checking one pack."""

    pack: str
    findings: list[Finding]
    paths: int = 0  # how many paths were checked
    states: int = 0
    truncated: bool = False  # the walk stopped at its bound: not every path was checked
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    # limits the walk reached ("could not check everything: …"): the proof is not complete
    incomplete: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        """No error, and every path was checked (no limit was reached)."""
        return not self.errors and not self.incomplete and not self.truncated

    def to_json(self) -> dict[str, Any]:
        return {"pack": self.pack, "ok": self.ok, "paths": self.paths, "states": self.states,
                "seconds": round(self.seconds, 3),
                "truncated": self.truncated, "errors": len(self.errors),
                "warnings": len(self.warnings), "notes": list(self.notes),
                "incomplete": list(self.incomplete),
                "findings": [f.to_json() for f in self.findings]}


def rule_text(rules: tuple[str, ...]) -> str:
    if not rules:
        return ""
    return ("DfE rule " if len(rules) == 1 else "DfE rules ") + ", ".join(rules)


def where_text(f: Finding) -> str:
    if f.file is None:
        return ""
    return f"{f.file}:{f.line}" if f.line else f.file


def render_text(report: Report) -> str:
    """The report as plain text, one block per finding."""
    lines: list[str] = []
    for f in report.findings:
        head = f"{f.severity.upper()}"
        tags = [t for t in (rule_text(f.rules), f.item, where_text(f)) if t]
        lines.append(f"{head}: {f.message}" + (f" [{'; '.join(tags)}]" if tags else ""))
        if f.route:
            lines.append("  path: " + " → ".join(f.route))
        lines.append("")
    summary = (f"{report.pack}: {len(report.errors)} error(s), {len(report.warnings)} "
               f"warning(s) on {report.paths:,} path(s)")
    lines += report.notes
    lines += report.incomplete
    lines.append(summary)
    return "\n".join(lines)
