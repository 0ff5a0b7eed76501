"""Work shared by worker processes (``adapters.parallel``, behind ``migrate --jobs`` and
``simulate --jobs``): every item comes back; a worker that fails or dies stops the run with a
clear error, never a traceback or a silent half-result."""

from __future__ import annotations

import os
from functools import partial

import pytest

from carepath.adapters.parallel import Put, run_parts
from carepath.core.errors import CarepathError


def count_to(n: int, part: int, parts: int, put: Put) -> None:
    for i in range(part, n, parts):
        put(i)


def fail_in(bad: int, how: str, part: int, parts: int, put: Put) -> None:
    put(part)
    if part == bad:
        if how == "carepath":
            raise CarepathError("the pack cannot be read")
        if how == "python":
            raise KeyError("a child's name")
        os._exit(3)


def test_every_item_of_every_part_comes_back() -> None:
    assert sorted(run_parts(partial(count_to, 25), 3, "test")) == list(range(25))


@pytest.mark.parametrize(("how", "message"), [
    ("carepath", "worker 2 of 2 stopped: the pack cannot be read"),
    ("python", "worker 2 of 2 stopped: KeyError"),
    ("exit", "worker 2 of 2 stopped without finishing (exit code 3)"),
])
def test_a_worker_that_fails_stops_the_run(how: str, message: str) -> None:
    with pytest.raises(CarepathError) as caught:
        list(run_parts(partial(fail_in, 1, how), 2, "test"))
    assert str(caught.value.message) == message
    assert "child's name" not in str(caught.value)


def test_jobs_must_be_at_least_one() -> None:
    with pytest.raises(CarepathError, match="--jobs must be 1 or more"):
        list(run_parts(partial(count_to, 3), 0, "test"))
