"""Statutory returns from the database: the CIN census, the SSDA903 and Ofsted's Annex A, on one
consistent snapshot, and the DfE-rule check of a census file."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import IO, TypeVar

from carepath.returns.annex_a import AnnexASummary, write_annex_a
from carepath.returns.annex_a_care import CareLists, Locate
from carepath.returns.cin_census import CensusSummary, check_la, check_year, write_cin_census
from carepath.returns.ssda903 import Problem
from carepath.returns.ssda903 import check_year as check_903_year
from carepath.returns.ssda903_csv import Ssda903Summary, write_ssda903
from carepath.returns.validate_cin import ValidationReport, validate_cin
from carepath.service.ports import CaseSource

# called with (cases done, cases in all) as a return is written
Progress = Callable[[int, int], None]
PROGRESS_EVERY = 500
T = TypeVar("T")


def _tracked(cases: Iterable[T], total: int, progress: Progress | None) -> Iterator[T]:
    done = 0
    for done, case in enumerate(cases, start=1):
        yield case
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress(done, total)
    if progress is not None:
        progress(done, total)


class ReturnsService:
    def __init__(self, source: CaseSource) -> None:
        self.source = source

    def cin_census(self, handle: IO[bytes], year: int, la: str,
                   progress: Progress | None = None) -> CensusSummary:
        """Write the CIN census XML for the year ending 31 March ``year`` to ``handle``."""
        check_year(year)
        check_la(la)
        with self.source.snapshot() as snapshot:
            total = snapshot.count()
            return write_cin_census(_tracked(snapshot.cases(), total, progress), year, la,
                                    handle)

    def annex_a(self, handle: IO[bytes], first: date, last: date,
                progress: Progress | None = None, council: str | None = None,
                locate: Locate | None = None) -> AnnexASummary:
        """Write Ofsted's Annex A lists for ``first`` to ``last`` to ``handle``: lists 3 to 7
        from every case, lists 8 to 10 from every child with a looked-after record.
        ``council`` (the council's name) and ``locate`` (a placement postcode's council's
        name) give list 8's placement location; without them it is blank and listed."""
        with self.source.snapshot() as snapshot:
            total = snapshot.count()
            care = CareLists(snapshot.care_cases(), council=council, locate=locate)
            return write_annex_a(_tracked(snapshot.cases(), total, progress), handle, first,
                                 last, care=care)

    def ssda903(self, folder: Path, year: int,
                progress: Progress | None = None) -> Ssda903Summary:
        """Write the SSDA903 CSV files for the year ending 31 March ``year`` into ``folder``:
        every child with a looked-after record, streamed. A child whose record cannot give its
        episodes yet (a period of care with no placement recorded…) is left out and listed
        among the problems, with the reason: never dropped silently."""
        check_903_year(year)
        with self.source.snapshot() as snapshot:
            total = snapshot.count_looked_after()
            unreadable: list[Problem] = []
            # the builder leaves out (and lists) a child whose record cannot give its episodes,
            # deriving them once
            summary = write_ssda903(folder, _tracked(snapshot.looked_after(), total, progress),
                                    year, unreadable)
        summary.problems[:0] = unreadable
        return summary

    @staticmethod
    def validate_cin(file: Path, year: int | None = None) -> ValidationReport:
        """Check a CIN census file: the schema, then the DfE rules as COLLECT runs them."""
        return validate_cin(file, year)

