"""``carepath pack diff``: what changed between two pack versions (processes, tasks, forms,
fields, record mappings, timescales), read before moving live cases onto the new one."""

from __future__ import annotations

from dataclasses import dataclass

from carepath.engine.pack import Pack
from carepath.service.types import JsonObject


def _pack_outline(pack: Pack) -> dict[str, dict[str, str]]:
    """What a pack diff compares, each part as key -> a description."""
    processes: dict[str, str] = {}
    tasks: dict[str, str] = {}
    for pid in sorted(pack.bpmn):
        specs = pack.specs(pid)
        processes[pid] = specs.title
        for t in specs.tasks.values():
            tasks[f"{pid}.{t.bpmn_id}"] = (f"{t.title} (form {t.form or '-'}, role "
                                           f"{t.role or '-'}, due {t.due or '-'})")
    forms: dict[str, str] = {}
    fields: dict[str, str] = {}
    mappings: dict[str, str] = {}
    for form_id, form in sorted(pack.forms.items()):
        forms[form_id] = form.title
        for f in form.fields:
            fields[f"{form_id}.{f.name}"] = f"{f.type.value if hasattr(f.type, 'value') else f.type}"
            record = getattr(f, "record", None)
            if record:
                mappings[f"{form_id}.{f.name}"] = str(record)
    timescales = {name: f"{t.title} ({t.kind}, {t.amount}, from {t.from_path})"
                  for name, t in pack.timescales.items.items()}
    return {"processes": processes, "tasks": tasks, "forms": forms, "fields": fields,
            "record mappings": mappings, "timescales": timescales}


@dataclass(frozen=True)
class DiffLine:
    part: str
    change: str  # added, removed, changed
    key: str
    before: str | None
    after: str | None

    def as_json(self) -> JsonObject:
        return {"part": self.part, "change": self.change, "key": self.key,
                "before": self.before, "after": self.after}


def pack_diff(old: Pack, new: Pack) -> list[DiffLine]:
    """What changed from ``old`` to ``new``: processes, tasks, forms, fields, record mappings,
    timescales."""
    a, b = _pack_outline(old), _pack_outline(new)
    lines = []
    for part in a:
        for key in sorted(set(a[part]) | set(b[part])):
            before, after = a[part].get(key), b[part].get(key)
            if before == after:
                continue
            change = "added" if before is None else "removed" if after is None else "changed"
            lines.append(DiffLine(part, change, key, before, after))
    return lines
