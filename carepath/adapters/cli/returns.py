"""``carepath returns …``: statutory returns from the database, and the DfE-rule check.

    carepath returns cin-census --year 2026 --la 201 --out cin.xml [--db URL] [--json]
    carepath returns ssda903 --year 2026 --la 201 --out FOLDER [--db URL] [--json]
    carepath returns validate cin FILE.xml [--year 2026] [--json]
    carepath returns validate ssda903 FOLDER [--year 2026] [--la E09000001] [--json]
    carepath returns annex-a --out annex_a.xlsx [--start DATE --end DATE] [--db URL] [--json]

The returns are read in one transaction with a snapshot of the database (``REPEATABLE READ`` on
PostgreSQL, a read transaction on SQLite), so a case changed while the file is written is seen
either wholly before or wholly after the change. Files are written to a temporary file beside the
target and renamed over it at the end: a failed run leaves no half-written return. A progress
bar is shown on a terminal, never with ``--json`` or when output is piped.

Exit codes: 0 done (``validate``: no schema error, no ERROR, no crashed rule; queries are
printed but do not fail); 1 ``validate`` found a failure, or ``cin-census`` / ``ssda903`` wrote a
return that will fail the DfE checks (items it needs are missing or wrong in the records: listed);
2 bad input (an unreadable or non-XML file, a bad option, a census year whose collection period
has not ended, a database that is not ready), printed as one ``Error:`` line.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import IO, Any, TypeVar

import click
from rich.console import Console

from carepath.adapters.cli.errors import handle_errors
from carepath.service.returns import Progress, ReturnsService

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

_err = Console(stderr=True, highlight=False, soft_wrap=True)




def _db_option(fn: F) -> F:
    return click.option("--db", "db_url", metavar="URL", envvar="CAREPATH_DATABASE_URL",
                        help="Database URL (default: sqlite:///carepath.db in this directory; "
                             "env CAREPATH_DATABASE_URL).")(fn)


def _json_option(fn: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(fn)


def _parse_day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"'{text}' is not a date: write it as YYYY-MM-DD",
                                 param_hint=option) from None


# -- plumbing --------------------------------------------------------------------------------


def _returns(db_url: str | None) -> ReturnsService:
    from carepath.adapters.app import open_services

    return open_services(db_url).returns


@contextlib.contextmanager
def _atomic(path: Path) -> Iterator[IO[bytes]]:
    """A file that replaces ``path`` only when the block succeeds."""
    path = path.expanduser()
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise click.BadParameter(f"the folder {directory} does not exist", param_hint="--out")
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=directory)
    try:
        # mkstemp makes the file private (0600): give it the mode a new file would have (or
        # the mode of the file it replaces).
        if path.exists():
            mode = stat.S_IMODE(path.stat().st_mode)
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(temp, mode)
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


@contextlib.contextmanager
def _progress(title: str, quiet: bool) -> Iterator[Progress | None]:
    """A progress callback that advances a bar on a terminal (None when quiet or piped)."""
    if quiet or not _err.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    with Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
             TimeElapsedColumn(), console=_err, transient=True) as bar:
        task = bar.add_task(title, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


def _say(text: str) -> None:
    click.echo(text)


# -- commands --------------------------------------------------------------------------------


@click.group("returns")
def returns() -> None:
    """Statutory returns: the CIN census, the SSDA903 and Ofsted's Annex A, and the DfE-rule
    check."""


@returns.command("cin-census")
@click.option("--year", type=int, required=True,
              help="The year the collection ends: 2026 for 1 April 2025 to 31 March 2026.")
@click.option("--la", required=True, metavar="CODE", help="The council's 3-digit DfE LA number.")
@click.option("--out", "out_path", required=True, metavar="FILE.xml",
              type=click.Path(dir_okay=False, path_type=Path), help="Where to write the XML.")
@_db_option
@_json_option
@click.pass_context
@handle_errors
def cin_census(ctx: click.Context, year: int, la: str, out_path: Path, db_url: str | None,
               as_json: bool) -> None:
    """Write the Children in Need census XML for the year ending 31 March YEAR."""
    from carepath.engine.time.clock import today
    from carepath.returns.cin_census import (
        census_year_bounds,
        check_la,
        check_year,
        check_year_ended,
    )

    check_year(year)
    check_year_ended(year, today())
    check_la(la)
    service = _returns(db_url)
    with _atomic(out_path) as handle, _progress("CIN census", quiet=as_json) as progress:
        summary = service.cin_census(handle, year, la, progress)
    start, end = census_year_bounds(year)
    if as_json:
        _say(json.dumps({
            "file": str(out_path), "year": year, "la": la, "start": start.isoformat(),
            "end": end.isoformat(), "children": summary.children, "episodes": summary.episodes,
            "missing": [{"child": m.child, "item": m.item, "rule": m.rule}
                        for m in summary.missing],
            "notes": [{"child": n.child, "note": n.text} for n in summary.notes],
        }, indent=2))
        ctx.exit(1 if summary.missing else 0)
    _say(f"Wrote {out_path}: CIN census {year - 1}-{year % 100:02d} (1 April {year - 1} to "
         f"31 March {year}), LA {la}: {summary.children} children, "
         f"{summary.episodes} episodes.")
    for title, items in (("Note", summary.notes), ("Problem", summary.missing)):
        for item in items[:20]:
            _say(f"  {title}: {item}")
        if len(items) > 20:
            _say(f"  … and {len(items) - 20} more ({title.lower()}s)")
    if summary.missing:
        _say(f"FAILED: {len(summary.missing)} item(s) the census needs are missing or wrong in "
             "the records, so the file will fail the DfE checks (the schema or the validation "
             "rule named). Correct the records and write the census again.")
        ctx.exit(1)
    _say(f"Check it with: carepath returns validate cin {out_path}")


@returns.command("ssda903")
@click.option("--year", type=int, required=True,
              help="The year the collection ends: 2026 for 1 April 2025 to 31 March 2026.")
@click.option("--la", required=True, metavar="CODE", help="The council's 3-digit DfE LA number.")
@click.option("--out", "out_dir", required=True, metavar="FOLDER",
              type=click.Path(file_okay=False, path_type=Path),
              help="The folder to write the CSV files into (made if missing; its parent must "
                   "exist).")
@_db_option
@_json_option
@click.pass_context
@handle_errors
def ssda903(ctx: click.Context, year: int, la: str, out_dir: Path, db_url: str | None,
            as_json: bool) -> None:
    """Write the SSDA903 return (children looked after) for the year ending 31 March YEAR.

    One CSV file per table (header.csv, episodes.csv, reviews.csv, uasc.csv, oc2.csv, oc3.csv,
    ad1.csv, placed_for_adoption.csv, previous_permanence.csv, missing.csv, sw_episodes.csv),
    with the DfE's columns, from every child with a looked-after record. The year need not have
    ended: an in-year return shows what will fail before the spring collection. Exit 1 when
    items the return needs are missing from the records (listed: the child, the table, the
    item and the DfE rule).
    """
    from carepath.returns.cin_census import check_la
    from carepath.returns.ssda903 import check_year, year_bounds
    from carepath.returns.ssda903_csv import FILE_NAMES

    check_year(year)
    check_la(la)
    folder = out_dir.expanduser()
    if not folder.is_dir():
        if not folder.parent.is_dir():
            raise click.BadParameter(f"the folder {folder.parent} does not exist",
                                     param_hint="--out")
        folder.mkdir()
    service = _returns(db_url)
    with _progress("SSDA903", quiet=as_json) as progress:
        summary = service.ssda903(folder, year, progress)
    start, end = year_bounds(year)
    if as_json:
        _say(json.dumps({
            "folder": str(folder), "year": year, "la": la, "start": start.isoformat(),
            "end": end.isoformat(), "children": summary.children, "rows": summary.rows,
            "files": [FILE_NAMES[t] for t in summary.rows],
            "problems": [{"child": p.child, "table": p.table, "item": p.item, "rule": p.rule}
                         for p in summary.problems],
        }, indent=2))
        ctx.exit(1 if summary.problems else 0)
    _say(f"Wrote {folder}: SSDA903 {year - 1}-{year % 100:02d} (1 April {year - 1} to 31 March "
         f"{year}), LA {la}: {summary.children} children.")
    for table, count in summary.rows.items():
        _say(f"  {FILE_NAMES[table]} ({table}): {count} row(s)")
    for problem in summary.problems[:20]:
        _say(f"  Problem: {problem}")
    if len(summary.problems) > 20:
        _say(f"  … and {len(summary.problems) - 20} more (problems)")
    if summary.problems:
        _say(f"FAILED: {len(summary.problems)} item(s) the return needs are missing or wrong in "
             "the records, so it will fail the DfE checks (the rule named). Correct the records "
             "and write the return again.")
        ctx.exit(1)
    _say(f"Check it with: carepath returns validate ssda903 {folder} --year {year} "
         "--la <the council's ONS code>")


@returns.group("validate")
def validate() -> None:
    """Check a return as the DfE's COLLECT would."""


@validate.command("cin")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--year", type=int, default=None,
              help="The census year (the year the collection ends); default: the file's.")
@_json_option
@click.pass_context
@handle_errors
def validate_cin_command(ctx: click.Context, file: Path, year: int | None,
                         as_json: bool) -> None:
    """Check a CIN census XML FILE: the schema, then the DfE validation rules.

    Prints each failure: type (ERROR or QUERY), rule, child, field, value, message. Exit 1 on a
    schema error, an ERROR or a rule that crashed inside the validator; queries do not fail.
    """
    from carepath.service.returns import ReturnsService

    report = ReturnsService.validate_cin(file, year)
    if as_json:
        _say(json.dumps(report.as_json(), indent=2))
        ctx.exit(1 if report.failed else 0)
    _say(f"{file}: CIN census {report.year - 1}-{report.year % 100:02d}, DfE rules "
         f"{report.ruleset} ({report.rules_run} rules)")
    for schema_error in report.schema_errors:
        _say(f"SCHEMA  {schema_error}")
    for issue in report.all_issues:
        _say(issue.line())
    for rule, error in report.crashed_rules:
        _say(f"CRASHED  {rule}  the rule failed inside the validator and was not checked: "
             f"{error}")
    counts = (f"{len(report.schema_errors)} schema error(s), {len(report.errors)} error(s), "
              f"{len(report.queries)} quer{'y' if len(report.queries) == 1 else 'ies'}, "
              f"{len(report.crashed_rules)} crashed rule(s)")
    _say(("FAILED: " if report.failed else "PASSED: ") + counts)
    ctx.exit(1 if report.failed else 0)


@validate.command("ssda903")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--year", type=int, default=2026, show_default=True,
              help="The collection year (the year it ends: 2026 for 2025-26).")
@click.option("--la", default="E09000001", show_default=True, metavar="ONS_CODE",
              help="The council's ONS upper-tier code (placements in or out of its area).")
@click.option("--strict", is_flag=True,
              help="Fail on the known upstream crashes (231, 233) too.")
@_json_option
@click.pass_context
@handle_errors
def validate_ssda903_command(ctx: click.Context, folder: Path, year: int, la: str,
                             strict: bool, as_json: bool) -> None:
    """Check an SSDA903 return (the CSV files in FOLDER) against the DfE validation rules.

    Prints each failure: rule, child, table, row, fields, message. Exit 1 on any failed rule or
    on a rule that crashed inside the validator, except the known upstream crashes (231, 233 on
    every CSV return) and known conflicts (218 on a short-breaks episode), which are listed
    (with --strict the known crashes fail too).
    """
    from carepath.returns.validate_ssda903 import KNOWN_CONFLICTS, KNOWN_CRASHES, validate_ssda903

    report = validate_ssda903(folder, year, la)
    failed = report.failed_strict if strict else report.failed
    if as_json:
        _say(json.dumps(report.as_json(), indent=2))
        ctx.exit(1 if failed else 0)
    _say(f"{folder}: SSDA903 {year - 1}-{year % 100:02d}, LA {la}, DfE rules {report.ruleset} "
         f"({report.rules_run} rules; {len(report.skipped_rules)} skipped for tables not sent), "
         f"files: {', '.join(report.files)}")
    for issue in report.issues:
        _say(issue.line())
    for rule in report.unexpected_crashes:
        _say(f"CRASHED  {rule}  the rule failed inside the validator and was not checked")
    for rule in report.known_crashes:
        _say(f"CRASHED  {rule}  known upstream crash, not counted: {KNOWN_CRASHES[rule]}")
    for issue in report.known_conflicts:
        _say(f"KNOWN CONFLICT  {issue.rule}  {issue.child}  {issue.table} row {issue.row}  "
             f"not counted: {KNOWN_CONFLICTS[issue.rule]}")
    counts = (f"{len(report.issues)} error(s) in {len(report.rules_failed)} rule(s), "
              f"{len(report.unexpected_crashes)} crashed rule(s), "
              f"{len(report.known_crashes)} known upstream crash(es), "
              f"{len(report.known_conflicts)} known conflict(s)")
    _say(("FAILED: " if failed else "PASSED: ") + counts)
    ctx.exit(1 if failed else 0)


@returns.command("annex-a")
@click.option("--out", "out_path", required=True, metavar="FILE.xlsx",
              type=click.Path(dir_okay=False, path_type=Path), help="Where to write the workbook.")
@click.option("--start", metavar="DATE", help="First day of the period (default: six months "
              "before the end).")
@click.option("--end", metavar="DATE", help="Last day of the period (default: today).")
@click.option("--council", metavar="ONS_CODE",
              help="The council's ONS code (E09000001...): list 8 then says whether each "
                   "placement is in or out of the council's area.")
@_db_option
@_json_option
@click.pass_context
@handle_errors
def annex_a(ctx: click.Context, out_path: Path, start: str | None, end: str | None,
            council: str | None, db_url: str | None, as_json: bool) -> None:
    """Write Ofsted's Annex A lists 3 to 10 as an Excel workbook.

    Lists 3 referrals, 4 assessments, 5 section 47 enquiries, 6 children in need, 7 child
    protection, 8 children looked after, 9 care leavers, 10 adoption, for the period START to
    END (default: the six months up to today). List 8's placement council comes from the
    postcode directory installed with carepath[validators]."""
    from carepath.adapters.postcodes import UnknownCouncil, council_locator, council_name
    from carepath.returns.annex_a import LIST_TITLES, default_period

    council_title = None
    if council is not None:
        try:
            council_title = council_name(council)
        except UnknownCouncil as e:
            raise click.BadParameter(str(e), param_hint="--council") from None

    first, last = _parse_day(start, "--start"), _parse_day(end, "--end")
    if first is None or last is None:
        default_first, default_last = default_period(last)
        first, last = first or default_first, last or default_last
    if first > last:
        raise click.BadParameter(f"{first} is after {last}", param_hint="--start")
    service = _returns(db_url)
    with _atomic(out_path) as handle, _progress("Annex A", quiet=as_json) as progress:
        summary = service.annex_a(handle, first, last, progress, council=council_title,
                                  locate=council_locator())
    if as_json:
        _say(json.dumps({"file": str(out_path), "start": first.isoformat(),
                         "end": last.isoformat(), "rows": summary.rows,
                         "missing": [str(m) for m in summary.missing]}, indent=2))
        ctx.exit(1 if summary.missing else 0)
    _say(f"Wrote {out_path}: Annex A, {first.isoformat()} to {last.isoformat()}")
    for name, count in summary.rows.items():
        _say(f"  {name} ({LIST_TITLES[name]}): {count} row(s)")
    if summary.missing:
        for item in summary.missing[:20]:
            _say(f"  Problem: {item}")
        if len(summary.missing) > 20:
            _say(f"  … and {len(summary.missing) - 20} more")
        _say(f"FAILED: {len(summary.missing)} required cell(s) the records cannot fill were left "
             "blank.")
        ctx.exit(1)

