"""Growing a trained model: new tasks (continual, transfer, evolution) and new domains."""

from compose.grow.continual import add_task
from compose.grow.domain_adaptation import AdaptOptions, adapt_domain, copy_source_task
from compose.grow.evolve import EvolveOptions, evolve_task, first_generation
from compose.grow.system import GrowOptions, grow_system
from compose.grow.task_transfer import MODES, TransferOptions, transfer_task

__all__ = [
    "MODES",
    "AdaptOptions",
    "EvolveOptions",
    "GrowOptions",
    "TransferOptions",
    "adapt_domain",
    "add_task",
    "copy_source_task",
    "evolve_task",
    "first_generation",
    "grow_system",
    "transfer_task",
]
