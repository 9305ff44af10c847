"""The one validator: every section's checks, over the whole tree."""

import dataclasses

from compose.config.checks import check_section


def validate(config, path: str = "") -> None:
    """Raises InvalidInputError naming the first field of ``config`` (the tree
    or one of its sections) that cannot work; sections are checked in field
    order, each before the sections it holds."""
    check_section(config, path)
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            validate(value, f"{path}.{field.name}" if path else field.name)
