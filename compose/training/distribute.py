"""A ``tf.distribute`` strategy from one string, as in the TF Model Garden."""

import tensorflow as tf

from compose.errors import InvalidInputError

STRATEGIES = ("off", "one_device", "mirrored", "multi_worker_mirrored", "tpu")


def get_strategy(name: str = "off", tpu: str | None = None) -> tf.distribute.Strategy:
    """Builds the strategy called ``name``.

    Args:
      name: ``off`` (the default strategy), ``one_device`` (first GPU, else
        CPU), ``mirrored`` (all local GPUs, or logical CPU devices),
        ``multi_worker_mirrored`` (workers from ``TF_CONFIG``), ``tpu``.
      tpu: TPU address for ``tpu`` (``""`` or ``local`` for a TPU VM).
    """
    name = name.lower()
    if name == "off":
        return tf.distribute.get_strategy()
    if name == "one_device":
        device = "/gpu:0" if tf.config.list_logical_devices("GPU") else "/cpu:0"
        return tf.distribute.OneDeviceStrategy(device)
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus or tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    if name == "multi_worker_mirrored":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise InvalidInputError(f"unknown strategy {name!r}; choose one of: {', '.join(STRATEGIES)}")
