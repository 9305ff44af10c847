"""The contract every isometric block family fulfils.

A family describes one block shape as data (its parameter shapes and its
normalisation sites) plus a pure ``apply`` function.  Keeping the parameters
out of the family is what lets :class:`compose.core.bank.BlockBank` store K
blocks as stacked weights ``[K, ...]`` and feed any mixture of them to
``apply``.

Several tasks can run one block call together with their features stacked on
the channel axis, ``[B, H, W, T * C]`` (task-major), each task with its own
weights: every parameter is then the tasks' kernels concatenated along its
``stack_axis``, and every op must act per group of channels.  The ops of
:mod:`blocks.ops` do (grouped and depthwise convolutions); a family written
with them runs one task or T tasks with the same code.
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
    """Shape of one parameter of a single block, its He-init fan-in, and the
    axis along which several tasks' copies are concatenated (the output
    channels of a convolution, the input channels of a depthwise one)."""

    shape: tuple[int, ...]
    fan_in: int
    stack_axis: int = -1

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
        """Normalisation sites, by name, in the order ``apply`` uses them, with
        their channel counts."""

    @abc.abstractmethod
    def apply(self, x, params: dict, normalize: Normalize):
        """The residual branch of one block for inputs ``x`` (one task or
        several stacked on channels; see the module docstring)."""

    def block_size(self, channels: int) -> int:
        """Number of parameters in one block of the bank."""
        return sum(spec.size for spec in self.param_specs(channels).values())
