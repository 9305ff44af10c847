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

from compose.core.layers import GRID_CELLS, pooled_features
from compose.search.scoring import ProgramScorer


def ridge_fit(features, labels, num_classes, ridge):
    """A ridge regression of ``[N, F]`` ``features`` onto one-hot ``labels``.

    Features are standardised by their own mean and standard deviation;
    ``ridge`` is relative: the penalty is ``ridge * N`` on every weight (not
    on the bias), so it does not depend on the number of examples.

    Returns:
      ``(kernel [F, classes], bias [classes])`` acting on the *raw* features
      (the standardisation folded in).
    """
    mean = tf.reduce_mean(features, axis=0)
    scale = tf.math.reduce_std(features, axis=0) + 1e-6
    standard = (features - mean) / scale
    design = tf.concat([standard, tf.ones([tf.shape(standard)[0], 1], standard.dtype)], axis=1)
    width = design.shape[-1]
    count = tf.cast(tf.shape(design)[0], design.dtype)
    penalty = tf.linalg.diag(tf.concat([tf.fill([width - 1], ridge * count), [0.0]], 0))
    targets = tf.one_hot(labels, num_classes, dtype=design.dtype)
    weights = tf.linalg.solve(
        tf.matmul(design, design, transpose_a=True) + penalty,
        tf.matmul(design, targets, transpose_a=True),
    )
    kernel = weights[:-1] / scale[:, None]
    return kernel, weights[-1] - tf.linalg.matvec(kernel, mean, transpose_a=True)


def ridge_predictions(fit_features, fit_labels, features, num_classes, ridge):
    """Class predictions for ``features`` of :func:`ridge_fit` on the fit set."""
    kernel, bias = ridge_fit(fit_features, fit_labels, num_classes, ridge)
    return tf.argmax(tf.matmul(features, kernel) + bias, axis=-1, output_type=tf.int32)


class ClosedFormScorer(ProgramScorer):
    """Held-out accuracy of a ridge probe on each candidate's features.

    Args:
      model: a :class:`compose.ComposedModel` holding ``task`` (its head is not used).
      task: the task whose programs are scored.
      fit: the :class:`tasks.Split` the probe is fitted on.
      held_out: the :class:`tasks.Split` that scores it (held out of training).
      ridge: relative ridge penalty (see :func:`ridge_predictions`).
      grid: pooling grid (1: the global average only).  The default, the grid
        head's 2 (:data:`compose.core.layers.GRID_CELLS`), also
        pools a 2x2 grid: on MNIST from Fashion-MNIST the program it chose
        trained to 0.81-0.84 where the global-average probe's chose 0.70
        (one seed each, validation split).
      candidates_per_call: most programs per call (bounds the memory held).
    """

    def __init__(
        self, model, task, fit, held_out, ridge=1e-2, grid=GRID_CELLS, candidates_per_call=4
    ):
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


LOGIT_SCALES = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
"""Scales tried for a closed-form classifier's logits (see :func:`fit_classifier`)."""


def fit_classifier(model, task, split, ridge=1e-2, batch_size=256) -> float:
    """Sets ``task``'s classifier (the head's last dense layer) to the ridge
    solution on the features ``split``'s images reach it with; returns its
    accuracy on ``split``.

    A new task's head then starts where the closed-form score judged its
    program, instead of at a random classifier that a short training run
    cannot bring there (MNIST from Fashion-MNIST, 150 steps: 0.55 trained
    from random against 0.86 for the ridge probe that chose the program).
    Ridge regression onto one-hot labels gives logits of scale about 1,
    which cross-entropy reads as unsure, so the solution is multiplied by the
    scale of :data:`LOGIT_SCALES` with the lowest cross-entropy on ``split``
    (argmax, hence accuracy, unchanged).
    """
    features = tf.concat(
        [
            model.features(task, split.images[start : start + batch_size])
            for start in range(0, len(split), batch_size)
        ],
        axis=0,
    )
    num_classes = model.path(task).spec.num_classes
    kernel, bias = ridge_fit(features, split.labels, num_classes, ridge)
    logits = tf.matmul(features, kernel) + bias
    losses = [
        float(
            tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(split.labels, scale * logits)
            )
        )
        for scale in LOGIT_SCALES
    ]
    scale = LOGIT_SCALES[int(np.argmin(losses))]
    classifier = model.path(task).head.logits
    classifier.kernel.assign(scale * kernel)
    classifier.bias.assign(scale * bias)
    hits = tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), split.labels)
    return float(tf.reduce_mean(tf.cast(hits, tf.float32)))
