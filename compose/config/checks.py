"""The wording of every configuration check, and how a section's checks are applied.

A section's ``checks()`` returns ``[(field, (ok, message))]``; the first that
fails becomes one :class:`compose.errors.InvalidInputError` naming the field by
its path in the tree (``invalid config: grow.evolve.budget must be >= 1, got 0``),
whether the section came from a command line or a library caller.
"""

from compose.errors import InvalidInputError


def one_of(value, choices) -> tuple[bool, str]:
    return value in choices, f"must be one of {', '.join(map(str, choices))}, got {value!r}"


def at_least(value, low) -> tuple[bool, str]:
    return value >= low, f"must be >= {low}, got {value}"


def is_bool(value) -> tuple[bool, str]:
    return value in (True, False), f"must be true or false, got {value!r}"


def check_section(section, path: str) -> None:
    """Raises InvalidInputError for the first of ``section.checks()`` that fails."""
    for field, (ok, message) in section.checks():
        if not ok:
            name = f"{path}.{field}" if path else field
            raise InvalidInputError(f"invalid config: {name} {message}")


def check_choices(flag: str, values, choices) -> None:
    """Raises InvalidInputError naming the unknown ones among ``values``, the
    items of the list flag ``--flag`` (``--modes``, ``--objectives``)."""
    unknown = sorted(set(values) - set(choices))
    if unknown:
        raise InvalidInputError(f"unknown --{flag} {unknown}; choose from {', '.join(choices)}")
