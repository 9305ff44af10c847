"""Unsupervised domain adaptation by choosing the order of a frozen bank's blocks.

A model trained on labelled *source* domains (tasks) meets an unlabelled
*target* domain.  The target is added as a new task that starts as a copy of
one source task (its program, stem, normalisation and head): that copy,
unchanged, is the "source only" baseline; with its normalisation statistics
re-estimated on target images it is the "target statistics" (AdaBN)
baseline.  Adaptation then *chooses the target's program* by discrete search
over the bank, scoring every candidate without target labels, with the
target's statistics re-estimated for each candidate (its own moments on the
scored images):

``moments``
  the distance between the mean and standard deviation of the target's late
  features (the head's input) and those of the source task's own images
  under its own program;
``entropy``
  the mean entropy of the source head's predictions on the target.

The candidates start from every source task's program and some random ones.
The chosen program's statistics are then re-estimated on the target images;
optionally (``stem_steps``) the stem also trains on the same objective
through :class:`compose.training.Trainer`.  Target labels are never read
here; callers use them only to evaluate.
"""

import time
import types

import numpy as np
import tensorflow as tf

from compose.config import AdaptOptions
from compose.core.statistics import refresh_statistics, statistics_subset
from compose.errors import InvalidInputError
from compose.grow.continual import add_task
from compose.search import ProgramScorer, search_from_starts
from compose.seeds import derive_seed
from compose.training.objectives import (
    FeatureMoments,
    PredictionEntropy,
    moment_distance,
    prediction_entropy,
)
from compose.training.trainer import Trainer, build_optimizer

OBJECTIVES = ("moments", "entropy")


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
        raise InvalidInputError(
            f"target {spec.name!r} has {spec.image_shape[-1]} image channels, source "
            f"{source_task!r} has {source.spec.image_shape[-1]}: the stem cannot be copied"
        )
    if source.spec.num_classes != spec.num_classes:
        raise InvalidInputError(
            f"target {spec.name!r} has {spec.num_classes} classes, source {source_task!r} "
            f"has {source.spec.num_classes}: adaptation needs the same label set"
        )
    grown = add_task(model, spec, model.program(source_task))
    grown.path(spec.name).copy_from(source, ("stem", "norm", "head"))
    return grown


class UnsupervisedScorer(ProgramScorer):
    """The negated label-free loss of each candidate target program (higher is better).

    Args:
      model: the model holding ``target`` (a copy of the source task).
      target: the target task.
      images: unlabelled target images to score on.
      objective: one of :data:`OBJECTIVES`.
      reference: ``[N, F]`` source features (``moments``).
    """

    def __init__(self, model, target, images, objective, reference=None, candidates_per_call=4):
        unlabelled = types.SimpleNamespace(images=images, labels=np.zeros(len(images), np.int32))
        super().__init__(model, target, unlabelled, candidates_per_call)
        self.objective = objective
        self.reference = None if reference is None else tf.constant(reference)

    def _score(self, program):
        output = self.candidate_output(program)
        if self.objective == "moments":
            return -moment_distance(output.features, self.reference)
        return -tf.reduce_mean(prediction_entropy(output.logits))


def adapt_domain(
    model, spec, target_images, source_task, source_images, options=None, verbose=True
):
    """Adapts a copy of ``source_task`` to the unlabelled target ``spec``.

    Args:
      model: a trained :class:`compose.ComposedModel` with hard programs; not
        modified.
      spec: the target's :class:`compose.TaskSpec`.
      target_images: unlabelled ``[N, H, W, C]`` uint8 target images.
      source_task: the task of ``model`` the target starts as.
      source_images: that task's images, the reference of ``moments``.
      options: :class:`AdaptOptions`.
      verbose: progress output.

    Returns:
      ``(adapted model, report)``: the report holds the program found, the
      source's, whether it changed, both programs' label-free scores and the
      candidates scored.
    """
    options = options or AdaptOptions()
    started = time.time()
    grown = copy_source_task(model, spec, source_task)
    target = spec.name
    source_program = grown.program(source_task)
    scored = statistics_subset(target_images, options.scored_images, options.seed)
    reference = None
    if options.objective == "moments":
        reference_images = statistics_subset(source_images, options.scored_images, options.seed)
        reference = grown.features(source_task, tf.constant(reference_images)).numpy()
    scorer = UnsupervisedScorer(grown, target, scored, options.objective, reference)
    best, log = search_from_starts(grown, target, scorer, options, "adapt", [source_program])
    grown.set_program(target, list(best.program))
    refresh_statistics(grown, target, target_images, seed=options.seed)
    source_score = next(c.accuracy for c in log if list(c.program) == source_program)
    if verbose:
        print(
            f"  {options.objective}: program {list(best.program)} (score {best.accuracy:.4f}; "
            f"source's {source_program}: {source_score:.4f}), {len(log)} candidates",
            flush=True,
        )
    if options.stem_steps:
        _train_stem(grown, target, target_images, source_task, source_images, options, verbose)
    report = {
        "objective": options.objective,
        "source_task": source_task,
        "source_program": source_program,
        "program": grown.program(target),
        "program_changed": grown.program(target) != source_program,
        "score": best.accuracy,
        "source_score": source_score,
        "candidates_scored": len(log),
        "stem_steps": options.stem_steps,
        "wall_s": round(time.time() - started, 1),
    }
    return grown, report


def _train_stem(model, target, target_images, source_task, source_images, options, verbose):
    """Trains ``target``'s stem on the unsupervised objective, nothing else."""
    from tasks import Split  # the data container; tasks never imports this module

    variables = model.path(target).stem.trainable_variables
    objective = (
        FeatureMoments(target, source_task)
        if options.objective == "moments"
        else PredictionEntropy(target)
    )
    unlabelled = Split(target_images, np.zeros(len(target_images), np.int32))
    inputs = {target: unlabelled}
    if options.objective == "moments":
        inputs[source_task] = Split(source_images, np.zeros(len(source_images), np.int32))
    Trainer(
        model,
        build_optimizer("adam", options.learning_rate, variables),
        tf.distribute.get_strategy(),
        inputs,
        [objective],
        batch_size=options.batch_size,
        seed=derive_seed(options.seed, "adapt_stem"),
        variables=variables,
    ).train(options.stem_steps, verbose=verbose)
