"""Scoring candidate programs for a task with no trained head: a ridge probe per candidate.

For a new task, the head is what training would fit, so a candidate program
is judged by how linearly separable its features are: the task's images run
through the stem and the candidate over the frozen bank (normalisation
statistics re-estimated on these images: their own moments), the
normalised, rectified bank output is pooled (globally, and over a 2x2 grid
with ``grid=2``), standardised, and a ridge regression onto one-hot labels is
solved in closed form on the first ``fit`` examples (one linear solve per
candidate); the score is its accuracy on the held-out rest.  Labels of the
held-out examples are read only to score.  This is the "cheap performance
proxy" used to pick experts for transfer (../shared/DESIGN.md §6).

It plugs into the one-trace batched scorer: candidates are a tensor argument,
scored in parallel by ``tf.map_fn``.
"""

import types

import numpy as np
import tensorflow as tf

from compose.search.scoring import ProgramScorer


def pooled_features(bank_features, grid=1):
    """``[N, H, W, C]`` -> ``[N, C]`` global means, plus ``[N, grid*grid*C]`` cell means."""
    pooled = [tf.reduce_mean(bank_features, axis=[1, 2])]
    if grid > 1:
        cells = tf.image.resize(bank_features, [grid, grid], method="area")
        pooled.append(tf.reshape(cells, [tf.shape(cells)[0], -1]))
    return tf.concat(pooled, axis=-1)


def ridge_predictions(fit_features, fit_labels, features, num_classes, ridge):
    """Class predictions for ``features`` of a ridge regression onto one-hot
    ``fit_labels``, on features standardised by the fit set's moments.

    ``ridge`` is relative: the penalty is ``ridge * len(fit)`` on every weight
    (not on the bias), so it does not depend on the fit set's size.
    """
    mean = tf.reduce_mean(fit_features, axis=0)
    scale = tf.math.reduce_std(fit_features, axis=0) + 1e-6

    def design(x):
        x = (x - mean) / scale
        return tf.concat([x, tf.ones([tf.shape(x)[0], 1], x.dtype)], axis=1)

    fit = design(fit_features)
    width = fit.shape[-1]
    count = tf.cast(tf.shape(fit)[0], fit.dtype)
    penalty = tf.linalg.diag(tf.concat([tf.fill([width - 1], ridge * count), [0.0]], 0))
    targets = tf.one_hot(fit_labels, num_classes, dtype=fit.dtype)
    weights = tf.linalg.solve(
        tf.matmul(fit, fit, transpose_a=True) + penalty, tf.matmul(fit, targets, transpose_a=True)
    )
    return tf.argmax(tf.matmul(design(features), weights), axis=-1, output_type=tf.int32)


class ClosedFormScorer(ProgramScorer):
    """Held-out accuracy of a ridge probe on each candidate's features.

    Args:
      model: a :class:`compose.ComposedModel` holding ``task`` (its head is not used).
      task: the task whose programs are scored.
      fit: the :class:`tasks.Split` the probe is fitted on.
      held_out: the :class:`tasks.Split` that scores it (held out of training).
      ridge: relative ridge penalty (see :func:`ridge_predictions`).
      grid: pooling grid (1: global average only, what the linear head reads).
      candidates_per_call: most programs per call (bounds the memory held).
    """

    def __init__(self, model, task, fit, held_out, ridge=1e-2, grid=2, candidates_per_call=4):
        both = types.SimpleNamespace(
            images=np.concatenate([fit.images, held_out.images]),
            labels=np.concatenate([fit.labels, held_out.labels]),
        )
        super().__init__(model, task, both, candidates_per_call)
        self.fit_count = len(fit)
        self.ridge = ridge
        self.grid = grid
        self.num_classes = model.path(task).spec.num_classes

    def features(self, program):
        """``[N, F]`` pooled features of the fit then held-out images under ``program``."""
        return pooled_features(self.candidate_output(program).bank_features, self.grid)

    def _score(self, program):
        features = self.features(program)
        labels = self.labels
        predicted = ridge_predictions(
            features[: self.fit_count],
            labels[: self.fit_count],
            features[self.fit_count :],
            self.num_classes,
            self.ridge,
        )
        hits = tf.equal(predicted, labels[self.fit_count :])
        return tf.reduce_mean(tf.cast(hits, tf.float32))
