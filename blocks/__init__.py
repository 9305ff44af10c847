"""Isometric block families, looked up by name."""

from blocks.base import BlockFamily, ParamSpec
from blocks.basic_residual import BasicResidual
from blocks.inverted_bottleneck import InvertedBottleneck
from compose.errors import UnknownNameError

FAMILIES: dict[str, type[BlockFamily]] = {
    InvertedBottleneck.name: InvertedBottleneck,
    BasicResidual.name: BasicResidual,
}


def get_family(name: str) -> BlockFamily:
    """Returns the block family called ``name``."""
    try:
        return FAMILIES[name]()
    except KeyError:
        raise UnknownNameError(
            f"unknown block family {name!r}; known families: {', '.join(sorted(FAMILIES))}"
        ) from None


__all__ = ["FAMILIES", "BlockFamily", "ParamSpec", "get_family"]
