"""Which BPMN elements carepath runs, and refusing every other one before Spiff sees it.

A pack cannot run code, call services or send messages, so a process may hold only the flow
nodes in :data:`NODE_KINDS`, the parts in :data:`ALLOWED_PARTS` and spiffworkflow properties.
Everything else is refused with a :class:`PackError` naming the file and line; for the common
elements, :data:`REFUSED` says why and what to use instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree

from carepath.core.errors import PackError

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"

# Flow node tag -> the kind carepath calls it (also GraphNode.kind).
NODE_KINDS = {
    "startEvent": "start",
    "endEvent": "end",
    "userTask": "task",
    "exclusiveGateway": "exclusive",
    "parallelGateway": "parallel",
    "callActivity": "call",
    "intermediateCatchEvent": "timer",
    "boundaryEvent": "boundary_timer",
}
# Other BPMN elements allowed inside a process (structure, labels, lanes, timers).
ALLOWED_PARTS = {
    "sequenceFlow", "conditionExpression", "incoming", "outgoing", "documentation",
    "extensionElements", "laneSet", "lane", "childLaneSet", "flowNodeRef", "textAnnotation",
    "text", "association", "timerEventDefinition", "timeDuration", "timeDate", "timeCycle",
}
REFUSED = {
    "scriptTask": "script tasks are not allowed: a pack cannot run code",
    "serviceTask": "service tasks are not allowed: a pack cannot call services",
    "manualTask": "manual tasks are not supported: use a userTask with a form",
    "businessRuleTask": "business rule tasks (DMN) are not supported: use an exclusive gateway",
    "sendTask": "send tasks are not supported (no messages)",
    "receiveTask": "receive tasks are not supported (no messages)",
    "task": "plain tasks are not supported: use a userTask with a form and role",
    "subProcess": "embedded subprocesses are not supported: use a callActivity",
    "transaction": "transactions are not supported",
    "adHocSubProcess": "ad hoc subprocesses are not supported",
    "inclusiveGateway": "inclusive gateways are not supported: use exclusive or parallel",
    "eventBasedGateway": "event-based gateways are not supported",
    "complexGateway": "complex gateways are not supported",
    "intermediateThrowEvent": "throw events are not supported",
    "standardLoopCharacteristics": "loop tasks are not supported: start a new process instead",
    "multiInstanceLoopCharacteristics": "multi-instance tasks are not supported",
    "dataObject": "data objects are not supported: forms write to the case record",
    "dataObjectReference": "data objects are not supported: forms write to the case record",
    "dataStoreReference": "data stores are not supported",
    "ioSpecification": "data inputs and outputs are not supported",
    "dataInputAssociation": "data associations are not supported",
    "dataOutputAssociation": "data associations are not supported",
    "potentialOwner": "potentialOwner is not read: give the task a 'role' property",
    "humanPerformer": "humanPerformer is not read: give the task a 'role' property",
}
# Top-level children of bpmn:definitions we accept; anything else (messages, signals,
# collaborations/pools, data stores...) is a feature carepath does not support.
ALLOWED_TOP = {"process", "documentation", "extensionElements"}
SPIFF_ALLOWED = {"properties", "property"}
SPIFF_REFUSED = {
    "preScript": "pre-scripts are not allowed: a pack cannot run code",
    "postScript": "post-scripts are not allowed: a pack cannot run code",
}


def namespace_and_name(element: Any) -> tuple[str, str]:
    qname = etree.QName(element)
    return qname.namespace or "", qname.localname


@dataclass(frozen=True)
class DocumentSource:
    """Where a document came from. ``lines`` maps element ids to lines of another source the
    document was compiled from (a YAML process); without it, lines are the XML's own."""

    file: str
    lines: Mapping[str, int] | None = None

    def line(self, element: Any) -> int | None:
        if self.lines is None:
            return element_line(element)
        while element is not None:
            found = self.lines.get(element.get("id") or "")
            if found:
                return found
            element = element.getparent()
        return None

    def error(self, message: str, element: Any) -> PackError:
        return PackError(message, self.file, self.line(element))


def element_line(element: Any) -> int | None:
    line = getattr(element, "sourceline", None)
    return int(line) if line else None


def check_document(root: Any, source: DocumentSource) -> list[Any]:
    """Refuse every element carepath does not run; return the processes."""
    processes = []
    for child in root:
        if not isinstance(child.tag, str):
            continue  # comments, processing instructions
        namespace, name = namespace_and_name(child)
        if namespace == BPMNDI_NS:
            continue
        if namespace != BPMN_NS or name not in ALLOWED_TOP:
            if name == "collaboration":
                raise source.error("pools (collaborations) are not supported in carepath "
                                   "processes", child)
            raise source.error(f"'{name}' is not supported in carepath processes", child)
        if name == "process":
            if child.get("isExecutable") != "true":
                raise source.error(f"process '{child.get('id')}' must be executable "
                                   "(isExecutable=\"true\")", child)
            processes.append(child)
    if not processes:
        raise source.error("the document has no process", root)
    for process in processes:
        for element in process.iter():
            if not isinstance(element.tag, str) or element is process:
                continue
            _check_element(element, source)
    return processes


def _check_element(element: Any, source: DocumentSource) -> None:
    namespace, name = namespace_and_name(element)
    file, line = source.file, source.line(element)
    if namespace == SPIFF_NS:
        if name in SPIFF_REFUSED:
            raise PackError(SPIFF_REFUSED[name], file, line)
        if name not in SPIFF_ALLOWED:
            raise PackError(f"spiffworkflow:{name} is not supported in carepath processes",
                            file, line)
        return
    if namespace != BPMN_NS:
        # Other tools' extensions (camunda:, zeebe:...) inside extensionElements are inert:
        # Spiff never reads them. Anything else outside BPMN is refused.
        if _in_extensions(element):
            return
        raise PackError(f"'{element.tag}' is not supported in carepath processes", file,
                        line)
    if _in_extensions(element):
        return
    if name in REFUSED:
        raise PackError(REFUSED[name], file, line)
    if name not in NODE_KINDS and name not in ALLOWED_PARTS:
        raise PackError(f"bpmn:{name} is not supported in carepath processes", file, line)
    if name in ("startEvent", "endEvent", "intermediateCatchEvent", "boundaryEvent"):
        parts = [namespace_and_name(c)[1] for c in element if isinstance(c.tag, str)]
        definitions = [
            p for p in parts if p.endswith("EventDefinition") or p == "eventDefinitionRef"
        ]
        if name in ("startEvent", "endEvent") and definitions:
            raise PackError(f"{name} with {definitions[0]} is not supported: start and end "
                            "events must be plain", file, line)
        if name == "intermediateCatchEvent" and definitions != ["timerEventDefinition"]:
            raise PackError("an intermediate catch event must be a timer", file, line)
        if name == "boundaryEvent" and definitions != ["timerEventDefinition"]:
            raise PackError("boundary events other than timers are not supported", file,
                            line)


def _in_extensions(element: Any) -> bool:
    parent = element.getparent()
    while parent is not None:
        if etree.QName(parent).text == f"{{{BPMN_NS}}}extensionElements":
            return True
        parent = parent.getparent()
    return False
