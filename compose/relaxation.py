"""Relaxed programs: where their mixtures start and how their temperature anneals."""

import numpy as np


def relax_near(model, task, program, logit) -> None:
    """Relaxes ``task`` with mixture logits ``logit`` on ``program``'s block at
    each layer and 0 elsewhere.

    The bank mixes block *weights*, so uniform logits start from the average
    of all blocks, a block nobody trained; a positive ``logit`` starts near
    ``program`` (softmax weight ``e^logit / (e^logit + K - 1)``).
    """
    model.set_relaxed(task)
    path = model.path(task)
    logits = np.zeros(path.mixture_logits.shape, np.float32)
    logits[np.arange(len(program)), list(program)] = logit
    path.mixture_logits.assign(logits)


def annealer(model, tasks, final_temperature, steps):
    """``before_loop(step)`` for :meth:`JointTrainer.train`: sets the mixture
    temperature of ``tasks`` to ``final_temperature ** (step / steps)``,
    geometric from 1 at step 0 to ``final_temperature`` at ``steps``."""

    def anneal(step):
        temperature = final_temperature ** (step / max(steps, 1))
        for task in tasks:
            model.path(task).temperature.assign(temperature)

    return anneal


def mixture_entropy_penalty(model, tasks, weight):
    """``JointTrainer``'s ``regularization``: ``weight`` times the summed mean
    mixture entropy of ``tasks`` (pushes every relaxed layer toward one
    block); None when ``weight`` is 0."""
    if not weight:
        return None
    return lambda: weight * sum(model.path(task).mixture_entropy() for task in tasks)
