"""YAML loading that remembers where each value came from, so errors can name file and line.

Mappings load as :class:`SourceDict` and sequences as :class:`SourceList`; both are ordinary
``dict``/``list`` subclasses with a ``line`` attribute (1-based) and, for mappings, the line of
each key in ``key_lines``. Scalars load as plain Python values.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from carepath.core.errors import PackError


class SourceDict(dict[str, Any]):
    line: int = 0
    file: str = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_lines: dict[str, int] = {}

    def line_of(self, key: str) -> int:
        """Line of ``key`` if present, else the line of the mapping itself."""
        return self.key_lines.get(key, self.line)


class SourceList(list[Any]):
    line: int = 0
    file: str = ""


# Control characters (tab, newline and carriage return apart) and lone surrogates, which
# double-quoted YAML can write as escapes ("\x01", "\ud800"): no text of a case or a pack
# needs them, and XML (the BPMN a pack compiles to) and UTF-8 cannot hold them.
_UNTEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")

# Deeper than any pack, story or answers file needs; deeper would exhaust the parser's stack.
MAX_DEPTH = 100


class _Loader(yaml.SafeLoader):
    """The safe loader, refusing aliases and very deep nesting while it composes, before any
    value is built: an alias lets a few lines stand for billions of values (the "billion laughs"
    bomb), and nesting thousands deep exhausts the stack."""

    filename = ""
    depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise PackError("anchors and aliases (&name, *name) are not allowed here: write "
                            "the value out in full", self.filename, mark.line + 1)
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise PackError(f"nested more than {MAX_DEPTH} levels deep", self.filename,
                                mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_scalar(self, node: yaml.Node) -> Any:
        value = super().construct_scalar(node)  # type: ignore[arg-type]
        if isinstance(value, str) and _UNTEXT.search(value):
            raise PackError("text may not hold control characters (such as \\x01) or lone "
                            "surrogates", self.filename, node.start_mark.line + 1)
        return value


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> SourceDict:
    loader.flatten_mapping(node)
    result = SourceDict()
    result.line = node.start_mark.line + 1
    result.file = loader.filename
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool) and key is not None:
            raise PackError("mapping keys must be plain words", loader.filename, key_node.start_mark.line + 1)
        key_text = str(key) if not isinstance(key, str) else key
        if key_text in result:
            raise PackError(f"'{key_text}' appears twice", loader.filename, key_node.start_mark.line + 1)
        result[key_text] = loader.construct_object(value_node, deep=True)
        result.key_lines[key_text] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> SourceList:
    result = SourceList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.file = loader.filename
    return result


def _construct_timestamp(loader: _Loader, node: yaml.ScalarNode) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except (ValueError, AttributeError):  # AttributeError: "!!timestamp" on no date at all
        raise PackError(f"'{node.value}' is not a real date", loader.filename,
                        node.start_mark.line + 1) from None


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def load_yaml(text: str, filename: str) -> Any:
    """Parse YAML text; a syntax error becomes a :class:`PackError` with the file and line.
    Aliases and nesting more than :data:`MAX_DEPTH` levels deep are refused the same way."""
    try:
        loader = _Loader(text)  # reading starts here: a character YAML forbids is found now
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable"
        raise PackError(f"not valid YAML: {first}", filename) from None
    loader.filename = filename
    try:
        return loader.get_single_data()
    except PackError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "not valid YAML"
        raise PackError(f"not valid YAML: {problem}", filename, line) from None
    except yaml.YAMLError as exc:
        raise PackError(f"not valid YAML: {exc}", filename) from None
    except (ValueError, IndexError, TypeError, OverflowError, AttributeError) as exc:
        # PyYAML's own constructors fail so on a tagged value they cannot read ("!!int " with
        # nothing after it, "!!float x")
        raise PackError(f"not valid YAML: a value could not be read ({type(exc).__name__})",
                        filename) from None
    finally:
        loader.dispose()
