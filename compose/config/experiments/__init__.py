"""Named experiment configs, as big_vision's config files: each module's
docstring starts with the command that runs it and the result to expect, and
its ``get_config()`` returns the tree values it sets over the defaults.

A named config describes a pipeline, so it may hold several sections: every
binary given ``--config=NAME`` takes the sections it sets (``compose.train``
the experiment, ``compose.grow`` the ``grow`` section, ...) and leaves the
others.  The machine's data directory is never in one: give ``--data_dir``.
"""

import importlib
import pkgutil

from compose.errors import UnknownNameError

NAMES = tuple(sorted(module.name for module in pkgutil.iter_modules(__path__) if not module.ispkg))


def named_config(name: str) -> dict:
    """The values of the named config ``name`` (one of :data:`NAMES`)."""
    if name not in NAMES:
        raise UnknownNameError(f"unknown --config {name!r}; named configs: {', '.join(NAMES)}")
    return importlib.import_module(f"{__name__}.{name}").get_config()
