"""Check a CIN census XML file as the DfE's COLLECT would: the schema, then the DfE rules.

The rules are the ones coded by Data to Insight / Social Finance in ``csc-validator-be-cin``
(PyPI, import ``cin_validator``), pinned at 0.1.13: the optional extra
``pip install 'carepath[validators]'``. The census year ending 31 March ``year`` uses the ruleset
``cin{year-1}_{yy}`` (2026 -> ``cin2025_26``). The package's Python API is used, not its command
line (which always exits 0 and imports pytest).

Two quirks of that package are handled here:

* a rule that raises inside the validator is only ``print()``-ed and then counted as passed; the
  output is captured and such rules come back in ``crashed_rules``, never as passes;
* rule 2887Q (return level, QUERY) fires on any return with seven or fewer ``NONE`` disability
  rows; it is reported like any other query, and a query never makes a return fail.

The schema check uses the copy of the CIN XSD shipped in ``schema/`` (a re-creation of the DfE
schema by Social Finance); its errors come back in ``schema_errors`` with their line numbers. The
rules are run on a file that fails the schema too, so every problem is listed at once.
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from lxml import etree

from carepath.returns import ReturnError, load_rules

SCHEMA_DIR = Path(__file__).resolve().parent / "schema"
SCHEMA_2026 = SCHEMA_DIR / "CIN_schema_2026.xsd"
INSTALL_HINT = ("The DfE validation rules are not installed: pip install 'carepath[validators]' "
                "(on Python 3.11: they need pandas 1.x, which does not install on 3.12 or later)")
_CRASH = re.compile(r"^Error with rule (\S+?):\s*(.*)$")
_BLANK_VALUES = {"", "nan", "NaN", "NaT", "None", "<NA>"}

IssueType = Literal["ERROR", "QUERY"]


class NotACensusFile(ReturnError):
    """The file cannot be read, is not XML, or is not shaped like a CIN census return."""


@dataclass(frozen=True)
class Issue:
    """One failed rule at one place. ``child``, ``field`` (``Table.Column``) and ``value`` are
    None for a return-level issue."""

    type: IssueType
    rule: str
    child: str | None
    field: str | None
    value: str | None
    message: str

    def line(self) -> str:
        where = self.child if self.child is not None else "(return)"
        parts = [self.type, self.rule, where]
        if self.field is not None:
            parts.append(self.field)
        if self.value is not None:
            parts.append(repr(self.value))
        return "  ".join(parts) + "  " + self.message


@dataclass(frozen=True)
class SchemaError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class ValidationReport:
    file: str
    year: int
    ruleset: str
    issues: list[Issue] = field(default_factory=list)  # child-level
    crashed_rules: list[tuple[str, str]] = field(default_factory=list)  # (rule, error)
    return_level: list[Issue] = field(default_factory=list)  # header and LA-level
    rules_run: int = 0
    schema_errors: list[SchemaError] = field(default_factory=list)

    @property
    def all_issues(self) -> list[Issue]:
        return [*self.issues, *self.return_level]

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.all_issues if i.type == "ERROR"]

    @property
    def queries(self) -> list[Issue]:
        return [i for i in self.all_issues if i.type == "QUERY"]

    @property
    def failed(self) -> bool:
        """True when COLLECT would not accept the return: a schema error, an ERROR-type rule
        failed, or a rule crashed (so it was never really checked). Queries do not fail it."""
        return bool(self.schema_errors or self.errors or self.crashed_rules)

    def rules_failed(self, kind: IssueType) -> list[str]:
        return sorted({i.rule for i in self.all_issues if i.type == kind})

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "year": self.year,
            "ruleset": self.ruleset,
            "rules_run": self.rules_run,
            "failed": self.failed,
            "errors": len(self.errors),
            "queries": len(self.queries),
            "error_rules": self.rules_failed("ERROR"),
            "query_rules": self.rules_failed("QUERY"),
            "schema_errors": [asdict(e) for e in self.schema_errors],
            "crashed_rules": [{"rule": r, "error": e} for r, e in self.crashed_rules],
            "issues": [asdict(i) for i in self.issues],
            "return_level": [asdict(i) for i in self.return_level],
        }


def ruleset_for_year(year: int) -> str:
    """The validator's ruleset for the census year ending 31 March ``year``."""
    return f"cin{year - 1}_{year % 100:02d}"


def schema_for_year(year: int) -> Path | None:
    """The XSD for the census year, or None when carepath ships none for it. The 2025-26 schema
    also serves 2024-25 (same elements; only a code's wording differs) and 2026-27 (whose new
    module is optional)."""
    return SCHEMA_2026 if 2025 <= year <= 2027 else None


def check_schema(path: Path | str, schema: Path = SCHEMA_2026) -> list[SchemaError]:
    """Schema errors of the XML file at ``path`` (empty when it is valid)."""
    xsd = etree.XMLSchema(etree.parse(str(schema)))
    try:
        doc = etree.parse(str(path))
    except OSError as exc:
        raise NotACensusFile(f"Cannot read {path}: {exc}") from None
    except etree.XMLSyntaxError as exc:
        raise NotACensusFile(f"{path} is not well-formed XML: {exc}") from None
    if xsd.validate(doc):
        return []
    return [SchemaError(e.line, e.message) for e in xsd.error_log]


def file_year(path: Path | str) -> int | None:
    """The census year written in the file's header (``Year``, else the reference date's)."""
    return _year_in(_parse(path))


def _year_in(root: ET.Element) -> int | None:
    for tag in ("Header/CollectionDetails/Year", "Header/CollectionDetails/ReferenceDate"):
        text = (root.findtext(tag) or "").strip()
        if re.fullmatch(r"\d{4}(-\d\d-\d\d)?", text):
            return int(text[:4])
    return None


def _parse(path: Path | str) -> ET.Element:
    try:
        return ET.parse(str(path)).getroot()
    except OSError as exc:
        raise NotACensusFile(f"Cannot read {path}: {exc.strerror or exc}") from None
    except ET.ParseError as exc:
        raise NotACensusFile(f"{path} is not well-formed XML: {exc}") from None


def _load_validator(ruleset: str) -> tuple[Any, dict[str, Any]]:
    try:
        cin_validator, module = load_rules("cin_validator", ruleset, INSTALL_HINT)
    except ModuleNotFoundError:
        import cin_validator.rules as rules

        known = sorted(p.name for p in Path(rules.__file__).parent.iterdir()
                       if p.is_dir() and p.name.startswith("cin"))
        raise ReturnError(
            f"The installed DfE rules have no ruleset {ruleset} for that census year "
            f"(they have {', '.join(known)})"
        ) from None
    return cin_validator, dict(module.registry)


def validate_cin(path: Path | str, year: int | None = None) -> ValidationReport:
    """Check the CIN census XML file at ``path`` against the schema and the DfE rules for the
    census year ending 31 March ``year`` (default: the year in the file's header).

    Raises :class:`NotACensusFile` when the file cannot be read or is not a CIN census return,
    and :class:`ReturnError` when the rules are not installed or have no ruleset for the year.
    """
    root = _parse(path)
    if root.tag != "Message" or root.find("Children") is None or root.find("Header") is None:
        raise NotACensusFile(
            f"{path} is not a CIN census return: it needs a <Message> with a <Header> and "
            "<Children> (and no XML namespace)"
        )
    if year is None:
        year = _year_in(root)
        if year is None:
            raise NotACensusFile(f"{path} does not say its census year (Header/CollectionDetails/"
                                 "Year): give the year")
    ruleset = ruleset_for_year(year)
    cin_validator, registry = _load_validator(ruleset)

    report = ValidationReport(file=str(path), year=year, ruleset=ruleset, rules_run=len(registry))
    schema = schema_for_year(year)
    if schema is not None:
        report.schema_errors = check_schema(path, schema)

    captured = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(captured):
            warnings.simplefilter("ignore")
            data = cin_validator.process_data(cin_validator.convert_data(root))
            result = cin_validator.CinValidator(data, registry)
    except Exception as exc:  # the package's ingest fails on files far from the census shape
        raise NotACensusFile(
            f"{path} could not be read as a CIN census return by the DfE rules: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    for line in captured.getvalue().splitlines():
        match = _CRASH.match(line.strip())
        if match:
            report.crashed_rules.append((match.group(1), match.group(2)))

    def rule_type(code: Any) -> IssueType:
        rule = registry.get(str(code))
        name = getattr(getattr(rule, "rule_type", None), "name", "ERROR")
        return "QUERY" if name == "QUERY" else "ERROR"

    header_rules: set[str] = set()
    seen: set[tuple[Any, ...]] = set()
    user_report = result.user_report
    if user_report is not None and len(user_report):
        for row in user_report.to_dict("records"):
            code = str(row["rule_code"])
            table = _text(row.get("tables_affected"))
            column = _text(row.get("columns_affected"))
            issue = Issue(
                type=rule_type(code),
                rule=code,
                child=_text(row.get("LAchildID")),
                field=f"{table}.{column}" if table and column else None,
                value=_text(row.get("value_flagged")),
                message=str(row["rule_description"]),
            )
            key = (issue.rule, issue.child, issue.field, _text(row.get("ROW_ID")))
            if key in seen:
                continue
            seen.add(key)
            if table == "Header":
                header_rules.add(code)
                report.return_level.append(replace_child(issue, None))
            else:
                report.issues.append(issue)
    multichild = result.multichild_issues
    if multichild is not None and len(multichild):
        for row in multichild.drop_duplicates().to_dict("records"):
            code = str(row["rule_code"])
            if code in header_rules:
                continue
            header_rules.add(code)
            report.return_level.append(
                Issue(rule_type(code), code, None, None, None, str(row["rule_description"]))
            )
    report.issues.sort(key=lambda i: (i.type != "ERROR", i.child or "", i.rule))
    report.return_level.sort(key=lambda i: (i.type != "ERROR", i.rule))
    return report


def replace_child(issue: Issue, child: str | None) -> Issue:
    return Issue(issue.type, issue.rule, child, issue.field, issue.value, issue.message)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return None if text.strip() in _BLANK_VALUES else text
