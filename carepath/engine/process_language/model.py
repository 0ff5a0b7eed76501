"""The parsed form of a YAML process (``processes/*.yaml``), before it is compiled to BPMN.

Every step remembers the line it came from so later checks (the pack checker, the compiler) can
name it. The model is plain data: :mod:`carepath.engine.process_language.compiler` builds and compiles it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TaskStep:
    """A user task: someone in ``role`` fills in ``form``."""

    id: str
    title: str
    form: str
    role: str
    due: str | None
    line: int


@dataclass(frozen=True)
class Branch:
    """One branch of a decision or parallel step.

    ``when`` is the condition of a decision branch; it is None for the default branch of a
    decision and for every branch of a parallel step.
    """

    when: str | None
    title: str | None
    steps: tuple[Step, ...]
    line: int


@dataclass(frozen=True)
class DecisionStep:
    """An exclusive gateway: the first branch whose ``when`` holds is taken, else ``default``."""

    id: str
    title: str
    branches: tuple[Branch, ...]
    default: Branch
    line: int


@dataclass(frozen=True)
class ParallelStep:
    """A parallel gateway: every branch runs, then they join."""

    id: str
    title: str
    branches: tuple[Branch, ...]
    line: int


@dataclass(frozen=True)
class CallStep:
    """A call activity: runs process ``process`` of the same pack to its end."""

    id: str
    title: str
    process: str
    line: int


@dataclass(frozen=True)
class TimerStep:
    """Waits for an ISO 8601 ``duration`` or ``until`` the date an expression gives."""

    id: str
    title: str
    duration: str | None
    until: str | None
    line: int


@dataclass(frozen=True)
class GotoStep:
    """Goes back to an earlier step. Not a BPMN node: it becomes a sequence flow."""

    target: str
    title: str | None
    line: int


@dataclass(frozen=True)
class EndStep:
    """An end event; ``start`` names a process to start in the same case when it is reached."""

    id: str
    title: str
    start: str | None
    line: int


Step = TaskStep | DecisionStep | ParallelStep | CallStep | TimerStep | GotoStep | EndStep


@dataclass(frozen=True)
class ProcessModel:
    """One YAML process file, checked."""

    id: str
    title: str
    description: str | None
    steps: tuple[Step, ...]
    file: str
    line: int

    def walk(self) -> list[Step]:
        """Every step, nested ones included, in file order."""
        found: list[Step] = []

        def visit(steps: tuple[Step, ...]) -> None:
            for step in steps:
                found.append(step)
                if isinstance(step, DecisionStep):
                    for branch in (*step.branches, step.default):
                        visit(branch.steps)
                elif isinstance(step, ParallelStep):
                    for branch in step.branches:
                        visit(branch.steps)

        visit(self.steps)
        return found
