"""Self-organisation plots: a PNG and TensorBoard summaries from a model dir's JSON."""

import numpy as np
import tensorflow as tf

from compose.plots import one_hot_program, write_program_plots


def test_one_hot_program_leaves_identity_layers_empty():
    grid = one_hot_program([2, 0], depth=3, bank_size=3)
    np.testing.assert_array_equal(grid, [[0, 0, 1], [1, 0, 0], [0, 0, 0]])


def test_plots_written_as_png_and_tensorboard_image(tmp_path):
    programs = {
        "bank_size": 3,
        "depth": 4,
        "programs": {
            "a": {"program": [0, 2, 2], "text": "0 -> 2 -> 2"},
            "b": {"program": [1, 1, 0, 2], "text": "1 -> 1 -> 0 -> 2"},
        },
    }
    mixture = np.full((4, 3), 1 / 3).round(4).tolist()
    discretisation = {"a": {"relaxed_mixture": mixture}}
    path = write_program_plots(str(tmp_path), programs, discretisation, step=7)
    png = (tmp_path / "programs.png").read_bytes()
    assert path == str(tmp_path / "programs.png") and png[:8] == b"\x89PNG\r\n\x1a\n"
    height, width = tf.image.decode_png(png).shape[:2]
    assert width > height > 100  # two task columns, two rows of panels

    tags = {}
    for event_file in (tmp_path / "plots").iterdir():
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            for value in event.summary.value:
                tags[value.tag] = event.step
    assert tags == {"programs": 7, "program/a": 7, "program/b": 7}
