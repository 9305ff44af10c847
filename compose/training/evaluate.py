"""Test accuracy and loss of tasks, in inference mode."""

import keras
import numpy as np
import tensorflow as tf

from compose.tracing import per_model_function


def evaluate(model, splits, batch_size=500, max_examples=None) -> dict[str, dict[str, float]]:
    """Accuracy and mean cross-entropy of every task of ``splits`` ``{task: Split}``.

    ``max_examples`` evaluates only each split's first examples (a fixed
    subset, for diagnostics that should cost seconds).  The last batch is
    zero-padded to ``batch_size``, so each (model, task) traces once however
    often it is evaluated.
    """
    results = {}
    for task, split in splits.items():
        count_all = len(split) if max_examples is None else min(len(split), max_examples)
        correct, loss = 0, 0.0
        for start in range(0, count_all, batch_size):
            count = min(batch_size, count_all - start)
            padded = [
                np.pad(
                    array[start : start + count],
                    [(0, batch_size - count)] + [(0, 0)] * (array.ndim - 1),
                )
                for array in (split.images, split.labels)
            ]
            hits, losses = _correct_and_loss(model, task, *map(tf.constant, padded))
            correct += int(np.sum(hits.numpy()[:count]))
            loss += float(np.sum(losses.numpy()[:count], dtype=np.float64))
        results[task] = {"accuracy": correct / count_all, "loss": loss / count_all}
    return results


def evaluate_program(model, task, program, train_images, split, batch_size=500) -> dict:
    """:func:`evaluate` of ``task`` on ``split`` as the model would run with
    ``program``: statistics re-estimated on ``train_images`` for it
    (:func:`compose.core.statistics.refresh_statistics`).  The model is left
    as it was (its programs and statistics are restored)."""
    from compose.core.statistics import refresh_statistics

    saved = [np.array(v) for v in model.non_trainable_variables]
    try:
        model.set_program(task, list(program))
        refresh_statistics(model, task, train_images)
        return evaluate(model, {task: split}, batch_size)[task]
    finally:
        for variable, value in zip(model.non_trainable_variables, saved, strict=True):
            variable.assign(value)


def _correct_and_loss_of(model, task, images, labels):
    logits = model.call_task(task, images, training=False)
    correct = tf.equal(tf.argmax(logits, -1, output_type=labels.dtype), labels)
    loss = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    return correct, loss


_correct_and_loss = per_model_function(_correct_and_loss_of)
