"""A same-run reference rate, so speeds measured on different processors compare.

Flag-free, so every benchmark binary can import it without redefining flags.
"""

import time

import numpy as np
import tensorflow as tf


def matmul_gflop_s(size=2048, repeats=5) -> float:
    """fp32 ``size x size`` matmul rate in GFLOP/s, median of ``repeats``."""
    a = tf.random.normal([size, size])
    matmul = tf.function(lambda x: tf.matmul(x, x))
    matmul(a).numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(5):
            result = matmul(a)
        result.numpy()
        times.append((time.perf_counter() - start) / 5)
    return 2 * size**3 / float(np.median(times)) / 1e9
