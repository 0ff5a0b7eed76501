"""Lint: what a pack gets wrong before any record is made.

* every user task has a form and a role the pack lists (``build_pack`` refuses packs without;
  checked again here, so a pack built any other way is held to the same rules);
* no script tasks (refused when BPMN is loaded; checked again in the pack's BPMN);
* every name a gateway condition reads is an answer of a form completed on every path to the
  gateway, in the same run of the process ("'outcome' may be undefined at gateway …");
* every gateway can be left, and every parallel branch reaches its join;
* every code a form offers or gives as an example is in its code list, and every literal a
  condition or ``show_if`` compares an answer with is one of that question's options;
* every timescale a task is due by counts from record dates set before the task opens, on every
  path (:class:`TimescaleLint`);
* forms no task uses, and tasks no path reaches (warnings).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from typing import Any

from carepath.core.record_items import CONTEXT_DATES, RECORD_ITEMS
from carepath.engine.check.paths import (
    Branch,
    EndKind,
    Notice,
    PathSet,
    Trail,
    compiled,
    concurrent_branches,
    route,
    task_titles,
)
from carepath.engine.check.report import Finding, Findings, Severity
from carepath.engine.check.symbolic import SET, UNKNOWN, evaluate
from carepath.engine.pack import Pack
from carepath.forms.schema import Field, FieldType

_SCRIPT = re.compile(rb"<([A-Za-z_][\w.-]*:)?scriptTask\b")
_LEVEL = {"sure": 3, "optional": 2, "unsure": 1}
# Record dates set when the case is opened (the referral and the child's details).
_OPENING = frozenset({"referral.date", "child.birth_date", "child.expected_birth_date"})
# Context names read from another item: the last review is the latest `cp_plan.review`.
_SOURCE = {"cp_plan.last_review": "cp_plan.review", "lac_review.last": "lac_review.date",
           "care_leaver.last_contact": "care_leaver.contact"}
# The looked-after record's dates timescale expressions count from.
_CARE_DATES = frozenset({"care.start", "care.end", "legal_status.start", "placement.start",
                         "lac_review.last", "missing.start", "adoption.decision",
                         "adoption.matched", "care_leaver.last_contact"})
_DATES = CONTEXT_DATES | _CARE_DATES
_READ = frozenset(_SOURCE.get(p, p) for p in _DATES)


# --------------------------------------------------------------------------- timescales


class TimescaleLint:
    """An observer: each task due by a timescale has the record dates the timescale counts
    from set before it opens (by an earlier step, not one running in parallel with it)."""

    def __init__(self, pack: Pack, findings: Findings) -> None:
        self.pack = pack
        self.findings = findings
        paths: set[str] = set()
        for timescale in pack.timescales.items.values():
            if timescale.expression is not None:
                paths |= timescale.expression.paths
            elif timescale.from_path:
                paths.add(timescale.from_path)
        self.read = frozenset(_SOURCE.get(p, p) for p in paths) & _READ

    def begin(self) -> tuple[tuple[str, str, Branch], ...]:
        return ()

    def step(self, dates: tuple[tuple[str, str, Branch], ...], trail: Trail
             ) -> tuple[tuple[str, str, Branch], ...]:
        """``dates``: (item, how surely it is set, the branch of the step that set it)."""
        step = trail.step
        if step.kind != "task":
            return dates
        if step.due:
            self._check(dates, trail)
        out = step.outcome
        settled = not step.branch and any(branch for _, _, branch in dates)
        if not (out.sure or out.optional or out.unsure or settled):
            return dates
        # outside a parallel block, every step before has happened: forget their branches
        known = {item: (level, branch if step.branch else ()) for item, level, branch in dates}
        for item, level in ([(i, "sure") for i in out.sure] + [(i, "optional") for i in
                             out.optional] + [(i, "unsure") for i in out.unsure]):
            namespace, _, name = item.partition(".")
            if name == "start":  # a new one: the dates of the previous one no longer count
                known = {k: v for k, v in known.items() if not k.startswith(namespace + ".")}
            if item in self.read:
                old = known.get(item)
                if old is None or _LEVEL[level] >= _LEVEL[old[0]]:
                    known[item] = (level, step.branch)
        return tuple(sorted((k, v[0], v[1]) for k, v in known.items()))

    def _names(self, dates: Iterable[tuple[str, str, Branch]], trail: Trail
               ) -> dict[str, Any]:
        step = trail.step
        best: dict[str, int] = {}
        for item, level, branch in dates:
            if concurrent_branches(branch, step.branch):
                continue
            best[item] = max(best.get(item, 0), _LEVEL[level])
        names: dict[str, Any] = {}
        for path in _DATES:
            have = best.get(_SOURCE.get(path, path), 0)
            names[path] = SET if path in _OPENING or have == 3 else UNKNOWN if have else None
        return names

    def _check(self, dates: tuple[tuple[str, str, Branch], ...], trail: Trail) -> None:
        step = trail.step
        timescale = self.pack.timescales.items.get(step.due or "")
        if timescale is None:
            return
        names = self._names(dates, trail)
        if timescale.expression is not None:
            # other record names (lac_review.count) may hold anything here
            value = evaluate(timescale.expression, {
                **dict.fromkeys(timescale.expression.paths, UNKNOWN), **names})
            reads = sorted(p for p in timescale.expression.paths if p in names)
        else:
            value = names.get(timescale.from_path or "")
            reads = [timescale.from_path or ""]
        if value is not None and value is not UNKNOWN:
            return
        missing = [p for p in reads if names.get(p) is None] or \
            [p for p in reads if names.get(p) is UNKNOWN] or reads
        severity: Severity = "error" if value is None else "warning"
        which = "none of which" if len(missing) > 1 else "which"
        how = "is not" if value is None else "may not be"
        self.findings.at(
            severity, "timescale",
            f"timescale '{timescale.name}' counts from {' or '.join(missing)}, {which} {how} "
            f"recorded before task '{step.title}' opens, so the task would have no due date",
            trail, item=missing[0], key=("timescale", timescale.name, step.process, step.node))

    def finish(self, dates: Any, trail: Trail, end: EndKind) -> None:
        return None


# --------------------------------------------------------------------------- notices


def notices(paths: PathSet, findings: Findings) -> None:
    """Findings for what the walk ran into."""
    for n in paths.notices:
        if n.kind == "undefined":
            names = ", ".join(f"'{x}'" for x in n.names)
            message = (f"{names} may be undefined at {n.element} '{n.title}': no form completed on "
                       "this path (in this run of the process) sets "
                       + ("it" if len(n.names) == 1 else "them"))
        elif n.kind == "stuck":
            message = f"no flow can leave gateway '{n.title}' on this path (and it has no default)"
        else:
            message = f"a branch of parallel gateway '{n.title}' ends without reaching its join"
        _at(findings, "error", f"{n.kind}-name" if n.kind == "undefined" else n.kind, message, n)


def _at(findings: Findings, severity: Severity, check: str, message: str, n: Notice) -> None:
    steps = n.trail.steps() if n.trail is not None else ()
    findings.add(Finding(severity, check, message, path=task_titles(steps), route=route(steps),
                         process=n.process, node=n.node, file=n.file, line=n.line),
                 key=(check, n.process, n.node, n.names),
                 length=n.trail.length if n.trail is not None else 0)


# --------------------------------------------------------------------------- structure


def structure(pack: Pack, paths: PathSet, findings: Findings) -> None:
    """Tasks, roles, forms, script tasks, codes and reachability."""
    used: set[str] = set()
    action_starts = {a.start for a in pack.actions.values() if a.start is not None}
    for pid in sorted(pack.library.process_ids()):
        graph = pack.library.graph(pid)
        infos = pack.library.specs(pid).tasks
        for node in graph.nodes.values():
            if node.kind != "task":
                continue
            info = infos.get(node.id)
            where = (pid, node.id, graph.file, node.line)
            if not node.form or node.form not in pack.forms:
                _plain(findings, "error", "task", f"task '{node.title}' has no form the pack "
                       f"defines (form: {node.form or 'none'})", *where)
            else:
                used.add(node.form)
            role = info.role if info is not None else None
            if not role or role not in pack.roles:
                _plain(findings, "error", "task", f"task '{node.title}' has no role the pack "
                       f"lists (role: {role or 'none'})", *where)
            # a process an action starts is reached from the action, which paths do not explore
            # a retired process is kept for instances already running: no new path reaches it
            if not paths.truncated and (pid, node.id) not in paths.reached and \
                    pid not in action_starts and pid not in pack.retired:
                _plain(findings, "warning", "unreachable", f"task '{node.title}' is on no path "
                       "from the start of the pack", *where)
    for pid, (file, xml) in sorted(pack.bpmn.items()):
        if _SCRIPT.search(xml):
            _plain(findings, "error", "script", f"process '{pid}' has a script task: a pack "
                   "cannot run code", process=pid, file=file)
    for form_id in sorted(set(pack.forms) - used):
        form = pack.forms[form_id]
        _plain(findings, "warning", "unused-form", f"form '{form_id}' is not used by any task",
               file=form.file, line=form.line)
    _codes(pack, findings)


def _plain(findings: Findings, severity: Severity, check: str, message: str,
           process: str | None = None, node: str | None = None, file: str | None = None,
           line: int | None = None) -> None:
    findings.add(Finding(severity, check, message, process=process, node=node, file=file,
                         line=line))


def _codes(pack: Pack, findings: Findings) -> None:
    options: dict[str, set[str]] = {}
    for form in pack.forms.values():
        for f in _fields(form.fields):
            if f.type in (FieldType.CHOICE, FieldType.MULTICHOICE) and f.options:
                options.setdefault(f.name, set()).update(o.value for o in f.options)
            if f.type is FieldType.YESNO:
                options.setdefault(f.name, set()).update({"True", "False"})
            _field_codes(pack, form.id, form.file, f, findings)
    for form in pack.forms.values():
        for f in _fields(form.fields):
            if f.show_if is not None:
                _literals(f.show_if.tree.body, options, findings, form.file, f.line,
                          f"show_if of field '{f.name}' in form '{form.id}'")
    for pid in sorted(pack.library.process_ids()):
        graph = pack.library.graph(pid)
        for node in graph.nodes.values():
            for edge in node.outgoing:
                if edge.condition:
                    _literals(compiled(edge.condition).tree.body, options, findings, graph.file,
                              node.line, f"condition '{edge.condition}' of gateway "
                              f"'{node.title}'")


def _fields(fields: Iterable[Field]) -> Iterable[Field]:
    for f in fields:
        yield f
        yield from _fields(f.fields)


def _field_codes(pack: Pack, form_id: str, file: str, f: Field, findings: Findings) -> None:
    codelist = pack.codelists.get(f.codelist) if f.codelist else None
    item = RECORD_ITEMS.get(f.record or "")
    lists = [c for c in (codelist, pack.codelists.get(item.codelist) if item and
                         item.codelist else None) if c is not None]
    examples = f.example if isinstance(f.example, list) else [f.example]
    for codes in lists:
        for value in [o.value for o in f.options] + [e for e in examples if e is not None]:
            if f.type in (FieldType.CHOICE, FieldType.MULTICHOICE) and str(value) not in codes:
                _plain(findings, "error", "code", f"field '{f.name}' of form '{form_id}' uses "
                       f"'{value}', which is not a code of '{codes.id}'", file=file, line=f.line)


def _literals(node: ast.expr, options: dict[str, set[str]], findings: Findings, file: str,
              line: int | None, what: str) -> None:
    for part in ast.walk(node):
        if not isinstance(part, ast.Compare):
            continue
        sides = [part.left, *part.comparators]
        for left, right in zip(sides, sides[1:], strict=False):
            for name, other in ((left, right), (right, left)):
                if not isinstance(name, ast.Name) or name.id not in options:
                    continue
                values = [other] if isinstance(other, ast.Constant) else \
                    list(other.elts) if isinstance(other, ast.List | ast.Tuple | ast.Set) else []
                for value in values:
                    if isinstance(value, ast.Constant) and value.value is not None and \
                            str(value.value) not in options[name.id]:
                        _plain(findings, "error", "code", f"{what} compares '{name.id}' with "
                               f"{value.value!r}, which is not one of its options "
                               f"({', '.join(sorted(options[name.id]))})", file=file, line=line)
