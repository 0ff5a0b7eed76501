"""Showing cases and forms on a terminal, and asking a form's questions one by one."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.table import Table

from carepath.engine.time.clock import today
from carepath.forms.schema import Field, FieldType, Form
from carepath.forms.validation import FormErrors, ValidationContext, validate, visible_fields


def print_case(out: Console, detail: dict[str, Any]) -> None:
    record = detail["record"]
    child = record["child"]
    out.print(f"[bold]Case {detail['case_id']}[/] — LA child ID {child['la_child_id']} — "
              f"pack {detail['pack']}" + (f" — worker {detail['worker']}" if detail.get("worker")
                                          else ""))
    born = child.get("birth_date") or f"expected {child.get('expected_birth_date')}"
    out.print(f"Born {born}; sex {child.get('sex')}; ethnicity {child.get('ethnicity')}; "
              f"disabilities {', '.join(child.get('disabilities') or []) or 'none recorded'}")
    for n, ep in enumerate(record.get("episodes") or [], start=1):
        ref = ep["referral"]
        out.print(f"\n[bold]Episode {n}[/]: referral {ref['date']} (source {ref['source']})"
                  + (" — no further action" if ref.get("nfa") else "")
                  + (f", primary need {ep['primary_need']}" if ep.get("primary_need") else ""))
        for a in ep.get("assessments") or []:
            out.print(f"  Assessment started {a['start']}"
                      + (f", authorised {a['authorised']}, factors "
                         f"{', '.join(a.get('factors') or [])}" if a.get("authorised")
                         else " (open)"))
        for s in ep.get("s47") or []:
            outcome = ("ICPC not required" if s.get("icpc_not_required")
                       else f"ICPC {s['icpc_date']}" if s.get("icpc_date") else "ICPC pending")
            out.print(f"  Section 47 from {s['start']} (ICPC target {s.get('icpc_target')}): "
                      f"{outcome}")
        for p in ep.get("cp_plans") or []:
            out.print(f"  Child protection plan {p['start']} to {p.get('end') or 'now'} "
                      f"({p.get('initial_category')}→{p.get('latest_category')}); reviews "
                      f"{', '.join(map(str, p.get('reviews') or [])) or 'none yet'}")
        for c in ep.get("cin_plans") or []:
            out.print(f"  Child in need plan {c['start']} to {c.get('end') or 'now'}")
        if ep.get("closure"):
            out.print(f"  Closed {ep['closure']['date']} ({ep['closure']['reason']})")
    tasks = detail.get("open_tasks") or []
    if tasks:
        table = Table("Task", "Title", "Role", "Assignee", "Due", title="Open tasks",
                      title_justify="left")
        for t in tasks:
            due = t["due"] or ""
            if t["overdue"]:
                due = f"[bold red]{due} OVERDUE[/]"
            table.add_row(str(t["id"]), t["title"], t["role"] or "", t["assignee"] or "", due)
        out.print(table)
    history = detail.get("history") or []
    if history:
        table = Table("#", "When", "Who", "What", title="History", title_justify="left")
        for e in history:
            table.add_row(str(e["seq"]), e["at"][:16].replace("T", " "), e["actor"],
                          _describe(e))
        out.print(table)


def _describe(event: dict[str, Any]) -> str:
    kind = event["kind"]
    if kind in ("task.opened", "task.completed"):
        return f"{kind.split('.')[1]}: {event.get('title') or event.get('task')}"
    if kind == "record.changed":
        return "recorded " + ", ".join(c["item"] for c in event.get("changes", []))
    if kind.startswith("process."):
        return f"{kind.split('.')[1]} process {event.get('process')}"
    return str(kind)


def form_json(form: Form) -> list[dict[str, Any]]:
    def field_json(f: Field) -> dict[str, Any]:
        return {"name": f.name, "type": f.type.value, "label": f.label, "hint": f.hint,
                "required": f.required, "record": f.record,
                "options": [{"value": o.value, "label": o.label} for o in f.options],
                "fields": [field_json(g) for g in f.fields]}
    return [field_json(f) for f in form.fields]


def print_form(out: Console, form: Form) -> None:
    table = Table("Field", "Question", "Type", "Required", "Recorded as", title=form.title,
                  title_justify="left")
    for f in form.fields:
        kind = f.type.value
        if f.options:
            kind += " (" + ", ".join(o.value for o in f.options[:8]) + \
                ("…" if len(f.options) > 8 else "") + ")"
        table.add_row(f.name, f.label, kind, "yes" if f.required else "",
                      f.record or "")
    out.print(table)


def _ask_field(out: Console, f: Field) -> Any:
    label = f.label + ("" if f.required else " (optional, Enter to skip)")
    if f.hint:
        out.print(f"[dim]{f.hint}[/]")
    if f.type is FieldType.YESNO:
        answer = click.prompt(label + " [yes/no]", default="" if not f.required else None,
                              show_default=False)
        return answer or None
    if f.type in (FieldType.CHOICE, FieldType.MULTICHOICE):
        for n, o in enumerate(f.options, start=1):
            out.print(f"  {n}. {o.label} ({o.value})")
        answer = click.prompt(label + (" (numbers or codes, separated by commas)"
                                       if f.type is FieldType.MULTICHOICE else ""),
                              default="", show_default=False).strip()
        if not answer:
            return None
        picks = [p.strip() for p in answer.split(",") if p.strip()]
        values = []
        for p in picks:
            if p.isdigit() and 1 <= int(p) <= len(f.options) and p not in \
                    {o.value for o in f.options}:
                values.append(f.options[int(p) - 1].value)
            else:
                values.append(p)
        return values if f.type is FieldType.MULTICHOICE else values[0]
    if f.type is FieldType.GROUP:
        count = click.prompt(f"{f.label}: how many?", type=int, default=0)
        rows = []
        for i in range(count):
            out.print(f"{f.label} {i + 1}:")
            rows.append({g.name: _ask_field(out, g) for g in f.fields})
        return rows
    hint = " (YYYY-MM-DD)" if f.type is FieldType.DATE else ""
    answer = click.prompt(label + hint, default="", show_default=False).strip()
    return answer or None


def ask_form(out: Console, form: Form) -> dict[str, Any]:
    """Ask each visible question; on mistakes, show them and ask those again."""
    if form.guidance:
        out.print(form.guidance.strip())
    ctx = ValidationContext(today=today())
    values: dict[str, Any] = {}
    for f in form.fields:
        if f not in visible_fields(form, values, ctx):
            continue
        values[f.name] = _ask_field(out, f)
    while True:
        try:
            validate(form, {k: v for k, v in values.items() if v is not None}, ctx)
            return {k: v for k, v in values.items() if v is not None}
        except FormErrors as exc:
            out.print("[bold red]There is a problem:[/]")
            for e in exc.errors:
                out.print(f"  {e.message}")
            for e in exc.errors:
                name = e.field.split(".")[0]
                field = next((f for f in form.fields if f.name == name), None)
                if field is None:
                    values.pop(name, None)
                    continue
                values[name] = _ask_field(out, field)


