"""The relaxed strategy: programs read from trained mixture logits (Compositional Models).

Unlike the discrete strategies it trains.  The task's program is learned
(``sampled``: hard forward passes, straight-through gradients) from logits
near the start program (:func:`compose.core.program.logits_near`), trained
alone on the task's *training* split, over the frozen bank and the task's
frozen stem, normalisation and head, while the temperature anneals.
Every ``score_every`` steps the argmax program is scored by the objective
(a program already scored costs nothing), until ``steps`` or the budget run
out.  Every variable of the task is restored afterwards, so, like the other
strategies, it leaves the model as it found it.
"""

import contextlib

import numpy as np
import tensorflow as tf

from compose.config import RelaxedOptions
from compose.core.program import logits_near
from compose.search.strategies import BudgetExhaustedError
from compose.training.objectives import Supervised
from compose.training.schedules import annealer
from compose.training.trainer import Trainer, build_optimizer


def relaxed_search(model, task, train, objective, start, seed=0, options=None):
    """Trains ``task``'s mixture logits from ``start``; scores argmax programs.

    The program length stays ``len(start)``.  Returns the objective's best
    candidate; ``objective.log`` holds every distinct argmax program in the
    order it first appeared.
    """
    options = options or RelaxedOptions()
    path = model.path(task)
    saved = [np.array(variable) for variable in path.variables]
    try:
        model.set_program(task, start)
        near = logits_near(start, model.depth, model.bank_size, options.source_logit)
        model.learn_program(task, "sampled", near)
        logits = path.mixture_logits
        trainer = Trainer(
            model,
            build_optimizer("adam", options.learning_rate, [logits]),
            tf.distribute.get_strategy(),
            {task: train},
            [Supervised(task)],
            batch_size=options.batch_size,
            seed=seed,
            steps_per_loop=options.score_every,
            variables=[logits],
        )
        anneal = annealer(model, [task], options.final_temperature, options.steps)

        def argmax_program():
            return np.argmax(np.asarray(logits)[: len(start)], axis=-1).tolist()

        with contextlib.suppress(BudgetExhaustedError):
            objective.evaluate([list(start)])
            for until in range(options.score_every, options.steps + 1, options.score_every):
                trainer.train(until, verbose=False, before_loop=anneal)
                objective.evaluate([argmax_program()])
    finally:
        for variable, value in zip(path.variables, saved, strict=True):
            variable.assign(value)
    return objective.best()
