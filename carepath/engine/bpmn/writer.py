"""Writing a compiled process as a BPMN 2.0 document, with its diagram (BPMN DI)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lxml import etree

from carepath.engine.bpmn.layout import (
    ROW_H,
    Y0,
    FlowGraphBuilder,
    FlowNode,
    SequenceFlow,
    edge_waypoints,
    shape_bounds,
)
from carepath.engine.process_language.model import ProcessModel

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
DI_NS = "http://www.omg.org/spec/DD/20100524/DI"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NSMAP = {
    "bpmn": BPMN_NS,
    "bpmndi": BPMNDI_NS,
    "dc": DC_NS,
    "di": DI_NS,
    "xsi": XSI_NS,
    "spiffworkflow": SPIFF_NS,
}


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def compile_to_bpmn(model: ProcessModel) -> bytes:
    """The BPMN 2.0 document (UTF-8 XML with a diagram) for a checked process."""
    graph = FlowGraphBuilder(model).build()
    nodes = {n.id: n for n in graph.nodes}
    flows = {f.id: f for f in graph.flows}

    root = etree.Element(_q(BPMN_NS, "definitions"), nsmap=NSMAP)
    root.set("id", f"{model.id}-definitions")
    root.set("targetNamespace", "http://carepath.example/bpmn")
    root.set("exporter", "carepath")
    root.set("exporterVersion", "1")
    process = etree.SubElement(root, _q(BPMN_NS, "process"), id=model.id, name=model.title,
                               isExecutable="true")
    if model.description:
        etree.SubElement(process, _q(BPMN_NS, "documentation")).text = model.description

    tags = {
        "start": "startEvent",
        "end": "endEvent",
        "task": "userTask",
        "call": "callActivity",
        "timer": "intermediateCatchEvent",
        "exclusive": "exclusiveGateway",
        "parallel": "parallelGateway",
    }
    for node in graph.nodes:
        element = etree.SubElement(process, _q(BPMN_NS, tags[node.kind]), id=node.id)
        if node.name:
            element.set("name", node.name)
        if node.called:
            element.set("calledElement", node.called)
        if node.default_flow:
            element.set("default", node.default_flow)
        if node.properties:
            extensions = etree.SubElement(element, _q(BPMN_NS, "extensionElements"))
            properties = etree.SubElement(extensions, _q(SPIFF_NS, "properties"))
            for key, value in node.properties.items():
                etree.SubElement(properties, _q(SPIFF_NS, "property"), name=key, value=value)
        for flow_id in node.incoming:
            etree.SubElement(element, _q(BPMN_NS, "incoming")).text = flow_id
        for flow_id in node.outgoing:
            etree.SubElement(element, _q(BPMN_NS, "outgoing")).text = flow_id
        if node.timer:
            definition = etree.SubElement(element, _q(BPMN_NS, "timerEventDefinition"),
                                          id=f"{node.id}-timer")
            expression = etree.SubElement(definition, _q(BPMN_NS, node.timer[0]))
            expression.set(_q(XSI_NS, "type"), "bpmn:tFormalExpression")
            expression.text = node.timer[1]

    for flow in graph.flows:
        element = etree.SubElement(process, _q(BPMN_NS, "sequenceFlow"), id=flow.id,
                                   sourceRef=flow.source, targetRef=flow.target)
        if flow.name:
            element.set("name", flow.name)
        if flow.condition is not None:
            condition = etree.SubElement(element, _q(BPMN_NS, "conditionExpression"))
            condition.set(_q(XSI_NS, "type"), "bpmn:tFormalExpression")
            condition.text = flow.condition

    _diagram(root, model.id, nodes, flows)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def source_lines(model: ProcessModel) -> dict[str, int]:
    """Line in the YAML file of every element of the compiled document (step ids, and the
    ids the compiler made up: gateways, flows), for ``ProcessLibrary.add(..., lines=...)``."""
    graph = FlowGraphBuilder(model).build()
    lines = {node.id: node.line for node in graph.nodes}
    lines.update({flow.id: flow.line for flow in graph.flows})
    lines[model.id] = model.line
    return lines


def _diagram(root: Any, process_id: str, nodes: Mapping[str, FlowNode],
             flows: Mapping[str, SequenceFlow]) -> None:
    diagram = etree.SubElement(root, _q(BPMNDI_NS, "BPMNDiagram"), id=f"{process_id}-diagram")
    plane = etree.SubElement(diagram, _q(BPMNDI_NS, "BPMNPlane"), id=f"{process_id}-plane",
                             bpmnElement=process_id)
    for node in nodes.values():
        shape = etree.SubElement(plane, _q(BPMNDI_NS, "BPMNShape"), id=f"{node.id}-di",
                                 bpmnElement=node.id)
        if node.kind == "exclusive":
            shape.set("isMarkerVisible", "true")
        x, y, width, height = shape_bounds(node)
        etree.SubElement(shape, _q(DC_NS, "Bounds"), x=str(x), y=str(y), width=str(width),
                         height=str(height))
    lowest = max([node.row for node in nodes.values()]
                 + [flow.via_row for flow in flows.values() if flow.via_row is not None])
    bottom = Y0 + lowest * ROW_H + 40 + ROW_H // 2
    back_lane = 0
    for flow in flows.values():
        edge = etree.SubElement(plane, _q(BPMNDI_NS, "BPMNEdge"), id=f"{flow.id}-di",
                                bpmnElement=flow.id)
        lane = bottom
        if flow.back:
            lane = bottom + 20 * back_lane
            back_lane += 1
        for x, y in edge_waypoints(flow, nodes, lane):
            etree.SubElement(edge, _q(DI_NS, "waypoint"), x=str(x), y=str(y))
