"""The contract every isometric block family fulfils.

A family describes one block shape as data (its parameter shapes and its
normalisation sites) plus a pure ``apply`` function.  Keeping the parameters
out of the family is what lets :class:`compose.bank.BlockBank` store K blocks
as stacked weights ``[K, ...]`` and feed any mixture of them to ``apply``.
"""

import abc
import dataclasses
import math
from collections.abc import Callable

Normalize = Callable[[str, object], object]
"""``normalize(site, h)``: the per-task normalisation of site ``site`` applied
to ``h``.  The bank supplies it; a family only names where it happens."""


@dataclasses.dataclass(frozen=True)
class ParamSpec:
    """Shape of one parameter of a single block, and its He-init fan-in."""

    shape: tuple[int, ...]
    fan_in: int

    @property
    def init_stddev(self) -> float:
        return math.sqrt(2.0 / self.fan_in)

    @property
    def size(self) -> int:
        return math.prod(self.shape)


class BlockFamily(abc.ABC):
    """An isometric residual block: ``[B, H, W, C] -> [B, H, W, C]``.

    ``apply`` returns only the residual branch; the bank adds it to its input,
    so the identity path (and the masking of unused layers) lives in one place.
    """

    name: str

    @abc.abstractmethod
    def param_specs(self, channels: int) -> dict[str, ParamSpec]:
        """Parameters of one block, by name, in a stable order."""

    @abc.abstractmethod
    def norm_sites(self, channels: int) -> dict[str, int]:
        """Normalisation sites, by name, with their channel counts."""

    @abc.abstractmethod
    def apply(self, x, params: dict, normalize: Normalize):
        """The residual branch of one block for inputs ``x``."""

    def block_size(self, channels: int) -> int:
        """Number of parameters in one block of the bank."""
        return sum(spec.size for spec in self.param_specs(channels).values())
