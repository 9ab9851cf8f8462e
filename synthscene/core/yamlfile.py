"""Reading YAML, defined once: the safe loader, duplicate keys refused, and BadInput naming the file
and line on any problem (configs, benchmark configs, data.yaml)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from .errors import BadInput
from .schema import MAX_YAML_NODES


class _Loader(yaml.SafeLoader):
    """The safe loader, refusing what it would otherwise accept silently: a key given twice in one
    mapping (the last would win), and aliases that expand to more than MAX_YAML_NODES nodes (a
    "billion laughs": a few hundred bytes that become gigabytes once the config is saved)."""

    def __init__(self, stream):
        super().__init__(stream)
        self._nodes = 0  # the document's size so far, aliases counted expanded
        self._sizes: dict[int, int] = {}  # id(node) → its expanded size
        self._done: set[int] = set()  # nodes composed completely (an alias to any other is a cycle)

    def _expanded(self, node) -> int:
        key = id(node)
        if key not in self._sizes:
            if isinstance(node, yaml.MappingNode):
                children = [n for pair in node.value for n in pair]
            else:
                children = node.value if isinstance(node, yaml.SequenceNode) else []
            self._sizes[key] = 1 + sum(self._expanded(c) for c in children)
        return self._sizes[key]

    def compose_node(self, parent, index):
        alias = self.check_event(yaml.AliasEvent)
        mark = self.peek_event().start_mark
        node = super().compose_node(parent, index)
        if alias and id(node) not in self._done:
            raise yaml.composer.ComposerError(None, None, "an alias refers to the value that contains it", mark)
        # A new node counts once (its children count as they are composed); an alias counts as
        # everything it stands for.
        self._nodes += self._expanded(node) if alias else 1
        self._done.add(id(node))
        if self._nodes > MAX_YAML_NODES:
            raise yaml.composer.ComposerError(
                None, None, f"more than {MAX_YAML_NODES:,} values once its aliases are expanded; "
                "a config needs a few hundred: write them out instead of nesting aliases of aliases", mark)
        return node

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` may be overridden
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    dup = key in seen
                except TypeError:  # unhashable: the safe loader's own error follows
                    continue
                if dup:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r} (each key may appear once in a mapping)", key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep)


def read_yaml(path: str | os.PathLike, what: str = "config") -> Any:
    """Parse a YAML file with the safe loader; BadInput names the file and the line on any problem."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{what} file not found", path)
    try:
        return yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        problem = getattr(err, "problem", None) or str(err)
        raise BadInput(f"invalid YAML: {problem}", path, where) from None
    except RecursionError:
        raise BadInput("invalid YAML: nested too deeply", path) from None
    except UnicodeDecodeError:
        raise BadInput("not a text file", path) from None
