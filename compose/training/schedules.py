"""Schedules held in model variables, set between loops of training steps."""


def annealer(model, tasks, final_temperature, steps):
    """``before_loop(step)`` for :meth:`Trainer.train`: sets the mixture
    temperature of ``tasks`` to ``final_temperature ** (step / steps)``,
    geometric from 1 at step 0 to ``final_temperature`` at ``steps``."""

    def anneal(step):
        temperature = final_temperature ** (min(step, steps) / max(steps, 1))
        for task in tasks:
            model.path(task).temperature.assign(temperature)

    return anneal
