"""A tool's arguments as its input schema (JSON Schema) describes them, in words for a person."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

MAX_ARGUMENTS = 50
"""Arguments listed per tool; a schema with more says how many were left out."""
_MAX_CHOICES = 10
_MAX_DEPTH = 3
_MAX_TEXT = 200


@dataclass(frozen=True)
class Argument:
    """One argument: its name, its type in words, whether it must be given, and what it is for.

    Every text here is the server's (raw: print it through `printable`)."""

    name: str
    type: str
    required: bool
    description: str = ""
    default: str | None = None
    """The default, as JSON, when the schema gives one."""


def arguments(schema: object) -> tuple[list[Argument], int]:
    """The arguments `schema` lists, required ones first, and how many more were left out."""
    if not isinstance(schema, Mapping):
        return [], 0
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return [], 0
    required = schema.get("required")
    wanted = {str(name) for name in required} if isinstance(required, list) else set()
    found = [_argument(str(name), spec, str(name) in wanted) for name, spec in properties.items()]
    found.sort(key=lambda argument: not argument.required)  # stable: the server's order otherwise
    return found[:MAX_ARGUMENTS], max(0, len(properties) - MAX_ARGUMENTS)


def _argument(name: str, spec: object, required: bool) -> Argument:
    if not isinstance(spec, Mapping):
        return Argument(name, "any", required)
    description = spec.get("description")
    default = _json(spec["default"]) if "default" in spec else None
    return Argument(
        name,
        type_of(spec),
        required,
        _first_line(description) if isinstance(description, str) else "",
        default,
    )


def type_of(spec: object, depth: int = 0) -> str:
    """The type a schema allows, in words: `string`, `integer or null`, `array of string`,
    `one of "EUR", "USD"`, `Address` (a named definition)."""
    if not isinstance(spec, Mapping) or depth > _MAX_DEPTH:
        return "any"
    if "const" in spec:
        return _json(spec["const"])
    if isinstance(choices := spec.get("enum"), list) and choices:
        listed = ", ".join(_json(choice) for choice in choices[:_MAX_CHOICES])
        return f"one of {listed}{', …' if len(choices) > _MAX_CHOICES else ''}"
    if isinstance(ref := spec.get("$ref"), str):
        return _cut(ref.rsplit("/", 1)[-1]) or "object"
    for key in ("anyOf", "oneOf"):
        if isinstance(options := spec.get(key), list) and options:
            named = [type_of(option, depth + 1) for option in options[:_MAX_CHOICES]]
            return " or ".join(dict.fromkeys(named))
    kind = spec.get("type")
    if isinstance(kind, list):
        return " or ".join(dict.fromkeys(str(k) for k in kind[:_MAX_CHOICES])) or "any"
    if kind == "array":
        items = spec.get("items")
        return f"array of {type_of(items, depth + 1)}" if isinstance(items, Mapping) else "array"
    if isinstance(kind, str):
        form = spec.get("format")
        return f"{_cut(kind)} ({_cut(form)})" if isinstance(form, str) else _cut(kind)
    return "object" if "properties" in spec else "any"


def _json(value: object) -> str:
    """A value as JSON would write it, but a string as it is, in quotes: its characters, hidden ones
    too, are left for `printable` to name, not escaped here."""
    return _cut(f'"{value}"' if isinstance(value, str) else json.dumps(value, ensure_ascii=False))


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return _cut(lines[0].strip()) if lines else ""


def _cut(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"
