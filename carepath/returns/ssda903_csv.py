"""Writing the SSDA903 return as its CSV files, one per table, into a folder.

Each table goes to its own file (:data:`FILE_NAMES`), header row first, UTF-8, ``\\r\\n`` line
ends as the csv module writes them. Rows are written as :func:`ssda903_rows` yields them, so
memory does not grow with the number of children. Every table is written, even with no rows (its
header only): the validator recognises a file by its columns, and an empty table says "none"
rather than "not sent". Files are first written as ``.NAME.part`` in the folder and renamed over
the final names only when every table is complete: a failed run leaves no half-written return.
"""

from __future__ import annotations

import contextlib
import csv
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from carepath.returns import ReturnError
from carepath.returns.ssda903 import TABLES, LookedAfterChild, Problem, ssda903_rows

FILE_NAMES: dict[str, str] = {
    "Header": "header.csv",
    "Episodes": "episodes.csv",
    "Reviews": "reviews.csv",
    "UASC": "uasc.csv",
    "OC2": "oc2.csv",
    "OC3": "oc3.csv",
    "AD1": "ad1.csv",
    "PlacedAdoption": "placed_for_adoption.csv",
    "PrevPerm": "previous_permanence.csv",
    "Missing": "missing.csv",
    "SWEpisodes": "sw_episodes.csv",
}


@dataclass
class Ssda903Summary:
    folder: str
    year: int
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    problems: list[Problem] = field(default_factory=list)

    @property
    def children(self) -> int:
        return self.rows["Header"]


def write_ssda903(folder: Path | str, children: Iterable[LookedAfterChild],
                  year: int, unreadable: list[Problem] | None = None) -> Ssda903Summary:
    """Write the return for the year ending 31 March ``year`` into ``folder`` (which must
    exist). Returns the rows written per table and the problems found. With ``unreadable``, a
    child whose record cannot give its episodes is left out and listed there (see
    :func:`ssda903_rows`) instead of failing the return."""
    directory = Path(folder)
    if not directory.is_dir():
        raise ReturnError(f"The folder {directory} does not exist")
    summary = Ssda903Summary(folder=str(directory), year=year)
    parts = {t: directory / f".{name}.part" for t, name in FILE_NAMES.items()}
    handles = {}
    try:
        with contextlib.ExitStack() as stack:
            writers = {}
            for table, part in parts.items():
                handle = stack.enter_context(part.open("w", encoding="utf-8", newline=""))
                handles[table] = handle
                writers[table] = csv.writer(handle)
                writers[table].writerow(TABLES[table])
            for table, row in ssda903_rows(children, year, summary.problems,
                                           unreadable):
                writers[table].writerow(row)
                summary.rows[table] += 1
            for handle in handles.values():
                handle.flush()
                os.fsync(handle.fileno())
        for table, part in parts.items():
            os.replace(part, directory / FILE_NAMES[table])
    except BaseException:
        for part in parts.values():
            with contextlib.suppress(OSError):
                part.unlink()
        raise
    return summary
