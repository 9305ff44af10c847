"""How a joint training step shares its examples among the tasks.

Every step draws ``T * batch_size`` examples over the ``T`` tasks; the sampler
says how many of them each task gets, and so how much of the step's gradient
it carries (each example's loss is divided by ``batch_size`` whatever its
task, as if the step's examples were drawn from the mixture of tasks).

``equal``
  ``batch_size`` of every task (the default; the main job's measurements).
``proportional``
  shares proportional to the training-set sizes: every training example is
  seen about as often, so a 60,000-image task outweighs a 1,438-image one 40x.
``temperature``
  shares proportional to ``size ** (1 / T)``: between the two (``T = 1`` is
  proportional, a large ``T`` approaches equal), as in TF Model Garden's
  multitask samplers.

Every task first gets ``minimum`` examples (``train.min_task_batch``): its
normalisation takes batch statistics, and a task given one example a step
learns nothing (UCI digits fell to 0.11 test accuracy that way beside
Fashion-MNIST, docs/results.md); the sampler shares the rest.  The shares
are fixed per run, not drawn per step: every step holds the same number of
examples of a task, so shapes stay static (TPU, XLA) and the examples of a
step remain a pure function of the seed and the step
(:mod:`compose.training.inputs`), which exact resumption needs.  Sizes are
multiples of the replica count.
"""

import math

SAMPLERS = ("equal", "proportional", "temperature")


def task_batch_sizes(
    sizes: dict[str, int],
    batch_size: int,
    sampler: str,
    temperature: float = 2.0,
    replicas: int = 1,
    minimum: int = 1,
) -> dict[str, int]:
    """``{task: examples per step}`` for training sets of ``sizes`` examples:
    ``minimum`` each (rounded up to a multiple of ``replicas``), the rest of
    the ``len(sizes) * batch_size`` shared as ``sampler`` says."""
    if sampler == "equal":
        return {task: batch_size for task in sizes}
    floor = replicas * math.ceil(minimum / replicas)
    spare = max(0, batch_size * len(sizes) - floor * len(sizes))
    power = 1.0 if sampler == "proportional" else 1.0 / temperature
    weights = {task: size**power for task, size in sizes.items()}
    total_weight = sum(weights.values())
    return {
        task: floor + replicas * round(spare * weight / total_weight / replicas)
        for task, weight in weights.items()
    }
