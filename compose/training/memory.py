"""A lower bound on a training step's activation memory, to refuse a run that
cannot fit before it writes anything (instead of allocating until killed)."""

import os

from blocks import get_family
from compose.config import ExperimentConfig
from compose.errors import InvalidInputError

_FLOAT_BYTES = 4


def activation_bytes(config: ExperimentConfig) -> int:
    """Bytes the backward pass must keep for one step, at least: per task,
    per example, per layer, the block's input and, at every normalisation
    site, the tensor before and after it, all at the bank's resolution in
    float32.  Mixtures (K blocks per layer) and the stems only add to it."""
    model = config.model
    sites = get_family(model.block).norm_sites(model.channels)
    per_pixel = model.channels + 2 * sum(sites.values())
    per_example = per_pixel * model.resolution**2 * model.depth * _FLOAT_BYTES
    return per_example * config.train.batch_size * len(config.tasks)


def machine_bytes() -> int:
    """The memory this process may use: the cgroup limit when there is one,
    else the machine's physical memory."""
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        with open("/sys/fs/cgroup/memory.max") as stream:
            limit = stream.read().strip()
    except OSError:
        return physical
    return min(physical, int(limit)) if limit.isdigit() else physical


def check_fits(config: ExperimentConfig) -> None:
    """Raises InvalidInputError naming the estimate when one step's activations
    alone exceed the machine's memory."""
    needed, available = activation_bytes(config), machine_bytes()
    if needed > available:
        raise InvalidInputError(
            f"batch_size {config.train.batch_size} needs at least {needed / 2**30:.1f} GiB of "
            f"activations per step (tasks: {len(config.tasks)}, depth {config.model.depth}, "
            f"{config.model.channels} channels at {config.model.resolution}x"
            f"{config.model.resolution}); this machine has {available / 2**30:.1f} GiB; "
            "lower --batch_size"
        )
