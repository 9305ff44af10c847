"""A same-run reference rate, so speeds measured on different processors compare.

Flag-free, so every benchmark binary can import it without redefining flags.
"""

import time

import numpy as np
import tensorflow as tf


def matmul_gflop_s(size=2048, repeats=5) -> float:
    """fp32 ``size x size`` matmul rate in GFLOP/s, median of ``repeats``."""
    # Stateless, so the rate can be taken after op determinism is enabled.
    a = tf.random.stateless_normal([size, size], seed=[0, 0])
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
