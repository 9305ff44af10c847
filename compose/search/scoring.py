"""Scoring candidate programs of one task: validation accuracy, one trace.

A call scores up to ``candidates_per_call`` programs (IDENTITY-padded
``[P, L]`` int32, any P) on the whole validation split: the task's stem runs
once, then each candidate's bank pass and head (``tf.map_fn``, candidates in
parallel).  The programs are a tensor argument, so one trace serves every
candidate of the model's maximum depth and any number per call.

Normalisation: the task's moving statistics were gathered under the program it
was trained with and do not describe another program's features, so a
candidate's bank layers and head are normalised with the validation batch's
own moments (as AdaBN does); the stem, which no program changes, uses its
moving statistics.  Nothing in the model changes.
"""

import time

import numpy as np
import tensorflow as tf
from keras import ops

from compose.program import IDENTITY, pad_program, validate_program


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
        self.path = model.path(task)
        self.candidates_per_call = candidates_per_call
        self.images = tf.constant(split.images)
        self.labels = tf.constant(split.labels.astype(np.int32))
        self.evaluations = 0
        self.seconds = 0.0
        depth = model.depth
        self._correct = tf.function(
            self._correct_counts,
            input_signature=[tf.TensorSpec([None, depth], tf.int32)],
        )

    @property
    def traces(self) -> int:
        return self._correct.experimental_get_tracing_count()

    def _correct_counts(self, programs):
        features = self.path.stem(self.images, training=False)

        def correct(program):
            mixture = ops.one_hot(program, self.model.bank_size)
            active = ops.cast(ops.not_equal(program, IDENTITY), "float32")
            x = self.model.bank.run(
                features, mixture, active, self.path.norm.normalize_with_own_moments
            )
            logits = self.path.head_with_batch_statistics(x)
            hits = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), self.labels)
            return tf.reduce_sum(tf.cast(hits, tf.int32))

        return tf.map_fn(
            correct,
            programs,
            fn_output_signature=tf.int32,
            parallel_iterations=self.candidates_per_call,
        )

    def accuracy(self, programs) -> list[float]:
        """Validation accuracy of each program (lists of block indices)."""
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
            counts = self._correct(tf.constant(np.stack(group), tf.int32)).numpy()
            results.extend(float(c) / len(self.labels) for c in counts)
        self.seconds += time.perf_counter() - started
        self.evaluations += len(rows)
        return results
