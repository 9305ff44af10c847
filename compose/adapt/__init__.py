"""Unsupervised domain adaptation by re-ordering the frozen bank.

A model trained on labelled *source* domains (tasks) meets an unlabelled
*target* domain.  The target is added as a new task that starts as a copy of
one source task (its program, stem, normalisation and head): that copy,
unchanged, is the "source only" baseline.  Adaptation then changes only the
target's program (and, optionally, its stem): the program is relaxed near the
source program (:func:`compose.relaxation.relax_near`), trained on unlabelled
target images against one objective, annealed and discretised by argmax.
Target labels are never read here; callers use them only to evaluate.

Objectives, each on the late features (the head's pooled input, ``[B, C]``):

``moments``
  match the per-feature mean and standard deviation of target batches to
  those of source batches;
``adversarial``
  fool a domain discriminator (a small MLP) trained beside it to tell
  source features from target features;
``entropy``
  minimise the entropy of the target predictions of the source head.

Running the target's images in training mode also moves its normalisation
statistics to the target; so that this known effect (AdaBN) is not credited
to the program, :func:`adapt_domain` also reports ``target_statistics``: the
source program with statistics re-estimated on the target and nothing else.
"""

import dataclasses
import time

import keras
import numpy as np
import tensorflow as tf

from compose.continual import add_task, copy_task_weights
from compose.relaxation import annealer, relax_near
from compose.seeds import derive_seed

OBJECTIVES = ("moments", "adversarial", "entropy")


@dataclasses.dataclass(frozen=True)
class AdaptOptions:
    """How the target's program is adapted."""

    objective: str = "moments"
    steps: int = 400
    batch_size: int = 64
    learning_rate: float = 2e-3
    """MNIST to USPS, entropy with the stem: 0.916 at 2e-3, 0.890 at 1e-2."""
    final_temperature: float = 0.05
    """Mixture temperature at discretisation (annealed from 1.0)."""
    source_logit: float = 2.0
    """Initial mixture logit of the source program's block at each layer."""
    train_stem: bool = False
    """Also adapt the target's stem (its input adapter)."""
    statistics_batches: int = 50
    """Training-mode batches that re-estimate the target's normalisation
    statistics (momentum 0.9: 50 batches leave 0.5% of the old values)."""
    seed: int = 0

    def __post_init__(self):
        checks = [
            (
                self.objective in OBJECTIVES,
                f"objective must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}",
            ),
            (self.steps >= 1, f"steps must be >= 1, got {self.steps}"),
            (self.batch_size >= 2, f"batch_size must be >= 2, got {self.batch_size}"),
            (self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}"),
            (self.final_temperature > 0, "final_temperature must be > 0"),
            (self.statistics_batches >= 1, "statistics_batches must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"adapt: {message}")


def copy_source_task(model, spec, source_task):
    """``model`` plus the task ``spec``, a copy of ``source_task`` in all but
    name: the source-only baseline, and where adaptation starts.

    Raises:
      LookupError: ``source_task`` is not a task of ``model``.
      ValueError: the target's image channels or classes differ from the
        source's (its stem and head could not be copied).
    """
    source = model.path(source_task)
    if source.spec.image_shape[-1] != spec.image_shape[-1]:
        raise ValueError(
            f"target {spec.name!r} has {spec.image_shape[-1]} image channels, source "
            f"{source_task!r} has {source.spec.image_shape[-1]}: the stem cannot be copied"
        )
    if source.spec.num_classes != spec.num_classes:
        raise ValueError(
            f"target {spec.name!r} has {spec.num_classes} classes, source {source_task!r} "
            f"has {source.spec.num_classes}: adaptation needs the same label set"
        )
    grown = add_task(model, spec, model.program(source_task))
    copy_task_weights(source, grown.path(spec.name))
    return grown


def refresh_statistics(model, task, images, batches, batch_size, seed=0):
    """Re-estimates ``task``'s normalisation statistics on ``images`` (no
    parameter changes): ``batches`` training-mode forward passes."""
    rng = np.random.default_rng(seed)

    @tf.function
    def forward(batch):
        model.call_task(task, batch, training=True)

    for _ in range(batches):
        forward(tf.constant(images[rng.choice(len(images), batch_size, replace=False)]))


def adapt_domain(
    model, spec, target_images, source_task, source_images, options=AdaptOptions(), verbose=True
):
    """Adapts a copy of ``source_task`` to the unlabelled target ``spec``.

    Args:
      model: a trained :class:`compose.ComposedModel` with hard programs; not
        modified.
      spec: the target's :class:`compose.TaskSpec`.
      target_images: unlabelled ``[N, H, W, C]`` uint8 target images.
      source_task: the task of ``model`` the target starts as.
      source_images: that task's images, the reference of the feature objectives.
      options: :class:`AdaptOptions`.
      verbose: a progress bar.

    Returns:
      ``(adapted model, report)``: the report holds the program found and
      the relaxed mixture it was discretised from.
    """
    started = time.time()
    grown = copy_source_task(model, spec, source_task)
    target = spec.name
    path = grown.path(target)
    source_program = grown.program(source_task)
    relax_near(grown, target, source_program, options.source_logit)
    variables = [path.mixture_logits]
    if options.train_stem:
        variables += path.stem.trainable_variables
    optimizer = keras.optimizers.Adam(options.learning_rate)
    optimizer.build(variables)
    objective = _objective(grown, target, options)

    @tf.function
    def step(target_batch, source_batch):
        source_features = grown.pooled_features(source_task, source_batch, training=False)
        with tf.GradientTape() as tape:
            target_features = grown.pooled_features(target, target_batch, training=True)
            loss = objective.loss(target_features, source_features)
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        objective.update(target_features, source_features)
        return loss

    rng = np.random.default_rng(options.seed)
    anneal = annealer(grown, [target], options.final_temperature, options.steps)
    progbar = keras.utils.Progbar(options.steps, verbose=1 if verbose else 0, unit_name="step")
    for index in range(options.steps):
        anneal(index)
        loss = step(
            tf.constant(target_images[rng.choice(len(target_images), options.batch_size)]),
            tf.constant(source_images[rng.choice(len(source_images), options.batch_size)]),
        )
        progbar.update(index + 1, [("loss", float(loss))])
    mixture = np.round(path.current_mixture(), 4).tolist()
    grown.discretise(target)
    refresh_statistics(
        grown, target, target_images, options.statistics_batches, options.batch_size, options.seed
    )
    report = {
        "objective": options.objective,
        "source_task": source_task,
        "source_program": source_program,
        "program": grown.program(target),
        "relaxed_mixture": mixture,
        "wall_s": round(time.time() - started, 1),
    }
    return grown, report


def _objective(model, target, options):
    if options.objective == "moments":
        return MomentMatching()
    if options.objective == "adversarial":
        return AdversarialAlignment(
            model.channels, options.learning_rate, derive_seed(options.seed, "discriminator")
        )
    return EntropyMinimisation(model.path(target).head.layers[-1])


class MomentMatching:
    """Squared distance between the feature means and standard deviations."""

    def loss(self, target_features, source_features):
        target_mean, target_variance = tf.nn.moments(target_features, axes=[0])
        source_mean, source_variance = tf.nn.moments(source_features, axes=[0])
        return tf.reduce_sum(tf.square(target_mean - source_mean)) + tf.reduce_sum(
            tf.square(tf.sqrt(target_variance + 1e-6) - tf.sqrt(source_variance + 1e-6))
        )

    def update(self, target_features, source_features):
        del target_features, source_features


class EntropyMinimisation:
    """Mean entropy of the target's predicted class distribution."""

    def __init__(self, classifier):
        self.classifier = classifier

    def loss(self, target_features, source_features):
        del source_features
        log_p = tf.nn.log_softmax(self.classifier(target_features), axis=-1)
        return -tf.reduce_mean(tf.reduce_sum(tf.exp(log_p) * log_p, axis=-1))

    def update(self, target_features, source_features):
        del target_features, source_features


class AdversarialAlignment:
    """A domain discriminator and the target's loss for fooling it.

    The target minimises the discriminator's cross-entropy on target
    features labelled *source* (the non-saturating GAN loss); after every
    step the discriminator takes one step of its own on both domains.
    """

    def __init__(self, channels, learning_rate, seed, hidden=64):
        self.discriminator = keras.Sequential(
            [
                keras.layers.Dense(
                    hidden,
                    activation="relu",
                    kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
                ),
                keras.layers.Dense(
                    1, kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 1)
                ),
            ],
            name="domain_discriminator",
        )
        self.discriminator.build((None, channels))
        self.optimizer = keras.optimizers.Adam(learning_rate)
        self.optimizer.build(self.discriminator.trainable_variables)

    def _cross_entropy(self, features, is_source):
        logits = self.discriminator(features)
        labels = tf.fill(tf.shape(logits), 1.0 if is_source else 0.0)
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels, logits))

    def loss(self, target_features, source_features):
        del source_features
        return self._cross_entropy(target_features, is_source=True)

    def update(self, target_features, source_features):
        variables = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            loss = self._cross_entropy(
                tf.stop_gradient(source_features), is_source=True
            ) + self._cross_entropy(tf.stop_gradient(target_features), is_source=False)
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
