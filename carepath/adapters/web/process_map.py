"""A process map as a standalone SVG: the BPMN diagram with where the case is now.

:func:`render_svg` draws a :class:`~carepath.service.types.ProcessMap`. The SVG is safe to put in
a page or serve on its own: it is built as an XML tree (so every name is escaped), has no
script, no event handler attributes and no ``<style>`` element (styling is by presentation
attributes, so a strict Content-Security-Policy needs nothing for it), and a ``viewBox`` so it
scales. It is accessible: ``role="img"`` with a ``<title>`` and a ``<desc>`` that say where the
case is, and the three states differ by more than colour: a completed step has a thick green
border and a tick, the current step a thick dashed blue outline and the word "Now", a step not
reached is grey with a thin border. A legend says so. Colours are GOV.UK's.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import OrderedDict
from typing import Any

from lxml import etree

from carepath.engine.bpmn.diagram import DiagramEdge, DiagramNode
from carepath.service.types import ProcessMap

SVG_NS = "http://www.w3.org/2000/svg"
GREEN = "#00703c"
BLUE = "#1d70b8"
GREY = "#b1b4b6"
TEXT = "#0b0c0c"
SECONDARY_TEXT = "#505a5f"
LIGHT_BLUE = "#d2e2f1"
LIGHT_GREEN = "#cce2d8"
LIGHT_GREY = "#f3f2f1"
WHITE = "#ffffff"
FONT = "GDS Transport, arial, sans-serif"
PAD = 30
LEGEND_H = 70

_STYLE = {
    # state: (fill, stroke, stroke width, dash)
    "completed": (LIGHT_GREEN, GREEN, 4, None),
    "current": (LIGHT_BLUE, BLUE, 5, "8 4"),
    "not_reached": (LIGHT_GREY, GREY, 1.5, None),
}
_WORDS = {"completed": "completed", "current": "current step", "not_reached": "not reached"}


def _num(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _el(parent: Any, tag: str, text: str | None = None, **attrs: Any) -> Any:
    element = etree.SubElement(parent, f"{{{SVG_NS}}}{tag}")
    for key, value in attrs.items():
        if value is None:
            continue
        name = key.rstrip("_").replace("_", "-")
        element.set(name, _num(value) if isinstance(value, float | int) and
                    not isinstance(value, bool) else str(value))
    if text is not None:
        element.text = text
    return element


def _id_part(value: str | int) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", str(value))


def wrap(text: str, width: int, lines: int = 4) -> list[str]:
    """``text`` in lines of at most ``width`` characters (long words cut), at most ``lines``
    lines, the last ending in an ellipsis if cut short."""
    words = text.split()
    out: list[str] = []
    line = ""
    for word in words:
        while len(word) > width:
            if line:
                out.append(line)
                line = ""
            out.append(word[:width - 1] + "-")
            word = word[width - 1:]
        if not line:
            line = word
        elif len(line) + 1 + len(word) <= width:
            line = f"{line} {word}"
        else:
            out.append(line)
            line = word
    if line:
        out.append(line)
    if len(out) > lines:
        out = out[:lines]
        last = out[-1]
        out[-1] = (last[:width - 1] if len(last) >= width else last) + "…"
    return out


def describe(pm: ProcessMap) -> str:
    """The map in words, for ``<desc>`` and screen readers."""
    current = pm.current_steps()
    done = len(pm.completed_steps())
    steps = f"{done} step{'' if done == 1 else 's'} completed"
    if pm.finished:
        return f"{pm.title}: {pm.status}; {steps}"
    if current:
        now = current[0] if len(current) == 1 else \
            ", ".join(current[:-1]) + " and " + current[-1]
        word = "step" if len(current) == 1 else "steps"
        return f"{pm.title}: current {word} {now}; {steps}"
    return f"{pm.title}: waiting; {steps}"


# Drawn maps by what they show: every case at the same point of the same process has the same
# picture but for its element ids, which carry the instance id; they are drawn with a token no
# pack text can contain (random per process) in its place, then the token is replaced.
_TOKEN = f"i{secrets.token_hex(8)}"
_DRAWN: OrderedDict[tuple[Any, ...], tuple[Any, str]] = OrderedDict()
_DRAWN_MAX = 256
_DRAWN_LOCK = threading.Lock()


def render_svg(pm: ProcessMap) -> str:
    """The process map as a standalone SVG document (text)."""
    key = (id(pm.diagram), pm.title, pm.status, pm.finished, tuple(sorted(pm.states.items())))
    with _DRAWN_LOCK:
        drawn = _DRAWN.get(key)
        if drawn is not None and drawn[0] is pm.diagram:
            _DRAWN.move_to_end(key)
            return drawn[1].replace(_TOKEN, _id_part(pm.instance_id))
    text = _draw(pm)
    with _DRAWN_LOCK:
        _DRAWN[key] = (pm.diagram, text)
        while len(_DRAWN) > _DRAWN_MAX:
            _DRAWN.popitem(last=False)
    return text.replace(_TOKEN, _id_part(pm.instance_id))


def _draw(pm: ProcessMap) -> str:
    diagram = pm.diagram
    min_x, min_y, max_x, max_y = diagram.box()
    left, top = min_x - PAD, min_y - PAD - 20
    width = max(max_x - min_x + 2 * PAD, 760)
    height = max_y - min_y + 2 * PAD + 20 + LEGEND_H
    prefix = f"pm-{_TOKEN}"
    root = etree.Element(f"{{{SVG_NS}}}svg", nsmap={None: SVG_NS})
    root.set("version", "1.1")
    root.set("viewBox", f"{_num(left)} {_num(top)} {_num(width)} {_num(height)}")
    root.set("width", _num(width))
    root.set("height", _num(height))
    root.set("role", "img")
    root.set("aria-labelledby", f"{prefix}-title {prefix}-desc")
    root.set("font-family", FONT)
    _el(root, "title", f"Process map: {pm.title}", id=f"{prefix}-title")
    _el(root, "desc", describe(pm), id=f"{prefix}-desc")
    defs = _el(root, "defs")
    for state, colour in (("completed", GREEN), ("not_reached", GREY)):
        marker = _el(defs, "marker", id=f"{prefix}-arrow-{state}", viewBox="0 0 10 10",
                     refX=9, refY=5, markerWidth=7, markerHeight=7, orient="auto-start-reverse")
        _el(marker, "path", d="M 0 0 L 10 5 L 0 10 z", fill=colour)
    _el(root, "rect", x=left, y=top, width=width, height=height, fill=WHITE)

    edges = _el(root, "g", id=f"{prefix}-flows")
    for edge in diagram.edges:
        _edge(edges, edge, pm.state_of(edge.id), prefix)
    nodes = _el(root, "g", id=f"{prefix}-steps")
    for node in diagram.nodes:
        _node(nodes, node, pm.state_of(node.id))
    _legend(root, left + PAD / 2, max_y + PAD + 10)
    return str(etree.tostring(root, encoding="unicode"))


def _edge(parent: Any, edge: DiagramEdge, state: str, prefix: str) -> None:
    if len(edge.waypoints) < 2:
        return
    done = state == "completed"
    points = " ".join(f"{_num(x)},{_num(y)}" for x, y in edge.waypoints)
    group = _el(parent, "g")
    _el(group, "polyline", points=points, fill="none", stroke=GREEN if done else GREY,
        stroke_width=3 if done else 1.5, stroke_dasharray=None if done else "6 4",
        marker_end=f"url(#{prefix}-arrow-{'completed' if done else 'not_reached'})")
    if edge.name:
        # above the last segment, from its start: next to the step the branch leads to
        (x1, y1), (x2, y2) = edge.waypoints[-2], edge.waypoints[-1]
        label = wrap(edge.name, max(10, int(abs(x2 - x1) / 6) - 2), 2)
        x = min(x1, x2) + 8
        text = _el(group, "text", x=x, y=min(y1, y2) - 6 - 12 * (len(label) - 1),
                   font_size=10, fill=SECONDARY_TEXT)
        for i, line in enumerate(label):
            _el(text, "tspan", line, x=x, dy=0 if i == 0 else 12)


def _node(parent: Any, node: DiagramNode, state: str) -> None:
    fill, stroke, stroke_width, dash = _STYLE.get(state, _STYLE["not_reached"])
    b = node.bounds
    cx, cy = b.centre
    label = node.label
    group = _el(parent, "g")
    _el(group, "title", f"{label or node.kind}: {_WORDS.get(state, state)}")
    shape: dict[str, Any] = {"fill": fill, "stroke": stroke, "stroke_width": stroke_width,
                             "stroke_dasharray": dash}
    text_colour = TEXT if state != "not_reached" else SECONDARY_TEXT
    if node.kind in ("task", "call"):
        _el(group, "rect", x=b.x, y=b.y, width=b.width, height=b.height, rx=8, **shape)
        if node.kind == "call":  # BPMN's marker for a called process: a small boxed plus
            _el(group, "rect", x=cx - 7, y=b.y + b.height - 16, width=14, height=14,
                fill="none", stroke=text_colour, stroke_width=1)
            _el(group, "path", d=f"M {_num(cx - 4)} {_num(b.y + b.height - 9)} h 8 M "
                f"{_num(cx)} {_num(b.y + b.height - 13)} v 8", stroke=text_colour,
                stroke_width=1.5)
        lines = wrap(label, max(8, int(b.width / 6.6)), 4)
        size = 11
        first = cy - (len(lines) - 1) * (size + 2) / 2 + size / 3
        text = _el(group, "text", x=cx, y=first, font_size=size, fill=text_colour,
                   text_anchor="middle", font_weight="bold" if state == "current" else None)
        for i, line in enumerate(lines):
            _el(text, "tspan", line, x=cx, dy=0 if i == 0 else size + 2)
    elif node.kind in ("exclusive", "parallel"):
        half_w = b.width / 2
        _el(group, "polygon", points=f"{_num(cx)},{_num(b.y)} {_num(cx + half_w)},{_num(cy)} "
            f"{_num(cx)},{_num(b.y + b.height)} {_num(cx - half_w)},{_num(cy)}", **shape)
        if node.kind == "exclusive":
            mark = f"M {_num(cx - 8)} {_num(cy - 8)} L {_num(cx + 8)} {_num(cy + 8)} " \
                   f"M {_num(cx + 8)} {_num(cy - 8)} L {_num(cx - 8)} {_num(cy + 8)}"
        else:
            mark = f"M {_num(cx)} {_num(cy - 11)} V {_num(cy + 11)} " \
                   f"M {_num(cx - 11)} {_num(cy)} H {_num(cx + 11)}"
        _el(group, "path", d=mark, stroke=text_colour, stroke_width=3)
        _label_below(group, label, cx, b.y + b.height, text_colour)
    else:
        r = min(b.width, b.height) / 2
        end_width = max(stroke_width, 4) if node.kind == "end" else stroke_width
        _el(group, "circle", cx=cx, cy=cy, r=r, **{**shape, "stroke_width": end_width})
        if node.kind in ("timer", "boundary_timer"):
            _el(group, "circle", cx=cx, cy=cy, r=r - 4, fill="none", stroke=stroke,
                stroke_width=1)
            _el(group, "path", d=f"M {_num(cx)} {_num(cy)} V {_num(cy - r + 8)} M {_num(cx)} "
                f"{_num(cy)} H {_num(cx + r / 2)}", stroke=text_colour, stroke_width=1.5)
        _label_below(group, label, cx, b.y + b.height, text_colour)
    if state == "completed":
        _tick(group, b.x + b.width - 2, b.y + 2)
    elif state == "current":
        _el(group, "text", "Now", x=b.x, y=b.y - 6, font_size=11, font_weight="bold",
            fill=BLUE)


def _label_below(group: Any, label: str, cx: float, bottom: float, colour: str) -> None:
    if not label:
        return
    lines = wrap(label, 20, 3)
    text = _el(group, "text", x=cx, y=bottom + 14, font_size=10, fill=colour,
               text_anchor="middle")
    for i, line in enumerate(lines):
        _el(text, "tspan", line, x=cx, dy=0 if i == 0 else 12)


def _tick(group: Any, x: float, y: float) -> None:
    """A green disc with a white tick, centred on (x, y)."""
    _el(group, "circle", cx=x, cy=y, r=9, fill=GREEN, stroke=WHITE, stroke_width=1.5)
    _el(group, "path", d=f"M {_num(x - 4.5)} {_num(y)} L {_num(x - 1)} {_num(y + 3.5)} "
        f"L {_num(x + 5)} {_num(y - 3.5)}", fill="none", stroke=WHITE, stroke_width=2.2)


def _legend(root: Any, x: float, y: float) -> None:
    legend = _el(root, "g", id=None)
    _el(legend, "title", "Key")
    _el(legend, "text", "Key", x=x, y=y + 4, font_size=12, font_weight="bold", fill=TEXT)
    entries = (("completed", "Completed (green, tick)"),
               ("current", "Current step (dashed blue outline, Now)"),
               ("not_reached", "Not reached (grey)"))
    offset = x
    for state, words in entries:
        fill, stroke, stroke_width, dash = _STYLE[state]
        _el(legend, "rect", x=offset, y=y + 14, width=34, height=22, rx=5, fill=fill,
            stroke=stroke, stroke_width=stroke_width, stroke_dasharray=dash)
        if state == "completed":
            _tick(legend, offset + 34, y + 14)
        _el(legend, "text", words, x=offset + 44, y=y + 30, font_size=11, fill=TEXT)
        offset += 44 + 6.2 * len(words) + 24
