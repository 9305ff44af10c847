"""Re-estimating a task's normalisation statistics from its unlabelled images.

A task's moving statistics describe the features of the program it was
trained with.  After its program changes (search, transfer, adaptation), or
on a new domain, they are re-estimated: one forward pass in training mode over
a fixed subset of the task's images as a single batch, with every site's
moving statistics *replaced* by that batch's moments (momentum 0).  No labels,
no gradient, no other state changes.  A single batch makes each layer's
statistics the exact moments of the subset under the statistics of the layers
before it, which is what inference then uses.
"""

import numpy as np
import tensorflow as tf

from compose.seeds import derive_seed
from compose.tracing import per_model_function

STATISTICS_IMAGES = 2048
"""Images of one statistics pass (fewer when the task has fewer)."""


def statistics_subset(images, count=STATISTICS_IMAGES, seed=0):
    """A fixed random subset of at most ``count`` of ``images`` (in their order)."""
    if len(images) <= count:
        return images
    rng = np.random.default_rng(derive_seed(seed, "statistics_subset"))
    return images[np.sort(rng.choice(len(images), count, replace=False))]


def refresh_statistics(model, task, images, count=STATISTICS_IMAGES, seed=0) -> None:
    """Replaces ``task``'s moving statistics (stem, every bank layer its program
    runs, head) by their values on a subset of ``images`` (see the module
    docstring).  The task's programs, weights and other tasks are unchanged."""
    batch = tf.constant(statistics_subset(images, count, seed))
    _statistics_pass(model, task, batch)


def _refresh(model, task, batch):
    model.forward({task: batch}, statistics="refresh")


_statistics_pass = per_model_function(_refresh, reduce_retracing=True)
