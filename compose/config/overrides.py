"""How values reach the configuration tree: a nested dict (a ``--config_file``),
``--params_override`` text, or a binary's own flags, applied in that order
over the defaults (TF Model Garden's order).

Every value is checked against its field's type on the way in, so a string
where a number belongs is one error naming the field, not a traceback later.
"""

import dataclasses
import json
import types
import typing

from compose.errors import InvalidInputError, UnknownNameError


def override(config, values: dict, prefix: str = ""):
    """``config`` (a tree of dataclasses) with the fields in ``values`` replaced.

    Sections are rebuilt with :func:`dataclasses.replace`, so frozen option
    sections work and each section's own checks run on its new values.

    Raises:
      UnknownNameError: naming the full dotted key when a field does not exist.
      InvalidInputError: a value of the wrong type, or a section given a value.
    """
    fields = {field.name: field for field in dataclasses.fields(config)}
    changes = {}
    for key, value in values.items():
        path = prefix + key
        if key not in fields:
            raise UnknownNameError(f"unknown config key {path!r}; known here: {', '.join(fields)}")
        current = getattr(config, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise InvalidInputError(f"config key {path!r} is a section; give a dict")
            changes[key] = override(current, value, prefix=f"{path}.")
        else:
            changes[key] = typed_value(path, value, fields[key].type)
    return dataclasses.replace(config, **changes)


def typed_value(path: str, value, annotation):
    """``value`` as a field annotated ``annotation`` holds it (an int given for a
    float becomes a float), or InvalidInputError naming ``path``."""
    options = typing.get_args(annotation) if is_union(annotation) else (annotation,)
    for option in options:
        if option is type(None):
            if value is None:
                return None
            continue
        kind = typing.get_origin(option) or option
        if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if kind is int and isinstance(value, bool):
            continue
        if isinstance(value, kind):
            return value
    expected = " or ".join(_type_name(option) for option in options)
    raise InvalidInputError(f"invalid config: {path} must be {expected}, got {value!r}")


def parse_params_override(text: str) -> dict:
    """``"model.depth=4,train.steps=10"`` -> nested dict; values read as JSON when they parse."""
    values = {}
    for item in filter(None, (part.strip() for part in _top_level_items(text))):
        key, sep, raw = item.partition("=")
        if not sep:
            raise InvalidInputError(f"params_override item {item!r} is not key=value")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        set_path(values, key.strip(), value)
    return values


def set_path(values: dict, path: str, value) -> None:
    """Sets dotted ``path`` (``"train.steps"``) in the nested dict ``values``."""
    *parents, leaf = path.split(".")
    for parent in parents:
        values = values.setdefault(parent, {})
    values[leaf] = value


def _top_level_items(text: str) -> list[str]:
    """``text`` split at the commas outside brackets and quotes, so a JSON
    list or dict value (``tasks=["usps","uci_digits"]``) stays whole."""
    items, depth, quote, start = [], 0, None, 0
    for index, char in enumerate(text):
        if quote:
            quote = None if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(text[start:index])
            start = index + 1
    return [*items, text[start:]]


def is_union(annotation) -> bool:
    """Whether ``annotation`` is ``a | b`` (or ``Optional[a]``)."""
    return isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union


def _type_name(option) -> str:
    if option is type(None):
        return "null"
    kind = typing.get_origin(option) or option
    return {
        bool: "true or false",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a dict",
    }.get(kind, kind.__name__)
