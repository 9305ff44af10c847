"""Scoring candidate programs of one task by its trained head: validation accuracy, one trace.

A call scores up to ``candidates_per_call`` programs (IDENTITY-padded
``[P, L]`` int32, any P) on the whole validation split (``tf.map_fn``,
candidates in parallel).  The programs are a tensor argument, so one trace
serves every candidate of the model's maximum depth and any number per call.

Normalisation: the task's moving statistics were gathered under the program it
was trained with and do not describe another program's features, so every
candidate is normalised with the validation batch's own moments (its
statistics re-estimated, as AdaBN does).  Nothing in the model changes.
"""

import time

import numpy as np
import tensorflow as tf

from compose.core.program import pad_program, validate_program


class ProgramScorer:
    """Validation accuracy of candidate programs for ``task`` of ``model``.

    Args:
      model: a trained :class:`compose.ComposedModel`.
      task: the task whose programs are scored.
      split: the validation :class:`tasks.Split`.
      candidates_per_call: most programs per call (bounds the memory held).
    """

    def __init__(self, model, task, split, candidates_per_call=8):
        self.model = model
        self.task = task
        self.candidates_per_call = candidates_per_call
        self.images = tf.constant(split.images)
        self.labels = tf.constant(split.labels.astype(np.int32))
        self.evaluations = 0
        self.seconds = 0.0
        self._scores = tf.function(
            self._candidate_scores,
            input_signature=[tf.TensorSpec([None, model.depth], tf.int32)],
        )

    @property
    def traces(self) -> int:
        return self._scores.experimental_get_tracing_count()

    def candidate_output(self, program):
        """The task's :class:`compose.core.model.TaskOutput` under ``program``
        on the scoring images, with their own normalisation moments."""
        return self.model.forward(
            {self.task: self.images}, programs={self.task: program}, statistics="own"
        )[self.task]

    def _score(self, program):
        """One candidate's score, higher is better: here its accuracy by the
        task's head (subclasses score otherwise)."""
        logits = self.candidate_output(program).logits
        hits = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), self.labels)
        return tf.reduce_mean(tf.cast(hits, tf.float32))

    def _candidate_scores(self, programs):
        return tf.map_fn(
            self._score,
            programs,
            fn_output_signature=tf.float32,
            parallel_iterations=self.candidates_per_call,
        )

    def accuracy(self, programs) -> list[float]:
        """The score of each program (lists of block indices): the search's
        "accuracy", maximised."""
        rows = [
            pad_program(
                validate_program(self.task, p, self.model.bank_size, self.model.depth),
                self.model.depth,
            )
            for p in programs
        ]
        started = time.perf_counter()
        results = []
        for start in range(0, len(rows), self.candidates_per_call):
            group = rows[start : start + self.candidates_per_call]
            scores = self._scores(tf.constant(np.stack(group), tf.int32)).numpy()
            results.extend(float(score) for score in scores)
        self.seconds += time.perf_counter() - started
        self.evaluations += len(rows)
        return results
