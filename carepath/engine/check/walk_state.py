"""The state of a path in the walk (:mod:`.walker`): where it is, what it knows, what waits.

A :class:`_State` is where a path is (process, node, the calls it is inside, the processes
waiting to start), what it knows (the answers gateway conditions read, the loops taken, whether
the episode is closed, each observer's state) and the work an action interrupted
(:class:`_Resume`); a :class:`_Join` is a parallel block being walked branch by branch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from carepath.engine.bpmn.specs import GraphNode
from carepath.engine.check.paths import Branch, Trail

MAX_RUNS = 2  # a process runs at most twice on a path: a loop through `start:` taken once

Move = tuple[str, str, "_State"]


class _State(NamedTuple):
    trail: Trail | None
    env: Mapping[str, Any]
    runs: Mapping[str, int]
    backs: frozenset[tuple[str, str]]
    frames: tuple[tuple[str, str], ...]
    pending: tuple[str, ...]
    branch: Branch
    floors: tuple[int, ...]
    joins: tuple[_Join, ...]
    closed: bool
    observed: tuple[Any, ...]
    suspended: tuple[_Resume, ...] = ()  # work an action interrupted, innermost last
    taken: frozenset[str] = frozenset()  # the actions taken on the path


class _Resume(NamedTuple):
    """Where the work an action interrupted waits: its task, its answers, its place."""

    pid: str
    node: str
    answers: frozenset[tuple[str, Any]]
    backs: frozenset[tuple[str, str]]
    frames: tuple[tuple[str, str], ...]
    pending: tuple[str, ...]


class _Join(NamedTuple):
    """A parallel block being walked: branch ``number`` is next; ``changes`` are what the
    branches before it changed; ``target`` is the join they reached."""

    block: int
    pid: str
    node: GraphNode
    fork: _State
    number: int
    changes: dict[str, Any]
    target: str | None
