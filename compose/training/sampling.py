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

The shares are fixed per run, not drawn per step: every step holds the same
number of examples of a task, so shapes stay static (TPU, XLA) and the
examples of a step remain a pure function of the seed and the step
(:mod:`compose.training.inputs`), which exact resumption needs.  A task gets
at least one example per replica; sizes are multiples of the replica count.
"""

SAMPLERS = ("equal", "proportional", "temperature")


def task_batch_sizes(
    sizes: dict[str, int], batch_size: int, sampler: str, temperature: float = 2.0, replicas=1
) -> dict[str, int]:
    """``{task: examples per step}`` for training sets of ``sizes`` examples."""
    if sampler == "equal":
        return {task: batch_size for task in sizes}
    power = 1.0 if sampler == "proportional" else 1.0 / temperature
    weights = {task: size**power for task, size in sizes.items()}
    total_weight = sum(weights.values())
    total = batch_size * len(sizes)
    return {
        task: replicas * max(1, round(total * weight / total_weight / replicas))
        for task, weight in weights.items()
    }
