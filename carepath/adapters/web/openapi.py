"""The OpenAPI 3.1 document of the JSON API (served at ``/api/v1/openapi.json``).

Written by hand, next to the routes in :mod:`carepath.adapters.web.views.api`;
``tests/adapters/web/test_api_openapi.py`` fails if a route is missing from it (or it names a
route that does not exist), if it is not valid OpenAPI 3.1, and the API tests check every
response body against the schema documented for it.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: Schema) -> Schema:
    return {"oneOf": [schema, {"type": "null"}]}


def _obj(required: list[str], props: dict[str, Schema], extra: bool = False,
         description: str | None = None) -> Schema:
    out: Schema = {"type": "object", "required": required, "properties": props,
                   "additionalProperties": extra}
    if description:
        out["description"] = description
    return out


STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
BOOL: Schema = {"type": "boolean"}
DATE: Schema = {"type": "string", "format": "date"}
MOMENT: Schema = {"type": "string", "format": "date-time"}
VERSION: Schema = {"type": "integer", "minimum": 0,
                   "description": "The case version (also the ETag, in quotes)."}


def _task(extra: dict[str, Schema] | None = None) -> Schema:
    props: dict[str, Schema] = {
        "id": INT, "case_id": INT, "la_child_id": STR, "title": STR,
        "form": _nullable(STR), "role": _nullable(STR), "assignee": _nullable(STR),
        "due": _nullable(DATE), "overdue": BOOL,
        "status": {"type": "string", "description": "ready, completed or cancelled"},
        "process": {"type": "string", "description": "The process (stage) id"},
        "due_this_week": {"type": "boolean", "description": "In the inbox only"},
    }
    props.update(extra or {})
    return _obj(["id", "case_id", "la_child_id", "title", "form", "role", "assignee", "due",
                 "overdue", "status", "process"], props)


FIELD_TYPES = ["text", "textarea", "date", "number", "yesno", "choice", "multichoice",
               "group"]

SCHEMAS: dict[str, Schema] = {
    "Problem": _obj(
        ["type", "title", "status", "detail"],
        {"type": STR, "title": STR, "status": INT, "detail": STR,
         "errors": {"type": "array", "items": _ref("FieldError"),
                    "description": "422 (and a bad query): every answer refused"},
         "version": {**VERSION, "description": "409: the case version now"},
         "case_id": INT},
        extra=True,
        description="RFC 9457 problem details (application/problem+json). Never repeats "
                    "the values sent."),
    "FieldError": _obj(["field", "message"], {
        "field": {"type": "string",
                  "description": "The field's name; 'group.0.name' in a group's row; "
                                 "'child.x' or 'referral.x' when opening a case"},
        "message": STR}),
    "User": _obj(["name", "display_name", "roles", "teams", "active"], {
        "name": STR, "display_name": STR,
        "roles": {"type": "array", "items": STR}, "teams": {"type": "array", "items": STR},
        "active": BOOL}),
    "Task": _task(),
    "TaskPage": _obj(["tasks", "total", "page", "per_page", "pages"], {
        "tasks": {"type": "array", "items": _ref("Task")}, "total": INT, "page": INT,
        "per_page": INT, "pages": INT}),
    "Option": _obj(["value", "label"], {"value": STR, "label": STR}),
    "FormField": _obj(
        ["name", "type", "label", "required", "options", "fields"],
        {"name": STR, "type": {"type": "string", "enum": FIELD_TYPES}, "label": STR,
         "hint": _nullable(STR), "guidance": _nullable(STR), "required": BOOL,
         "show_if": {**_nullable(STR),
                     "description": "Asked only when this expression (over the form's other "
                                    "answers and the case record) is true"},
         "min": _nullable({"type": "number"}), "max": _nullable({"type": "number"}),
         "not_future": BOOL, "not_before": _nullable(STR), "same_as": _nullable(STR),
         "record": _nullable(STR), "codelist": _nullable(STR),
         "options": {"type": "array", "items": _ref("Option")},
         "fields": {"type": "array", "items": _ref("FormField"),
                    "description": "The questions of each row of a group"}},
        description="One question. Answers: text/textarea/choice a string, date an ISO date "
                    "string, number a number, yesno true or false, multichoice a list of "
                    "option values, group a list of objects (one per row)."),
    "Form": _obj(["id", "title", "guidance", "fields"], {
        "id": STR, "title": STR, "guidance": _nullable(STR),
        "fields": {"type": "array", "items": _ref("FormField")}}),
    "TaskDetail": _obj(["task", "version", "form"], {
        "task": _ref("Task"), "version": VERSION, "form": _nullable(_ref("Form"))}),
    "CompleteTask": _obj(["values"], {
        "values": {"type": "object", "description": "Field name to answer (see FormField)"},
        "version": VERSION}),
    "Completion": _obj(["completed", "opened"], {
        "completed": INT, "opened": {"type": "array", "items": _ref("Task")}}),
    "HistoryEntry": _obj(["seq", "at", "actor", "kind"],
                         {"seq": INT, "at": MOMENT, "actor": STR, "kind": STR}, extra=True),
    "Case": _obj(["case_id", "pack", "worker", "team", "version", "record", "open_tasks",
                  "history"], {
        "case_id": INT, "pack": {"type": "string", "description": "name@version"},
        "worker": _nullable(STR), "team": _nullable(STR), "version": VERSION,
        "record": {"type": "object", "description": "The record in the story format"},
        "open_tasks": {"type": "array", "items": _ref("Task")},
        "history": {"type": "array", "items": _ref("HistoryEntry")}}),
    "ChronologyEntry": _obj(["seq", "at", "actor", "kind", "summary", "significant",
                             "details"], {
        "seq": INT, "at": MOMENT, "actor": STR, "kind": STR, "summary": STR,
        "significant": BOOL, "details": {"type": "array", "items": STR}}),
    "Chronology": _obj(["case_id", "show", "entries"], {
        "case_id": INT, "show": _nullable(STR),
        "entries": {"type": "array", "items": _ref("ChronologyEntry")}}),
    "Action": _obj(["name", "title", "role", "changes"], {
        "name": STR, "title": STR, "role": STR,
        "changes": {**_nullable(STR),
                    "description": "'worker' for a change of allocated worker (data: "
                                   "{\"worker\": NAME})"}}),
    "ActionList": _obj(["case_id", "version", "actions"], {
        "case_id": INT, "version": VERSION,
        "actions": {"type": "array", "items": _ref("Action")}}),
    "TakeAction": _obj([], {
        "data": {"type": "object",
                 "description": "Answers for the first task the action opens, completed "
                                "with it; {\"worker\": NAME} for a change of worker"},
        "version": VERSION}),
    "ActionTaken": _obj(["completed", "case_id", "action", "title", "opened"], {
        "completed": {"type": "null"}, "case_id": INT, "action": STR, "title": STR,
        "opened": {"type": "array", "items": _ref("Task")}}),
    "OpenCase": _obj(["pack", "child", "referral"], {
        "pack": STR,
        "child": {"type": "object", "description": "The intake form 'child' (la_child_id, "
                                                   "birth_date, sex, ethnicity…)"},
        "referral": {"type": "object", "description": "The intake form 'referral' (date, "
                                                      "source…)"},
        "team": {"type": "string", "description": "One of your teams (default: the first)"}}),
    "OpenedCase": _obj(["case_id", "open_tasks"], {
        "case_id": INT, "open_tasks": {"type": "array", "items": _ref("Task")}}),
    "SkippedDay": _obj(["date", "reason", "kind"], {"date": DATE, "reason": STR, "kind": STR}),
    "DueExplanation": _obj(
        ["timescale", "title", "rule", "counted_from", "due", "skipped", "explained", "text"],
        {"timescale": STR, "title": STR, "rule": STR, "kind": STR,
         "amount": _nullable(INT), "expression": _nullable(STR), "branch": _nullable(STR),
         "counted_from": _nullable(DATE), "from_item": _nullable(STR),
         "from_description": _nullable(STR), "due": _nullable(DATE),
         "skipped": {"type": "array", "items": _ref("SkippedDay")}, "explained": BOOL,
         "note": _nullable(STR), "text": {"type": "array", "items": STR}}),
    "Due": _obj(["task_id", "due", "explanation"], {
        "task_id": INT, "due": _nullable(DATE),
        "explanation": {**_nullable(_ref("DueExplanation")),
                        "description": "null when the task has no timescale"}}),
    "PackVersion": _obj(["name", "version", "title", "source", "current", "pinned", "running"], {
        "name": STR, "version": STR, "title": STR,
        "source": {"type": "string", "description": "Where it comes from: a distribution or "
                                                    "a directory; empty when not installed"},
        "current": {"type": "boolean", "description": "New referrals of the pack use it"},
        "pinned": {"type": "boolean", "description": "Pinned for new referrals (carepath "
                                                     "pack use)"},
        "running": {**_nullable(INT), "description": "Running process instances on it"}}),
    "PackVersions": _obj(["packs"], {
        "packs": {"type": "array", "items": _ref("PackVersion"),
                  "description": "Every installed version (newest of each pack first), then "
                                 "versions no longer installed that cases still run on"}}),
    "DryRun": _obj(["to"], {
        "to": {"type": "string", "description": "The pack version to move cases to "
                                                "(NAME@VERSION)"},
        "all": {"type": "boolean", "const": True,
                "description": "Every case with running work"},
        "from": {"type": "string", "description": "The cases running on this pack (NAME or "
                                                  "NAME@VERSION)"},
        "case_ids": {"type": "array", "items": {"type": "integer", "minimum": 0},
                     "minItems": 1, "maxItems": 10000, "description": "These cases"}},
        description="Exactly one of all, from and case_ids."),
    "MoveTask": _obj(["title", "due", "process", "task"], {
        "title": STR, "due": _nullable(DATE), "process": STR, "task": STR}),
    "CaseMove": _obj(
        ["case_id", "from", "strategy", "status", "reason", "tasks_before", "tasks_after",
         "unrecorded"],
        {"case_id": INT, "from": {"type": "string", "description": "name@version"},
         "strategy": {"type": "string", "enum": ["instance", "replay"],
                      "description": "instance: moved in place (a version of the same "
                                     "pack); replay: rebuilt from the record (another pack)"},
         "status": {"type": "string", "enum": ["moved", "would_move", "refused", "unchanged"]},
         "reason": _nullable(STR),
         "tasks_before": {"type": "array", "items": _ref("MoveTask")},
         "tasks_after": {"type": "array", "items": _ref("MoveTask")},
         "unrecorded": {"type": "array", "items": STR,
                        "description": "Record items the new pack could not carry on with"}}),
    "MigrationReport": _obj(["run_id", "to", "dry_run", "cases", "moved", "refused"], {
        "run_id": {**_nullable(STR), "description": "null for a dry run"},
        "to": STR, "dry_run": BOOL, "cases": {"type": "array", "items": _ref("CaseMove")},
        "moved": {"type": "integer", "description": "Cases moved (or that would move)"},
        "refused": INT},
        description="The report of carepath migrate --json"),
}

PROBLEMS = {
    "400": "Bad request: not JSON, or a member missing or of the wrong type",
    "401": "No bearer token, or one not valid",
    "403": "You may not do this (the task's role, someone else's task, an administrator's "
           "route)",
    "404": "No such case or task, or one you may not see",
    "409": "The case changed since you read it (the body's version is the case version "
           "now), or the task or action cannot be done now",
    "415": "The body is not application/json",
    "422": "Answers refused, or a pack version that cannot be used: errors lists each field",
    "428": "No version: send If-Match: \"VERSION\" or \"version\" in the body",
}


def _problems(*codes: str) -> dict[str, Any]:
    return {code: {"$ref": f"#/components/responses/Problem{code}"} for code in codes}


def _json(schema: Schema, description: str, etag: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description,
                           "content": {"application/json": {"schema": schema}}}
    if etag:
        out["headers"] = {"ETag": {"description": "The case version in quotes: send it back "
                                                  "as If-Match",
                                   "schema": {"type": "string"}}}
    return out


def _path_id(name: str, what: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "description": what,
            "schema": {"type": "integer", "minimum": 0}}


def _query(name: str, description: str, schema: Schema | None = None) -> Schema:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or STR}


IF_MATCH = {"name": "If-Match", "in": "header", "required": False,
            "description": "The case version you read, as its ETag (\"12\"); or send "
                           "\"version\" in the body",
            "schema": {"type": "string"}}
TASK_ID = _path_id("task_id", "The task")
CASE_ID = _path_id("case_id", "The case")
READ = ("400", "401", "404")
WRITE = ("400", "401", "403", "404", "409", "415", "422", "428")


def _body(name: str, required: bool = True) -> dict[str, Any]:
    return {"required": required,
            "content": {"application/json": {"schema": _ref(name)}}}


def _op(op_id: str, summary: str, ok: dict[str, Any], problems: tuple[str, ...],
        status: str = "200", **more: Any) -> dict[str, Any]:
    return {"operationId": op_id, "summary": summary,
            "responses": {status: ok, **_problems(*problems)}, **more}


PATHS: dict[str, Any] = {
    "/openapi.json": {"get": {
        "operationId": "openapi", "summary": "This document", "security": [],
        "responses": {"200": {"description": "The OpenAPI 3.1 document",
                              "content": {"application/json": {"schema": {
                                  "type": "object"}}}}}}},
    "/me": {"get": _op("me", "Who the token belongs to", _json(_ref("User"), "You"),
                       ("401",))},
    "/tasks": {"get": _op(
        "inbox", "The inbox: ready tasks, soonest due first",
        _json(_ref("TaskPage"), "One page of tasks"), ("400", "401"),
        parameters=[
            _query("scope", "mine (assigned to you) or team (your teams' cases)",
                   {"type": "string", "enum": ["mine", "team"], "default": "mine"}),
            _query("stage", "Only tasks of this process id"),
            _query("child", "Only this LA child ID (or its beginning)"),
            _query("worker", "Only tasks assigned to this person"),
            _query("page", "From 1", {"type": "integer", "minimum": 1, "default": 1}),
            _query("per_page", "1 to 100",
                   {"type": "integer", "minimum": 1, "maximum": 100, "default": 25})])},
    "/tasks/{task_id}": {"get": _op(
        "task", "A task, its form's questions and the case version",
        _json(_ref("TaskDetail"), "The task", etag=True), READ, parameters=[TASK_ID])},
    "/tasks/{task_id}/complete": {"post": _op(
        "complete_task", "Complete a task with answers",
        _json(_ref("Completion"), "Completed; the tasks it opened"), WRITE,
        parameters=[TASK_ID, IF_MATCH], requestBody=_body("CompleteTask"))},
    "/tasks/{task_id}/claim": {"post": _op(
        "claim_task", "Take a team task: it becomes yours",
        _json(_ref("Task"), "The task, now yours"), ("401", "403", "404", "409"),
        parameters=[TASK_ID])},
    "/tasks/{task_id}/due": {"get": _op(
        "why_due", "Why the task is due when it is",
        _json(_ref("Due"), "The explanation"), READ, parameters=[TASK_ID])},
    "/cases": {"post": _op(
        "open_case", "Record a referral: a new case (or a new episode of a child's case)",
        {**_json(_ref("OpenedCase"), "Recorded"),
         "headers": {"Location": {"description": "The case", "schema": STR}}},
        ("400", "401", "403", "415", "422"), status="201", requestBody=_body("OpenCase"))},
    "/cases/{case_id}": {"get": _op(
        "case", "The case file: record, open tasks, history (the view is audited)",
        _json(_ref("Case"), "The case", etag=True), READ, parameters=[CASE_ID])},
    "/cases/{case_id}/chronology": {"get": _op(
        "chronology", "The case's events in words, newest first",
        _json(_ref("Chronology"), "The chronology"), READ,
        parameters=[CASE_ID, _query("show", "all, significant, record, tasks or access "
                                            "(default: all but bookkeeping)",
                                    {"type": "string", "enum": ["all", "significant",
                                                                "record", "tasks",
                                                                "access"]})])},
    "/cases/{case_id}/actions": {"get": _op(
        "actions", "The actions you may take on the case now",
        _json(_ref("ActionList"), "The actions", etag=True), READ, parameters=[CASE_ID])},
    "/cases/{case_id}/actions/{name}": {"post": _op(
        "act", "Take an action: start its process on the case now",
        _json(_ref("ActionTaken"), "Taken; the tasks it opened"), WRITE,
        parameters=[CASE_ID, {"name": "name", "in": "path", "required": True,
                              "description": "The action's name", "schema": STR}, IF_MATCH],
        requestBody=_body("TakeAction", required=False))},
    "/packs": {"get": _op(
        "packs", "Every installed pack version: running instances, which one new referrals "
        "use, pins (administrators)",
        _json(_ref("PackVersions"), "The versions"), ("401", "403"))},
    "/migrations/dry-run": {"post": _op(
        "migration_dry_run", "What moving cases to a pack version would do, case by case; "
        "changes nothing (administrators)",
        _json(_ref("MigrationReport"), "The dry run's report"),
        ("400", "401", "403", "415", "422"), requestBody=_body("DryRun"))},
}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "carepath API", "version": "1",
                 "description": "Cases, tasks, actions, the record and the chronology for "
                                "vendors' integrations. See docs/api.md."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}],
        "paths": PATHS,
        "components": {
            "securitySchemes": {"bearerAuth": {
                "type": "http", "scheme": "bearer",
                "description": "carepath token create USER"}},
            "schemas": SCHEMAS,
            "responses": {
                f"Problem{code}": {"description": text, "content": {
                    "application/problem+json": {"schema": _ref("Problem")}}}
                for code, text in PROBLEMS.items()},
        },
    }
