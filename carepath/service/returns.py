"""Statutory returns from the database: the CIN census and Ofsted's Annex A, on one consistent
snapshot, and the DfE-rule check of a census file."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import IO

from carepath.returns import CaseData
from carepath.returns.annex_a import AnnexASummary, write_annex_a
from carepath.returns.cin_census import CensusSummary, check_la, check_year, write_cin_census
from carepath.returns.validate_cin import ValidationReport, validate_cin
from carepath.service.ports import CaseSource

# called with (cases done, cases in all) as a return is written
Progress = Callable[[int, int], None]
PROGRESS_EVERY = 500


def _tracked(cases: Iterable[CaseData], total: int, progress: Progress | None
             ) -> Iterator[CaseData]:
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
                progress: Progress | None = None) -> AnnexASummary:
        """Write Ofsted's Annex A lists for ``first`` to ``last`` to ``handle``."""
        with self.source.snapshot() as snapshot:
            total = snapshot.count()
            return write_annex_a(_tracked(snapshot.cases(), total, progress), handle, first,
                                 last)

    @staticmethod
    def validate_cin(file: Path, year: int | None = None) -> ValidationReport:
        """Check a CIN census file: the schema, then the DfE rules as COLLECT runs them."""
        return validate_cin(file, year)
