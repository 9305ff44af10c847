"""Package attributes loaded on first use, so importing a leaf module stays light.

``import compose.config`` or ``import tasks`` must not load Keras and the
engine (the configuration is read and checked before any of that), yet
``from compose import ComposedModel`` should keep working.  A package's
``__init__`` therefore names where each public attribute lives and Python
calls the returned ``__getattr__`` (PEP 562) only when one is first asked for.
"""

import importlib


def lazy_attributes(package: str, homes: dict[str, str]):
    """``(__getattr__, __dir__)`` for ``package`` whose attribute ``name`` is
    ``homes[name]``'s attribute of the same name."""

    def attribute(name):
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(homes[name]), name)

    def names():
        return sorted(homes)

    return attribute, names
